#include "beibu/crypto/sm3.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "internal.h"

namespace beibu::crypto {
namespace {

// Provider failures on a fixed, known algorithm are not input-driven: without
// SM3 nothing in Beibu can work, so they end the process with a clear message.
[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "fatal: %s: %s\n", what, DrainOpenSslErrors().c_str());
  std::abort();
}

EVP_MD* FetchSm3() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SM3", nullptr);
    if (m == nullptr) Fatal("SM3 is not available from the OpenSSL provider");
    return m;
  }();
  return md;
}

EVP_MAC* FetchHmac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) Fatal("HMAC is not available from the OpenSSL provider");
    return m;
  }();
  return mac;
}

}  // namespace

struct Sm3::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
  void Init() {
    if (ctx == nullptr || EVP_DigestInit_ex2(ctx, FetchSm3(), nullptr) != 1) {
      Fatal("SM3 init failed");
    }
  }
};

Sm3::Sm3() : impl_(std::make_unique<Impl>()) { impl_->Init(); }
Sm3::~Sm3() = default;
Sm3::Sm3(Sm3&&) noexcept = default;
Sm3& Sm3::operator=(Sm3&&) noexcept = default;

Sm3& Sm3::Update(ByteView data) {
  if (!data.empty() && EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) {
    Fatal("SM3 update failed");
  }
  return *this;
}

Sm3Digest Sm3::Final() {
  Sm3Digest out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != kSm3Size) {
    Fatal("SM3 final failed");
  }
  impl_->Init();
  return out;
}

Sm3Digest Sm3::Hash(ByteView data) {
  Sm3Digest out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, FetchSm3(), nullptr) != 1) {
    Fatal("SM3 digest failed");
  }
  return out;
}

struct HmacSm3::Impl {
  EVP_MAC_CTX* ctx = nullptr;
  ~Impl() { EVP_MAC_CTX_free(ctx); }
};

HmacSm3::HmacSm3(ByteView key) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MAC_CTX_new(FetchHmac());
  char digest[] = "SM3";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // An empty key is legal HMAC; OpenSSL wants a non-null pointer for it.
  static const uint8_t kEmpty = 0;
  if (impl_->ctx == nullptr ||
      EVP_MAC_init(impl_->ctx, key.empty() ? &kEmpty : key.data(), key.size(), params) != 1) {
    Fatal("HMAC-SM3 init failed");
  }
}
HmacSm3::~HmacSm3() = default;
HmacSm3::HmacSm3(HmacSm3&&) noexcept = default;
HmacSm3& HmacSm3::operator=(HmacSm3&&) noexcept = default;

HmacSm3& HmacSm3::Update(ByteView data) {
  if (!data.empty() && EVP_MAC_update(impl_->ctx, data.data(), data.size()) != 1) {
    Fatal("HMAC-SM3 update failed");
  }
  return *this;
}

Sm3Digest HmacSm3::Final() {
  Sm3Digest out;
  size_t len = 0;
  if (EVP_MAC_final(impl_->ctx, out.data(), &len, out.size()) != 1 || len != kSm3Size) {
    Fatal("HMAC-SM3 final failed");
  }
  // Re-initialising with a null key keeps the key already set.
  if (EVP_MAC_init(impl_->ctx, nullptr, 0, nullptr) != 1) Fatal("HMAC-SM3 reset failed");
  return out;
}

Sm3Digest HmacSm3::Mac(ByteView key, ByteView data) {
  HmacSm3 h(key);
  h.Update(data);
  return h.Final();
}

}  // namespace beibu::crypto
