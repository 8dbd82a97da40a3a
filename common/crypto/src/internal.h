// Private helpers shared by the crypto sources.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "beibu/crypto/sm2.h"

namespace beibu::crypto::internal {

// INTERNAL status "<what>: <openssl errors>".
absl::Status OpenSslError(std::string_view what);

}  // namespace beibu::crypto::internal
