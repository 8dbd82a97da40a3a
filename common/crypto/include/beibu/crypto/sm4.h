// SM4 (GB/T 32907-2016) block cipher modes.
#pragma once

#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"

namespace beibu::crypto {

inline constexpr size_t kSm4KeySize = 16;
inline constexpr size_t kSm4BlockSize = 16;
inline constexpr size_t kSm4GcmNonceSize = 12;
inline constexpr size_t kSm4GcmTagSize = 16;

// SM4-CTR with a key fixed at construction. Each Apply() starts a fresh
// keystream at the given 16-byte initial counter block, so one object serves
// every record of a channel direction without re-keying.
class Sm4Ctr {
 public:
  static absl::StatusOr<Sm4Ctr> Create(ByteView key);
  ~Sm4Ctr();
  Sm4Ctr(Sm4Ctr&&) noexcept;
  Sm4Ctr& operator=(Sm4Ctr&&) noexcept;

  // out.size() must equal in.size(); out may be the same memory as in.
  absl::Status Apply(ByteView counter_block, ByteView in, std::span<uint8_t> out);

 private:
  Sm4Ctr();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SM4-CBC with PKCS#7 padding (one-shot helpers).
absl::StatusOr<Bytes> Sm4CbcEncrypt(ByteView key, ByteView iv, ByteView plaintext);
absl::StatusOr<Bytes> Sm4CbcDecrypt(ByteView key, ByteView iv, ByteView ciphertext);

// Raw SM4 on whole blocks (ECB, no padding): for known-answer tests only.
absl::StatusOr<Bytes> Sm4EncryptBlocks(ByteView key, ByteView blocks);
absl::StatusOr<Bytes> Sm4DecryptBlocks(ByteView key, ByteView blocks);

// SM4-GCM, present when the provider offers it (Tongsuo does; Debian's
// OpenSSL 3.0 does not). Create() fails with UNIMPLEMENTED when absent.
class Sm4Gcm {
 public:
  static bool Available();
  static absl::StatusOr<Sm4Gcm> Create(ByteView key);
  ~Sm4Gcm();
  Sm4Gcm(Sm4Gcm&&) noexcept;
  Sm4Gcm& operator=(Sm4Gcm&&) noexcept;

  // out.size() == in.size(); tag is 16 bytes.
  absl::Status Seal(ByteView nonce, ByteView aad, ByteView in, std::span<uint8_t> out,
                    std::span<uint8_t> tag);
  // Fails with DATA_LOSS when the tag does not match; out is then garbage.
  absl::Status Open(ByteView nonce, ByteView aad, ByteView in, ByteView tag,
                    std::span<uint8_t> out);

 private:
  Sm4Gcm();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::crypto
