#include <openssl/err.h>

#include "absl/strings/str_cat.h"
#include "internal.h"

namespace beibu::crypto {

std::string DrainOpenSslErrors() {
  std::string out;
  unsigned long code;
  char buf[256];
  while ((code = ERR_get_error()) != 0) {
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

namespace internal {
absl::Status OpenSslError(std::string_view what) {
  std::string errors = DrainOpenSslErrors();
  return absl::InternalError(absl::StrCat(std::string(what), errors.empty() ? "" : ": ", errors));
}
}  // namespace internal

}  // namespace beibu::crypto
