// Fixtures of the signed-policy tests: a CA, a hub identity signed by it, and
// policy databases of any version derived from the compiled-in baseline.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/authority.h"
#include "beibu/pki/trust_bundle.h"
#include "beibu/policy/database.h"

namespace beibu::policy::testing {

inline crypto::Sm2PrivateKey NewKey() {
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::Generate();
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

// A CA and one certificate it issued, with the certificate's key.
struct Pki {
  explicit Pki(pki::Role role = pki::Role::kHub, std::string id = "hub")
      : ca(*pki::CertificateAuthority::CreateRoot(NewKey(), "Beibu Root CA", "CN")), key(NewKey()) {
    pki::Identity who;
    who.id = std::move(id);
    who.role = role;
    who.country = "CN";
    absl::StatusOr<pki::Certificate> c = ca.Issue(key.PublicKey(), who);
    EXPECT_TRUE(c.ok()) << c.status();
    cert_pem = c->ToPem();
    EXPECT_TRUE(bundle.AddRoot(ca.certificate()).ok());
  }
  pki::CertificateAuthority ca;
  crypto::Sm2PrivateKey key;
  std::string cert_pem;
  pki::TrustBundle bundle;
};

inline int64_t BaselineVersion() { return LoadDatabase(BaselineFiles())->version; }

// The baseline with manifest.yaml saying `version`.
inline PolicyFiles FilesWithVersion(int64_t version) {
  PolicyFiles files = BaselineFiles();
  std::string& manifest = files.at("manifest.yaml");
  const std::string old = absl::StrCat("\nversion: ", BaselineVersion(), "\n");
  size_t at = manifest.find(old);
  EXPECT_NE(at, std::string::npos) << "baseline manifest.yaml has no '" << old << "' line";
  if (at != std::string::npos) {
    manifest.replace(at, old.size(), absl::StrCat("\nversion: ", version, "\n"));
  }
  return files;
}

}  // namespace beibu::policy::testing
