// Loading a party's credentials and trust bundle from PEM files, with errors
// that name the file and say what to do.
#pragma once

#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"

namespace beibu::daemon {

// Key (PKCS#8 PEM) and certificate chain (PEM, leaf first). Checks that the key
// matches the leaf certificate.
absl::StatusOr<channel::Credentials> LoadCredentials(const std::string& key_path,
                                                     const std::string& cert_path);
absl::StatusOr<std::shared_ptr<pki::TrustBundle>> LoadTrustBundle(const std::string& path);

// Client transport under the secure channel: TLS verified against the PEM
// roots in `tls_ca_path`, or nullptr (plaintext gRPC) when the path is empty.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LoadClientTransport(
    const std::string& tls_ca_path);

}  // namespace beibu::daemon
