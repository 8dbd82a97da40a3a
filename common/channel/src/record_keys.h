// Per-epoch record keys of one direction, derived from its traffic secret.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "beibu/channel/record.h"
#include "beibu/crypto/crypto.h"
#include "beibu/v1/channel.pb.h"

namespace beibu::channel::internal {

// key = HKDF-Expand(secret, "bbsc1 key", 16), iv = HKDF-Expand(secret, "bbsc1 iv", 12),
// mac = HKDF-Expand(secret, "bbsc1 mac", 32) (CTR suite only).
// next secret = HKDF-Expand(secret, "bbsc1 key update", 32).
class RecordKeys {
 public:
  static absl::StatusOr<RecordKeys> Derive(v1::CipherSuite suite, ByteView secret);

  // Seals in place: `record` holds the 16-byte header, the payload and room
  // for the tag; encrypts the payload and writes the tag.
  absl::Status Seal(uint64_t sequence, std::span<uint8_t> record);
  // Verifies and decrypts record[16..16+len) into `out`.
  absl::Status Open(uint64_t sequence, ByteView record, std::span<uint8_t> out);

  // The keys of the next epoch (after a key update).
  absl::StatusOr<RecordKeys> Next() const;
  size_t tag_size() const;

 private:
  RecordKeys() = default;
  // 16 bytes: IV (12) with the big-endian sequence XORed into its last 8,
  // then a 32-bit block counter starting at 0 (CTR); GCM uses the first 12.
  void Nonce(uint64_t sequence, uint8_t out[16]) const;
  v1::CipherSuite suite_ = v1::CIPHER_SUITE_UNSPECIFIED;
  Bytes secret_;
  Bytes iv_;  // 12 bytes
  std::optional<crypto::Sm4Ctr> ctr_;
  std::optional<crypto::HmacSm3> mac_;
  std::optional<crypto::Sm4Gcm> gcm_;
};

}  // namespace beibu::channel::internal
