// Shared fixtures of the PKI tests: keys, CAs and identities.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "beibu/crypto/sm2.h"
#include "beibu/pki/authority.h"
#include "beibu/pki/certificate.h"
#include "beibu/pki/identity.h"

namespace beibu::pki::testing {

inline crypto::Sm2PrivateKey NewKey() {
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::Generate();
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

inline CertificateAuthority NewCa(std::string_view name = "Beibu Root CA",
                                  std::string_view country = "CN", IssueOptions options = {}) {
  absl::StatusOr<CertificateAuthority> ca =
      CertificateAuthority::CreateRoot(NewKey(), name, country, options);
  EXPECT_TRUE(ca.ok()) << ca.status();
  return *std::move(ca);
}

inline Identity MakeIdentity(std::string id, Role role = Role::kEdge, std::string country = "VN",
                             std::string organization = "") {
  Identity identity;
  identity.id = std::move(id);
  identity.role = role;
  identity.country = std::move(country);
  identity.organization = std::move(organization);
  return identity;
}

// A freshly keyed certificate for `identity` from `ca`.
inline Certificate IssueFor(const CertificateAuthority& ca, const Identity& identity,
                            IssueOptions options = {}) {
  absl::StatusOr<Certificate> cert = ca.Issue(NewKey().PublicKey(), identity, options);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return *std::move(cert);
}

}  // namespace beibu::pki::testing
