#include "beibu/envelope/transfer_keys.h"

#include "absl/strings/str_cat.h"
#include "beibu/crypto/kdf.h"
#include "wire.h"

namespace beibu::envelope {
namespace {

constexpr std::string_view kTransferLabel = "transfer";
constexpr size_t kMaxIdSize = 1024;

}  // namespace

TransferIds TransferIdsOf(const v1::EnvelopeHeader& header) {
  return TransferIds{header.transfer_id(), header.from_edge(), header.to_edge(),
                     header.sender_key_id(), header.recipient_key_id()};
}

absl::StatusOr<Bytes> DeriveEpochPrk(const crypto::Sm2KeyShare& own_share, ByteView peer_point) {
  absl::StatusOr<Bytes> secret = own_share.Derive(peer_point);
  if (!secret.ok()) return secret.status();
  absl::StatusOr<Bytes> prk = crypto::HkdfSm3Extract(AsBytes(kE2eSalt), *secret);
  std::fill(secret->begin(), secret->end(), 0);
  return prk;
}

absl::StatusOr<TransferKeys> DeriveTransferKeysFromPrk(ByteView prk, const TransferIds& ids) {
  const std::pair<std::string_view, const std::string*> fields[] = {
      {"transfer_id", &ids.transfer_id},
      {"from_edge", &ids.from_edge},
      {"to_edge", &ids.to_edge},
      {"sender_key_id", &ids.sender_key_id},
      {"recipient_key_id", &ids.recipient_key_id}};
  Bytes info(kTransferLabel.begin(), kTransferLabel.end());
  for (const auto& [name, value] : fields) {
    if (value->empty() || value->size() > kMaxIdSize) {
      return absl::InvalidArgumentError(absl::StrCat("transfer key derivation needs a ",
                                                     std::string(name), " of 1 to 1024 bytes, got ",
                                                     value->size()));
    }
    internal::AppendField(info, *value);
  }
  absl::StatusOr<Bytes> okm =
      crypto::HkdfSm3Expand(prk, info, kTransferEncKeySize + kTransferMacKeySize);
  if (!okm.ok()) return okm.status();
  TransferKeys keys;
  keys.enc_key.assign(okm->begin(), okm->begin() + kTransferEncKeySize);
  keys.mac_key.assign(okm->begin() + kTransferEncKeySize, okm->end());
  std::fill(okm->begin(), okm->end(), 0);
  return keys;
}

absl::StatusOr<TransferKeys> DeriveTransferKeys(const crypto::Sm2KeyShare& own_share,
                                                ByteView peer_point, const TransferIds& ids) {
  absl::StatusOr<Bytes> prk = DeriveEpochPrk(own_share, peer_point);
  if (!prk.ok()) return prk.status();
  return DeriveTransferKeysFromPrk(*prk, ids);
}

}  // namespace beibu::envelope
