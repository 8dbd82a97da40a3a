// SM3 (GB/T 32905-2016) hashing and HMAC-SM3.
#pragma once

#include <array>
#include <memory>

#include "beibu/crypto/bytes.h"

namespace beibu::crypto {

inline constexpr size_t kSm3Size = 32;
using Sm3Digest = std::array<uint8_t, kSm3Size>;

// Incremental SM3. After Final() the object is reset and may hash again.
class Sm3 {
 public:
  Sm3();
  ~Sm3();
  Sm3(Sm3&&) noexcept;
  Sm3& operator=(Sm3&&) noexcept;

  Sm3& Update(ByteView data);
  Sm3Digest Final();

  static Sm3Digest Hash(ByteView data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HMAC (RFC 2104) with SM3. The key is fixed at construction; Final() resets
// to the keyed initial state so the object can MAC the next message.
class HmacSm3 {
 public:
  explicit HmacSm3(ByteView key);
  ~HmacSm3();
  HmacSm3(HmacSm3&&) noexcept;
  HmacSm3& operator=(HmacSm3&&) noexcept;

  HmacSm3& Update(ByteView data);
  Sm3Digest Final();

  static Sm3Digest Mac(ByteView key, ByteView data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::crypto
