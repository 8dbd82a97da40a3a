// The enrolling side of Registry.Enroll, shared by beibu-edge and
// `beibu enroll`: a new SM2 key is generated locally (it never leaves), a CSR
// goes to the hub over an anonymous secure channel that pins the hub CA by the
// token's fingerprint, and the certificate and trust bundle come back.
#pragma once

#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"
#include "beibu/pki/identity.h"

namespace beibu::enroll {

struct Enrolled {
  crypto::Sm2PrivateKey key;
  pki::Certificate certificate;
  std::shared_ptr<pki::TrustBundle> trust;
  pki::Identity identity;
};

// `requested` is advisory (the token decides the identity); pass the id the
// caller expects so a mismatch can be reported. Errors: INVALID_ARGUMENT for a
// malformed token, UNAVAILABLE when the hub is unreachable, the hub's refusal
// (PERMISSION_DENIED for a used or expired token) otherwise.
// `transport` is the TLS layer under the channel when the hub uses one.
absl::StatusOr<Enrolled> Enroll(const std::string& hub_address, const std::string& token,
                                const std::string& expected_id = "",
                                std::shared_ptr<grpc::ChannelCredentials> transport = nullptr);

// Writes key.pem (0600), cert.pem (leaf + root) and trust-bundle.pem into
// `dir`, each atomically. The key is written first so that a crash never
// leaves a certificate without its key.
absl::Status SaveIdentity(const Enrolled& e, const std::string& dir);

inline constexpr char kKeyFile[] = "key.pem";
inline constexpr char kCertFile[] = "cert.pem";
inline constexpr char kTrustFile[] = "trust-bundle.pem";

}  // namespace beibu::enroll
