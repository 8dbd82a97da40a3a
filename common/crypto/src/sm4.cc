#include "beibu/crypto/sm4.h"

#include <openssl/evp.h>

#include <climits>

#include "absl/strings/str_cat.h"
#include "internal.h"

namespace beibu::crypto {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// Fetched once; the provider keeps these alive for the process.
const EVP_CIPHER* Fetch(const char* name) { return EVP_CIPHER_fetch(nullptr, name, nullptr); }

const EVP_CIPHER* CtrCipher() {
  static const EVP_CIPHER* c = Fetch("SM4-CTR");
  return c;
}
const EVP_CIPHER* GcmCipher() {
  static const EVP_CIPHER* c = Fetch("SM4-GCM");
  return c;
}

absl::Status CheckKey(ByteView key) {
  if (key.size() != kSm4KeySize) {
    return absl::InvalidArgumentError(absl::StrCat("SM4 key must be 16 bytes, got ", key.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckLength(size_t n) {
  if (n > static_cast<size_t>(INT_MAX) - 32) {
    return absl::InvalidArgumentError("SM4 input larger than 2 GiB; split it");
  }
  return absl::OkStatus();
}

// One-shot encrypt/decrypt with `cipher_name`; padding as given.
absl::StatusOr<Bytes> OneShot(const char* cipher_name, ByteView key, ByteView iv, ByteView in,
                              bool encrypt, bool padding) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (absl::Status s = CheckLength(in.size()); !s.ok()) return s;
  const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, cipher_name, nullptr);
  if (cipher == nullptr) return internal::OpenSslError(absl::StrCat(cipher_name, " unavailable"));
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Bytes out(in.size() + kSm4BlockSize);
  int len1 = 0, len2 = 0;
  bool ok =
      ctx &&
      EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), iv.empty() ? nullptr : iv.data(),
                         encrypt ? 1 : 0, nullptr) == 1 &&
      EVP_CIPHER_CTX_set_padding(ctx.get(), padding ? 1 : 0) == 1 &&
      EVP_CipherUpdate(ctx.get(), out.data(), &len1, in.data(), static_cast<int>(in.size())) == 1;
  bool final_ok = ok && EVP_CipherFinal_ex(ctx.get(), out.data() + len1, &len2) == 1;
  EVP_CIPHER_free(const_cast<EVP_CIPHER*>(cipher));
  if (!ok) return internal::OpenSslError(absl::StrCat(cipher_name, " failed"));
  if (!final_ok) {
    DrainOpenSslErrors();
    return absl::DataLossError(absl::StrCat(
        cipher_name, encrypt ? ": input is not a whole number of blocks"
                             : ": bad padding or length (wrong key or corrupted ciphertext)"));
  }
  out.resize(len1 + len2);
  return out;
}

}  // namespace

struct Sm4Ctr::Impl {
  CipherCtxPtr ctx;
};

Sm4Ctr::Sm4Ctr() : impl_(std::make_unique<Impl>()) {}
Sm4Ctr::~Sm4Ctr() = default;
Sm4Ctr::Sm4Ctr(Sm4Ctr&&) noexcept = default;
Sm4Ctr& Sm4Ctr::operator=(Sm4Ctr&&) noexcept = default;

absl::StatusOr<Sm4Ctr> Sm4Ctr::Create(ByteView key) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (CtrCipher() == nullptr) return internal::OpenSslError("SM4-CTR unavailable");
  Sm4Ctr c;
  c.impl_->ctx.reset(EVP_CIPHER_CTX_new());
  if (!c.impl_->ctx ||
      EVP_EncryptInit_ex2(c.impl_->ctx.get(), CtrCipher(), key.data(), nullptr, nullptr) != 1) {
    return internal::OpenSslError("SM4-CTR init failed");
  }
  return c;
}

absl::Status Sm4Ctr::Apply(ByteView counter_block, ByteView in, std::span<uint8_t> out) {
  if (counter_block.size() != kSm4BlockSize) {
    return absl::InvalidArgumentError("SM4-CTR counter block must be 16 bytes");
  }
  if (out.size() != in.size()) return absl::InvalidArgumentError("SM4-CTR output size mismatch");
  if (absl::Status s = CheckLength(in.size()); !s.ok()) return s;
  int len = 0;
  // A null key keeps the schedule; only the counter block is reset.
  if (EVP_EncryptInit_ex2(impl_->ctx.get(), nullptr, nullptr, counter_block.data(), nullptr) != 1 ||
      (!in.empty() && EVP_EncryptUpdate(impl_->ctx.get(), out.data(), &len, in.data(),
                                        static_cast<int>(in.size())) != 1)) {
    return internal::OpenSslError("SM4-CTR failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> Sm4CbcEncrypt(ByteView key, ByteView iv, ByteView plaintext) {
  if (iv.size() != kSm4BlockSize) return absl::InvalidArgumentError("SM4-CBC IV must be 16 bytes");
  return OneShot("SM4-CBC", key, iv, plaintext, true, true);
}

absl::StatusOr<Bytes> Sm4CbcDecrypt(ByteView key, ByteView iv, ByteView ciphertext) {
  if (iv.size() != kSm4BlockSize) return absl::InvalidArgumentError("SM4-CBC IV must be 16 bytes");
  return OneShot("SM4-CBC", key, iv, ciphertext, false, true);
}

absl::StatusOr<Bytes> Sm4EncryptBlocks(ByteView key, ByteView blocks) {
  if (blocks.size() % kSm4BlockSize != 0) {
    return absl::InvalidArgumentError("SM4 block input must be a multiple of 16 bytes");
  }
  return OneShot("SM4-ECB", key, {}, blocks, true, false);
}

absl::StatusOr<Bytes> Sm4DecryptBlocks(ByteView key, ByteView blocks) {
  if (blocks.size() % kSm4BlockSize != 0) {
    return absl::InvalidArgumentError("SM4 block input must be a multiple of 16 bytes");
  }
  return OneShot("SM4-ECB", key, {}, blocks, false, false);
}

struct Sm4Gcm::Impl {
  CipherCtxPtr enc;
  CipherCtxPtr dec;
};

Sm4Gcm::Sm4Gcm() : impl_(std::make_unique<Impl>()) {}
Sm4Gcm::~Sm4Gcm() = default;
Sm4Gcm::Sm4Gcm(Sm4Gcm&&) noexcept = default;
Sm4Gcm& Sm4Gcm::operator=(Sm4Gcm&&) noexcept = default;

bool Sm4Gcm::Available() {
  bool available = GcmCipher() != nullptr;
  DrainOpenSslErrors();  // the failed fetch leaves an error behind
  return available;
}

absl::StatusOr<Sm4Gcm> Sm4Gcm::Create(ByteView key) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (!Available()) {
    return absl::UnimplementedError(
        "SM4-GCM is not offered by this OpenSSL provider (build against Tongsuo for it)");
  }
  Sm4Gcm g;
  g.impl_->enc.reset(EVP_CIPHER_CTX_new());
  g.impl_->dec.reset(EVP_CIPHER_CTX_new());
  if (!g.impl_->enc || !g.impl_->dec ||
      EVP_EncryptInit_ex2(g.impl_->enc.get(), GcmCipher(), key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(g.impl_->dec.get(), GcmCipher(), key.data(), nullptr, nullptr) != 1) {
    return internal::OpenSslError("SM4-GCM init failed");
  }
  return g;
}

absl::Status Sm4Gcm::Seal(ByteView nonce, ByteView aad, ByteView in, std::span<uint8_t> out,
                          std::span<uint8_t> tag) {
  if (nonce.size() != kSm4GcmNonceSize || tag.size() != kSm4GcmTagSize || out.size() != in.size()) {
    return absl::InvalidArgumentError("SM4-GCM: nonce 12, tag 16, output the input's size");
  }
  if (absl::Status s = CheckLength(in.size()); !s.ok()) return s;
  EVP_CIPHER_CTX* c = impl_->enc.get();
  int len = 0;
  if (EVP_EncryptInit_ex2(c, nullptr, nullptr, nonce.data(), nullptr) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (!in.empty() &&
       EVP_EncryptUpdate(c, out.data(), &len, in.data(), static_cast<int>(in.size())) != 1) ||
      EVP_EncryptFinal_ex(c, out.data() + in.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, kSm4GcmTagSize, tag.data()) != 1) {
    return internal::OpenSslError("SM4-GCM seal failed");
  }
  return absl::OkStatus();
}

absl::Status Sm4Gcm::Open(ByteView nonce, ByteView aad, ByteView in, ByteView tag,
                          std::span<uint8_t> out) {
  if (nonce.size() != kSm4GcmNonceSize || tag.size() != kSm4GcmTagSize || out.size() != in.size()) {
    return absl::InvalidArgumentError("SM4-GCM: nonce 12, tag 16, output the input's size");
  }
  if (absl::Status s = CheckLength(in.size()); !s.ok()) return s;
  EVP_CIPHER_CTX* c = impl_->dec.get();
  int len = 0;
  if (EVP_DecryptInit_ex2(c, nullptr, nullptr, nonce.data(), nullptr) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (!in.empty() &&
       EVP_DecryptUpdate(c, out.data(), &len, in.data(), static_cast<int>(in.size())) != 1) ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, kSm4GcmTagSize,
                          const_cast<uint8_t*>(tag.data())) != 1) {
    return internal::OpenSslError("SM4-GCM open failed");
  }
  if (EVP_DecryptFinal_ex(c, out.data() + in.size(), &len) != 1) {
    DrainOpenSslErrors();
    return absl::DataLossError("SM4-GCM tag mismatch: record forged or corrupted");
  }
  return absl::OkStatus();
}

}  // namespace beibu::crypto
