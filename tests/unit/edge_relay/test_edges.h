// Test edges without a hub: a CA issues edge certificates, written where
// EdgeIdentity::LoadOrEnroll finds them (data_dir/identity/{key,cert,
// trust-bundle}.pem), so no enrolment runs.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "beibu/crypto/sm2.h"
#include "beibu/enroll/enroll.h"
#include "beibu/pki/authority.h"
#include "beibu/pki/trust_bundle.h"
#include "edge_identity.h"
#include "temp_dir.h"

namespace beibu::edge::testing {

inline pki::CertificateAuthority NewCa(std::string_view name) {
  absl::StatusOr<pki::CertificateAuthority> ca =
      pki::CertificateAuthority::CreateRoot(crypto::Sm2PrivateKey::Generate().value(), name, "CN");
  EXPECT_TRUE(ca.ok()) << ca.status();
  return *std::move(ca);
}

struct TestEdge {
  std::string id;
  std::string data_dir;
  crypto::Sm2PrivateKey key;
  pki::Certificate cert;
  std::unique_ptr<EdgeIdentity> identity;
};

// Issues a certificate for edge `id` of `country` from `ca` and loads it as
// an EdgeIdentity under dir/<id>, trusting `trusted` (the issuing CA unless
// told otherwise) and the given CRLs.
inline TestEdge MakeEdge(const std::filesystem::path& dir, const pki::CertificateAuthority& ca,
                         const std::string& id, const std::string& country,
                         const std::vector<const pki::CertificateAuthority*>& trusted = {},
                         const std::vector<pki::RevocationList>& crls = {}) {
  crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::Generate().value();
  pki::Identity who;
  who.id = id;
  who.role = pki::Role::kEdge;
  who.country = country;
  absl::StatusOr<pki::Certificate> cert = ca.Issue(key.PublicKey(), who);
  EXPECT_TRUE(cert.ok()) << cert.status();
  const std::filesystem::path data = dir / id;
  const std::filesystem::path ident = data / "identity";
  beibu::testing::WriteFile(ident / enroll::kKeyFile, key.ToPem());
  beibu::testing::WriteFile(ident / enroll::kCertFile, cert->ToPem());
  pki::TrustBundle bundle;
  if (trusted.empty()) {
    EXPECT_TRUE(bundle.AddRoot(ca.certificate()).ok());
  } else {
    for (const pki::CertificateAuthority* t : trusted) {
      EXPECT_TRUE(bundle.AddRoot(t->certificate()).ok());
    }
  }
  for (const pki::RevocationList& crl : crls) EXPECT_TRUE(bundle.AddCrl(crl).ok());
  beibu::testing::WriteFile(ident / enroll::kTrustFile, bundle.ToPem());
  EdgeConfig config;
  config.node_id = id;
  config.data_dir = data.string();
  absl::StatusOr<std::unique_ptr<EdgeIdentity>> identity = EdgeIdentity::LoadOrEnroll(config);
  EXPECT_TRUE(identity.ok()) << identity.status();
  return TestEdge{id, data.string(), std::move(key), *std::move(cert),
                  identity.ok() ? *std::move(identity) : nullptr};
}

}  // namespace beibu::edge::testing
