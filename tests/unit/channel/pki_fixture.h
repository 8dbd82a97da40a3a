// A small PKI for channel tests: a root CA, a second (foreign) root, and
// helpers to issue credentials for any role.
#pragma once

#include <gtest/gtest.h>

#include "beibu/channel/handshake.h"
#include "beibu/pki/authority.h"

namespace beibu::testing {

inline crypto::Sm2PrivateKey NewKey() { return crypto::Sm2PrivateKey::Generate().value(); }

struct TestPki {
  pki::CertificateAuthority ca =
      pki::CertificateAuthority::CreateRoot(NewKey(), "Test Root", "CN").value();
  pki::CertificateAuthority foreign =
      pki::CertificateAuthority::CreateRoot(NewKey(), "Foreign Root", "SG").value();

  channel::Credentials Issue(const pki::CertificateAuthority& by, const std::string& id,
                             pki::Role role, const std::string& country,
                             pki::IssueOptions options = {}) const {
    crypto::Sm2PrivateKey key = NewKey();
    pki::Identity ident{.id = id, .role = role, .country = country};
    pki::Certificate cert = by.Issue(key.PublicKey(), ident, options).value();
    return channel::Credentials{key, {cert, by.certificate()}};
  }
  channel::Credentials Issue(const std::string& id, pki::Role role,
                             const std::string& country = "CN",
                             pki::IssueOptions options = {}) const {
    return Issue(ca, id, role, country, options);
  }

  std::shared_ptr<pki::TrustBundle> Bundle() const {
    auto b = std::make_shared<pki::TrustBundle>();
    EXPECT_TRUE(b->AddRoot(ca.certificate()).ok());
    return b;
  }

  channel::HandshakeConfig Config(channel::Credentials creds,
                                  std::set<pki::Role> peer_roles = {}) const {
    channel::HandshakeConfig c;
    c.credentials = std::move(creds);
    c.trust = Bundle();
    c.allowed_peer_roles = std::move(peer_roles);
    return c;
  }
};

}  // namespace beibu::testing
