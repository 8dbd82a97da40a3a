// The trust bundle: the roots a node accepts (the hub CA and any mutually
// recognised national CA) and the revocation lists it enforces.
#pragma once

#include <set>
#include <vector>

#include "beibu/pki/certificate.h"

namespace beibu::pki {

class TrustBundle {
 public:
  TrustBundle() = default;
  // Roots and CRLs from one PEM text (certificates and X509 CRLs mixed).
  static absl::StatusOr<TrustBundle> FromPem(std::string_view pem);

  // INVALID_ARGUMENT if `root` is not a self-signed CA certificate.
  absl::Status AddRoot(Certificate root);
  // Replaces an earlier CRL of the same issuer if `crl` has a higher number;
  // INVALID_ARGUMENT if no root in the bundle signed it.
  absl::Status AddCrl(RevocationList crl);

  const std::vector<Certificate>& roots() const { return roots_; }
  const std::vector<RevocationList>& crls() const { return crls_; }
  // Roots then CRLs, PEM; FromPem(ToPem()) round-trips.
  std::string ToPem() const;
  // SM3 of ToPem(), lowercase hex: what a node reports as its bundle version.
  std::string DigestHex() const;

  // True when a CRL in the bundle from `leaf.issuer` lists `leaf.serial_hex`:
  // for re-checking an identity verified earlier against an older bundle.
  bool IsRevoked(const Identity& leaf) const;

  // Verifies `chain` (leaf first, optional intermediates) at time `now`:
  //   UNAUTHENTICATED     "certificate issued by an unknown CA: <issuer>"
  //   UNAUTHENTICATED     "certificate expired at <time>" / "not yet valid until <time>"
  //   UNAUTHENTICATED     bad signature or malformed chain, with OpenSSL's reason
  //   PERMISSION_DENIED   "certificate <serial> of <subject> is revoked"
  //   PERMISSION_DENIED   "role <r> is not allowed here (allowed: a, b)" when
  //                       `allowed_roles` is non-empty and lacks the leaf's role
  // On success returns the leaf's Identity (issuer filled in).
  absl::StatusOr<Identity> Verify(const std::vector<Certificate>& chain, Clock::time_point now,
                                  const std::set<Role>& allowed_roles = {}) const;

 private:
  std::vector<Certificate> roots_;
  std::vector<RevocationList> crls_;
};

}  // namespace beibu::pki
