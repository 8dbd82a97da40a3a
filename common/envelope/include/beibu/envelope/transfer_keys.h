// Per-transfer keys derived from the epoch secret of two edges.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm2.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::envelope {

inline constexpr size_t kTransferEncKeySize = 16;  // SM4
inline constexpr size_t kTransferMacKeySize = 32;  // HMAC-SM3
// HKDF salt of the epoch PRK.
inline constexpr std::string_view kE2eSalt = "beibu e2e v1";

struct TransferKeys {
  Bytes enc_key;  // 16 bytes
  Bytes mac_key;  // 32 bytes
};

// What a transfer's keys are bound to. The roles are fixed (sender/recipient)
// so both edges derive the same keys.
struct TransferIds {
  std::string transfer_id;
  std::string from_edge;
  std::string to_edge;
  std::string sender_key_id;
  std::string recipient_key_id;
};

TransferIds TransferIdsOf(const v1::EnvelopeHeader& header);

// Epoch PRK = HKDF-SM3-Extract(salt = "beibu e2e v1", ikm = x-coordinate of
// own_share x peer_point). One SM2-curve operation; cache it (EpochSecretCache).
// INVALID_ARGUMENT if peer_point is not a point on the SM2 curve.
absl::StatusOr<Bytes> DeriveEpochPrk(const crypto::Sm2KeyShare& own_share, ByteView peer_point);

// keys = HKDF-SM3-Expand(prk, info, 48): enc_key = bytes 0..15, mac_key =
// bytes 16..47, where
//   info = "transfer" || u32 len || transfer_id || u32 len || from_edge ||
//          u32 len || to_edge || u32 len || sender_key_id ||
//          u32 len || recipient_key_id          (u32 big-endian lengths)
// Symmetric crypto only. INVALID_ARGUMENT if an id is empty.
absl::StatusOr<TransferKeys> DeriveTransferKeysFromPrk(ByteView prk, const TransferIds& ids);

// Both steps at once. The sender passes its own epoch share and the
// recipient's published point; the recipient its own share and the sender's.
absl::StatusOr<TransferKeys> DeriveTransferKeys(const crypto::Sm2KeyShare& own_share,
                                                ByteView peer_point, const TransferIds& ids);

}  // namespace beibu::envelope
