#include "beibu/envelope/epoch_key.h"

#include <gtest/gtest.h>

#include "beibu/crypto/sm3.h"

namespace beibu::envelope {
namespace {

const absl::Time kStart = absl::FromUnixMillis(1790000000123);
const absl::Time kEnd = kStart + absl::Hours(24);
const absl::Time kMid = kStart + absl::Hours(1);

struct Fixture {
  crypto::Sm2PrivateKey edge = crypto::Sm2PrivateKey::Generate().value();
  EpochKeyPair pair = EpochKeyPair::Generate(edge, "edge-vn-1", kStart, kEnd).value();
};

TEST(EpochKey, GeneratedKeyVerifies) {
  Fixture f;
  EXPECT_EQ(f.pair.key.edge_id(), "edge-vn-1");
  EXPECT_EQ(f.pair.key.public_key(), std::string(AsChars(f.pair.share.public_point())));
  EXPECT_TRUE(VerifyEpochKey(f.pair.key, f.edge.PublicKey(), kMid).ok());
  EXPECT_TRUE(VerifyEpochKey(f.pair.key, f.edge.PublicKey(), kStart).ok());
}

TEST(EpochKey, KeyIdIsHexOfFirst16BytesOfSm3) {
  Fixture f;
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(f.pair.key.public_key()));
  EXPECT_EQ(f.pair.key.key_id(), HexEncode(ByteView(d.data(), 16)));
  EXPECT_EQ(f.pair.key.key_id().size(), 32u);
}

TEST(EpochKey, SignatureCoversTheDocumentedEncoding) {
  Fixture f;
  // Built independently of EpochKeySigningBytes from the layout in epoch_key.h.
  std::string tbs = "BBEK1";
  auto field = [&](const std::string& s) {
    uint32_t n = s.size();
    tbs += {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
    tbs += s;
  };
  auto u64 = [&](uint64_t v) {
    for (int sh = 56; sh >= 0; sh -= 8) tbs += char(v >> sh);
  };
  field(f.pair.key.edge_id());
  field(f.pair.key.key_id());
  field(f.pair.key.public_key());
  u64(1790000000123);
  u64(1790000000123 + 24 * 3600 * 1000);
  EXPECT_TRUE(f.edge.PublicKey().Verify(AsBytes(tbs), AsBytes(f.pair.key.signature())).ok());
}

TEST(EpochKey, WrongSignerRefused) {
  Fixture f;
  crypto::Sm2PrivateKey other = crypto::Sm2PrivateKey::Generate().value();
  absl::Status s = VerifyEpochKey(f.pair.key, other.PublicKey(), kMid);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
}

TEST(EpochKey, AlteredFieldsRefused) {
  Fixture f;
  v1::EpochKey k = f.pair.key;
  k.set_edge_id("edge-cn-1");
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kUnauthenticated);
  k = f.pair.key;
  k.mutable_not_after()->set_seconds(k.not_after().seconds() + 3600);
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kUnauthenticated);
  k = f.pair.key;
  k.mutable_not_before()->set_seconds(k.not_before().seconds() - 1);
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kUnauthenticated);
  k = f.pair.key;
  std::string sig = k.signature();
  sig[sig.size() / 2] ^= 1;
  k.set_signature(sig);
  EXPECT_NE(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kOk);
}

TEST(EpochKey, ReplacedPointWithMatchingIdIsStillUnsigned) {
  Fixture f;
  v1::EpochKey k = f.pair.key;
  crypto::Sm2KeyShare other = crypto::Sm2KeyShare::Generate().value();
  k.set_public_key(std::string(AsChars(other.public_point())));
  k.set_key_id(EpochKeyId(other.public_point()));
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kUnauthenticated);
}

TEST(EpochKey, ExpiredAndNotYetValid) {
  Fixture f;
  absl::Status expired = VerifyEpochKey(f.pair.key, f.edge.PublicKey(), kEnd);
  EXPECT_EQ(expired.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(expired.message().find("expired"), absl::string_view::npos) << expired;
  absl::Status early =
      VerifyEpochKey(f.pair.key, f.edge.PublicKey(), kStart - absl::Milliseconds(1));
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(early.message().find("not yet valid"), absl::string_view::npos) << early;
}

TEST(EpochKey, KeyIdMismatchRefused) {
  Fixture f;
  v1::EpochKey k = f.pair.key;
  k.set_key_id(std::string(32, '0'));
  absl::Status s = VerifyEpochKey(k, f.edge.PublicKey(), kMid);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("key_id"), absl::string_view::npos) << s;
}

TEST(EpochKey, BadPointRefused) {
  Fixture f;
  v1::EpochKey k = f.pair.key;
  std::string point = k.public_key();
  point[64] ^= 1;  // off the curve
  k.set_public_key(point);
  k.set_key_id(EpochKeyId(AsBytes(point)));
  absl::Status s = VerifyEpochKey(k, f.edge.PublicKey(), kMid);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not a valid SM2 point"), absl::string_view::npos) << s;

  k.set_public_key(point.substr(0, 33));
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kInvalidArgument);
}

TEST(EpochKey, MalformedTimestampsRefused) {
  Fixture f;
  v1::EpochKey k = f.pair.key;
  k.mutable_not_before()->set_nanos(1);  // sub-millisecond: would be unsigned
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kInvalidArgument);
  k = f.pair.key;
  k.mutable_not_after()->set_seconds(-5);
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kInvalidArgument);
  k = f.pair.key;
  k.clear_edge_id();
  EXPECT_EQ(VerifyEpochKey(k, f.edge.PublicKey(), kMid).code(), absl::StatusCode::kInvalidArgument);
}

TEST(EpochKey, GenerateRefusesBadInput) {
  crypto::Sm2PrivateKey edge = crypto::Sm2PrivateKey::Generate().value();
  EXPECT_EQ(EpochKeyPair::Generate(edge, "", kStart, kEnd).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EpochKeyPair::Generate(edge, "e", kEnd, kStart).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace beibu::envelope
