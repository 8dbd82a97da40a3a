// Internal: where a client's key, certificate and trust bundle are, and the
// signing credentials notarization requests need.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"
#include "beibu/client/client.h"

namespace beibu::sdk_internal {

struct IdentityPaths {
  std::string key, cert, trust;
  // INVALID_ARGUMENT saying which option to set when a path is missing.
  absl::Status Check() const;
};

// Explicit files win over identity_dir/{key,cert,trust-bundle}.pem.
IdentityPaths ResolveIdentity(const ClientOptions& options);

// The key and certificate chain (leaf first, non-empty) the client signs with.
absl::StatusOr<channel::Credentials> LoadSigningCredentials(const ClientOptions& options);

}  // namespace beibu::sdk_internal
