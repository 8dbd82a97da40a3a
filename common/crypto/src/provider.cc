#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/crypto.h"
#include "internal.h"

namespace beibu::crypto {

absl::Status CheckProvider() {
  struct Probe {
    const char* name;
    bool ok;
  };
  auto cipher = [](const char* n) {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, n, nullptr);
    EVP_CIPHER_free(c);
    return c != nullptr;
  };
  auto md = [](const char* n) {
    EVP_MD* m = EVP_MD_fetch(nullptr, n, nullptr);
    EVP_MD_free(m);
    return m != nullptr;
  };
  auto kdf = [](const char* n) {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, n, nullptr);
    EVP_KDF_free(k);
    return k != nullptr;
  };
  auto keymgmt = [](const char* n) {
    EVP_KEYMGMT* k = EVP_KEYMGMT_fetch(nullptr, n, nullptr);
    EVP_KEYMGMT_free(k);
    return k != nullptr;
  };
  const Probe probes[] = {
      {"SM3", md("SM3")},    {"SM4-CTR", cipher("SM4-CTR")}, {"SM4-CBC", cipher("SM4-CBC")},
      {"HKDF", kdf("HKDF")}, {"X963KDF", kdf("X963KDF")},    {"SM2", keymgmt("SM2")}};
  for (const Probe& p : probes) {
    if (!p.ok) {
      DrainOpenSslErrors();
      return absl::FailedPreconditionError(
          absl::StrCat("the OpenSSL provider lacks ", p.name, " (", ProviderVersion(),
                       "); install OpenSSL 3.0+ or Tongsuo with the default provider enabled"));
    }
  }
  return absl::OkStatus();
}

std::string ProviderVersion() { return OpenSSL_version(OPENSSL_VERSION); }

}  // namespace beibu::crypto
