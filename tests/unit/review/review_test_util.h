// Fixtures of the review tests: a test CA with the certificates of the
// parties of a VN -> CN transfer (officers of both countries, the sending
// enterprise and another one), and a ticket for it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "beibu/crypto/sm2.h"
#include "beibu/pki/authority.h"
#include "beibu/pki/trust_bundle.h"
#include "beibu/review/approval.h"
#include "beibu/review/ticket.h"

namespace beibu::review::testing {

inline crypto::Sm2PrivateKey NewKey() {
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::Generate();
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

inline pki::CertificateAuthority NewCa(const char* name = "Beibu Root CA") {
  absl::StatusOr<pki::CertificateAuthority> ca =
      pki::CertificateAuthority::CreateRoot(NewKey(), name, "CN");
  EXPECT_TRUE(ca.ok()) << ca.status();
  return *std::move(ca);
}

// A key and the certificate `ca` issued for it.
struct Signer {
  crypto::Sm2PrivateKey key;
  pki::Certificate cert;
  std::string pem() const { return cert.ToPem(); }
};

inline Signer Issue(const pki::CertificateAuthority& ca, const std::string& id, pki::Role role,
                    const std::string& country, pki::IssueOptions options = {}) {
  crypto::Sm2PrivateKey key = NewKey();
  pki::Identity who;
  who.id = id;
  who.role = role;
  who.country = country;
  absl::StatusOr<pki::Certificate> cert = ca.Issue(key.PublicKey(), who, options);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return Signer{std::move(key), *std::move(cert)};
}

// Held at kHeldAtMs; the default requirement's deadline is 72 hours later.
inline constexpr int64_t kHeldAtMs = 1795000000000;
inline constexpr int64_t kDeadlineMs = kHeldAtMs + 72 * 3600 * 1000;

inline TicketSubject Subject(std::string transfer_id = "tx-0001") {
  TicketSubject s;
  s.transfer_id = std::move(transfer_id);
  s.header_sm3_hex = std::string(64, 'a');
  s.payload_sm3_hex = std::string(64, 'b');
  s.preview_sm3_hex = std::string(64, 'c');
  s.requirement = {.rule_id = "default",
                   .approvals = 2,
                   .roles = {kSourceOfficer, kDestinationOfficer},
                   .deadline_ms = kDeadlineMs};
  return s;
}

inline Parties VnToCn() {
  return {.from_country = "VN", .to_country = "CN", .from_enterprise = "acme-vn"};
}

}  // namespace beibu::review::testing
