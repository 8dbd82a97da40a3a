// SM3-based key derivation.
#pragma once

#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"

namespace beibu::crypto {

// The KDF of GB/T 32918.4-2016 §5.4.3 (SM2's KDF): SM3(Z || counter_be32 ||
// shared_info) concatenated, counter from 1. Identical to ANSI X9.63 with SM3,
// which is how it is computed (EVP_KDF "X963KDF").
absl::StatusOr<Bytes> Sm3Kdf(ByteView z, ByteView shared_info, size_t length);

// HKDF (RFC 5869) with HMAC-SM3, used by the secure channel's key schedule.
absl::StatusOr<Bytes> HkdfSm3Extract(ByteView salt, ByteView ikm);
absl::StatusOr<Bytes> HkdfSm3Expand(ByteView prk, ByteView info, size_t length);

}  // namespace beibu::crypto
