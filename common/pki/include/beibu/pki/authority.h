// The hub's certificate authority: a self-signed SM2 root that issues the
// certificates of every node and person in the space, and signs the CRL.
#pragma once

#include <chrono>

#include "beibu/pki/certificate.h"

namespace beibu::pki {

struct IssueOptions {
  std::chrono::seconds validity = std::chrono::hours(24 * 365);
  // Defaults to now; tests back-date to make expired certificates.
  std::optional<Clock::time_point> not_before;
};

class CertificateAuthority {
 public:
  // A new self-signed root: CN=name, O=Beibu, C=country, CA:TRUE, pathlen 0,
  // keyCertSign and cRLSign, subject key identifier.
  static absl::StatusOr<CertificateAuthority> CreateRoot(crypto::Sm2PrivateKey key,
                                                         std::string_view name,
                                                         std::string_view country,
                                                         IssueOptions options = {});
  // An existing CA from its key and certificate; INVALID_ARGUMENT when the
  // key does not match the certificate or the certificate is not a CA.
  static absl::StatusOr<CertificateAuthority> Load(crypto::Sm2PrivateKey key, Certificate cert);

  const Certificate& certificate() const { return cert_; }

  // Issues an end-entity certificate for `subject_key` naming `identity`
  // (CN=id, OU=role, C=country, O=organization): CA:FALSE, digitalSignature
  // and keyAgreement, clientAuth and serverAuth, a random 128-bit serial,
  // authority and subject key identifiers. The result's GetIdentity() equals
  // `identity` up to serial_hex and issuer, which it fills in.
  absl::StatusOr<Certificate> Issue(const crypto::Sm2PublicKey& subject_key,
                                    const Identity& identity, IssueOptions options = {}) const;

  // A CRL listing `revoked`, numbered `number`, valid until now + next_update.
  absl::StatusOr<RevocationList> IssueCrl(
      const std::vector<RevokedEntry>& revoked, uint64_t number,
      std::chrono::seconds next_update = std::chrono::hours(24 * 7)) const;

 private:
  CertificateAuthority(crypto::Sm2PrivateKey key, Certificate cert)
      : key_(std::move(key)), cert_(std::move(cert)) {}
  crypto::Sm2PrivateKey key_;
  Certificate cert_;
};

}  // namespace beibu::pki
