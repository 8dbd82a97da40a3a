#include "identity.h"

#include "beibu/daemon/identity_files.h"
#include "beibu/enroll/enroll.h"

namespace beibu::sdk_internal {

absl::Status IdentityPaths::Check() const {
  if (key.empty() || cert.empty() || trust.empty()) {
    return absl::InvalidArgumentError(
        "no identity: set the identity directory (from `beibu enroll`: --identity DIR) or all of "
        "the key, certificate and trust bundle files");
  }
  return absl::OkStatus();
}

IdentityPaths ResolveIdentity(const ClientOptions& o) {
  auto pick = [&](const std::string& explicit_path, const char* file) {
    if (!explicit_path.empty()) return explicit_path;
    return o.identity_dir.empty() ? std::string() : o.identity_dir + "/" + file;
  };
  return {.key = pick(o.key_file, enroll::kKeyFile),
          .cert = pick(o.cert_file, enroll::kCertFile),
          .trust = pick(o.trust_file, enroll::kTrustFile)};
}

absl::StatusOr<channel::Credentials> LoadSigningCredentials(const ClientOptions& o) {
  IdentityPaths paths = ResolveIdentity(o);
  if (paths.key.empty() || paths.cert.empty()) return paths.Check();
  absl::StatusOr<channel::Credentials> creds = daemon::LoadCredentials(paths.key, paths.cert);
  if (!creds.ok()) return creds.status();
  if (creds->chain.empty()) {
    return absl::InvalidArgumentError("no certificate in " + paths.cert +
                                      ": use the cert.pem `beibu enroll` wrote");
  }
  return creds;
}

}  // namespace beibu::sdk_internal
