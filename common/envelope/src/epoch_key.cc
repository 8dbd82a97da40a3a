#include "beibu/envelope/epoch_key.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "wire.h"

namespace beibu::envelope {
namespace {

constexpr int64_t kNanosPerMilli = 1000000;
// Fields are length-prefixed with a u32; far below that, refuse silly sizes.
constexpr size_t kMaxEdgeIdSize = 1024;

absl::StatusOr<uint64_t> TimestampMillis(const google::protobuf::Timestamp& ts,
                                         std::string_view what) {
  if (ts.seconds() < 0 || ts.nanos() < 0 || ts.nanos() >= 1000000000 ||
      ts.nanos() % kNanosPerMilli != 0 ||
      ts.seconds() > std::numeric_limits<int64_t>::max() / 1000 - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "epoch key ", std::string(what),
        " must be a non-negative time in whole milliseconds, got seconds=", ts.seconds(),
        " nanos=", ts.nanos()));
  }
  return static_cast<uint64_t>(ts.seconds()) * 1000 +
         static_cast<uint64_t>(ts.nanos() / kNanosPerMilli);
}

void SetMillis(google::protobuf::Timestamp* ts, int64_t ms) {
  ts->set_seconds(ms / 1000);
  ts->set_nanos(static_cast<int32_t>((ms % 1000) * kNanosPerMilli));
}

}  // namespace

std::string EpochKeyId(ByteView public_point) {
  crypto::Sm3Digest d = crypto::Sm3::Hash(public_point);
  return HexEncode(ByteView(d.data(), 16));
}

absl::StatusOr<Bytes> EpochKeySigningBytes(const v1::EpochKey& key) {
  absl::StatusOr<uint64_t> nb = TimestampMillis(key.not_before(), "not_before");
  if (!nb.ok()) return nb.status();
  absl::StatusOr<uint64_t> na = TimestampMillis(key.not_after(), "not_after");
  if (!na.ok()) return na.status();
  if (key.edge_id().size() > kMaxEdgeIdSize || key.key_id().size() > kMaxEdgeIdSize ||
      key.public_key().size() > kMaxEdgeIdSize) {
    return absl::InvalidArgumentError("epoch key field longer than 1024 bytes");
  }
  Bytes out(kEpochKeyDomain.begin(), kEpochKeyDomain.end());
  internal::AppendField(out, key.edge_id());
  internal::AppendField(out, key.key_id());
  internal::AppendField(out, key.public_key());
  internal::AppendU64(out, *nb);
  internal::AppendU64(out, *na);
  return out;
}

absl::StatusOr<EpochKeyPair> EpochKeyPair::Generate(const crypto::Sm2PrivateKey& edge_key,
                                                    std::string_view edge_id, absl::Time not_before,
                                                    absl::Time not_after) {
  if (edge_id.empty()) return absl::InvalidArgumentError("epoch key needs an edge id");
  int64_t nb = absl::ToUnixMillis(not_before);
  int64_t na = absl::ToUnixMillis(not_after);
  if (nb < 0 || na <= nb) {
    return absl::InvalidArgumentError(
        "epoch key validity must start at or after 1970 and not_before must precede not_after");
  }
  absl::StatusOr<crypto::Sm2KeyShare> share = crypto::Sm2KeyShare::Generate();
  if (!share.ok()) return share.status();
  v1::EpochKey key;
  key.set_edge_id(std::string(edge_id));
  key.set_public_key(std::string(AsChars(share->public_point())));
  key.set_key_id(EpochKeyId(share->public_point()));
  SetMillis(key.mutable_not_before(), nb);
  SetMillis(key.mutable_not_after(), na);
  absl::StatusOr<Bytes> tbs = EpochKeySigningBytes(key);
  if (!tbs.ok()) return tbs.status();
  absl::StatusOr<Bytes> sig = edge_key.Sign(*tbs);
  if (!sig.ok()) return sig.status();
  key.set_signature(std::string(AsChars(*sig)));
  return EpochKeyPair{std::move(*share), std::move(key)};
}

absl::Status VerifyEpochKey(const v1::EpochKey& key, const crypto::Sm2PublicKey& edge_cert_key,
                            absl::Time now) {
  if (key.edge_id().empty()) return absl::InvalidArgumentError("epoch key has no edge id");
  absl::StatusOr<Bytes> tbs = EpochKeySigningBytes(key);
  if (!tbs.ok()) return tbs.status();
  ByteView point = AsBytes(key.public_key());
  if (point.size() != crypto::kSm2PointSize || point[0] != 0x04) {
    return absl::InvalidArgumentError(absl::StrCat(
        "epoch key ", key.key_id(), " of edge ", key.edge_id(),
        ": public_key must be a 65-byte uncompressed SM2 point, got ", point.size(), " bytes"));
  }
  // The curve check needs a key share to run against; a throwaway one is
  // cheap next to the signature check and keeps all EC code in beibu_crypto.
  absl::StatusOr<crypto::Sm2KeyShare> probe = crypto::Sm2KeyShare::Generate();
  if (!probe.ok()) return probe.status();
  if (absl::StatusOr<Bytes> s = probe->Derive(point); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("epoch key ", key.key_id(), " of edge ", key.edge_id(),
                     ": public_key is not a valid SM2 point: ", s.status().message()));
  }
  std::string expected_id = EpochKeyId(point);
  if (key.key_id() != expected_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("epoch key of edge ", key.edge_id(), ": key_id ", key.key_id(),
                     " does not match its public key (expected ", expected_id, ")"));
  }
  if (absl::Status s = edge_cert_key.Verify(*tbs, AsBytes(key.signature())); !s.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("epoch key ", key.key_id(), " is not signed by the certificate key of edge ",
                     key.edge_id(), " (", s.message(), "); fetch the edge's current certificate"));
  }
  int64_t now_ms = absl::ToUnixMillis(now);
  int64_t nb = key.not_before().seconds() * 1000 + key.not_before().nanos() / kNanosPerMilli;
  int64_t na = key.not_after().seconds() * 1000 + key.not_after().nanos() / kNanosPerMilli;
  if (now_ms < nb) {
    return absl::FailedPreconditionError(absl::StrCat(
        "epoch key ", key.key_id(), " of edge ", key.edge_id(), " is not yet valid (valid from ",
        absl::FormatTime(absl::FromUnixMillis(nb)), "); check the clocks"));
  }
  if (now_ms >= na) {
    return absl::FailedPreconditionError(
        absl::StrCat("epoch key ", key.key_id(), " of edge ", key.edge_id(), " expired at ",
                     absl::FormatTime(absl::FromUnixMillis(na)), "; fetch the edge's new key"));
  }
  return absl::OkStatus();
}

}  // namespace beibu::envelope
