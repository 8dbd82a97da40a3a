// The CSPRNG (OpenSSL's DRBG) and constant-time comparison.
#pragma once

#include <span>

#include "absl/status/status.h"
#include "beibu/crypto/bytes.h"

namespace beibu::crypto {

// Fills `out` from the DRBG. Fails only if the DRBG cannot be seeded.
absl::Status FillRandom(std::span<uint8_t> out);
// `n` random bytes; aborts the process if the DRBG is broken, since nothing
// secure can be done without one.
Bytes RandomBytes(size_t n);

// True when a and b have equal length and content. Time depends only on the
// lengths, never on where the contents differ.
bool ConstantTimeEquals(ByteView a, ByteView b);

}  // namespace beibu::crypto
