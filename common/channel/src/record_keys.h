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

  absl::StatusOr<Bytes> NextSecret() const;
  size_t tag_size() const;

 private:
  RecordKeys() = default;
  v1::CipherSuite suite_ = v1::CIPHER_SUITE_UNSPECIFIED;
  Bytes secret_;
  Bytes iv_;  // 12 bytes
  std::optional<crypto::Sm4Ctr> ctr_;
  std::optional<crypto::HmacSm3> mac_;
  std::optional<crypto::Sm4Gcm> gcm_;
};

}  // namespace beibu::channel::internal
