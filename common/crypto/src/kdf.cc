#include "beibu/crypto/kdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "internal.h"

namespace beibu::crypto {
namespace {

struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

// Runs EVP_KDF `name` with SM3 and the given octet-string parameters.
absl::StatusOr<Bytes> RunKdf(const char* name, std::vector<OSSL_PARAM> params, size_t length) {
  if (length == 0) return absl::InvalidArgumentError("KDF output length must be positive");
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, name, nullptr);
  if (kdf == nullptr) return internal::OpenSslError(absl::StrCat(name, " unavailable"));
  std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kdf));
  EVP_KDF_free(kdf);
  if (!ctx) return internal::OpenSslError("EVP_KDF_CTX_new failed");
  char digest[] = "SM3";
  params.insert(params.begin(), OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0));
  params.push_back(OSSL_PARAM_construct_end());
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) != 1) {
    return internal::OpenSslError(absl::StrCat(name, " derive failed"));
  }
  return out;
}

OSSL_PARAM Octets(const char* key, ByteView v) {
  // OpenSSL reads but does not modify these buffers.
  static const uint8_t kEmpty = 0;
  return OSSL_PARAM_construct_octet_string(
      key, const_cast<uint8_t*>(v.empty() ? &kEmpty : v.data()), v.size());
}

}  // namespace

absl::StatusOr<Bytes> Sm3Kdf(ByteView z, ByteView shared_info, size_t length) {
  if (z.empty()) return absl::InvalidArgumentError("SM3 KDF needs a non-empty secret");
  std::vector<OSSL_PARAM> params = {Octets(OSSL_KDF_PARAM_KEY, z)};
  if (!shared_info.empty()) params.push_back(Octets(OSSL_KDF_PARAM_INFO, shared_info));
  return RunKdf("X963KDF", std::move(params), length);
}

absl::StatusOr<Bytes> HkdfSm3Extract(ByteView salt, ByteView ikm) {
  int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
  std::vector<OSSL_PARAM> params = {OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
                                    Octets(OSSL_KDF_PARAM_KEY, ikm),
                                    Octets(OSSL_KDF_PARAM_SALT, salt)};
  return RunKdf("HKDF", std::move(params), 32);
}

absl::StatusOr<Bytes> HkdfSm3Expand(ByteView prk, ByteView info, size_t length) {
  if (length > 255 * 32)
    return absl::InvalidArgumentError("HKDF-SM3 output longer than 8160 bytes");
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  std::vector<OSSL_PARAM> params = {OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
                                    Octets(OSSL_KDF_PARAM_KEY, prk),
                                    Octets(OSSL_KDF_PARAM_INFO, info)};
  return RunKdf("HKDF", std::move(params), length);
}

}  // namespace beibu::crypto
