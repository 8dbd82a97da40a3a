#include "beibu/pki/authority.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "beibu/pki/trust_bundle.h"
#include "pki_test_util.h"

namespace beibu::pki {
namespace {

using testing::IssueFor;
using testing::MakeIdentity;
using testing::NewCa;
using testing::NewKey;

constexpr Role kAllRoles[] = {Role::kHub,     Role::kEdge,      Role::kEnterprise,
                              Role::kOfficer, Role::kRegulator, Role::kOperator};

TEST(AuthorityTest, CreateRootMakesASelfSignedCa) {
  IssueOptions options;
  options.validity = std::chrono::hours(24 * 3650);
  CertificateAuthority ca = NewCa("Beibu Root CA", "CN", options);
  const Certificate& root = ca.certificate();
  EXPECT_TRUE(root.IsCa());
  EXPECT_EQ(root.SubjectLine(), "C=CN, O=Beibu, CN=Beibu Root CA");
  EXPECT_EQ(root.IssuerLine(), root.SubjectLine());
  EXPECT_EQ(X509_get_version(root.x509()), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(root.x509()), NID_SM2_with_SM3);
  EXPECT_EQ(X509_get_pathlen(root.x509()), 0);
  EXPECT_EQ(X509_get_key_usage(root.x509()), uint32_t{KU_KEY_CERT_SIGN | KU_CRL_SIGN});
  EXPECT_NE(X509_get0_subject_key_id(root.x509()), nullptr);
  EXPECT_EQ(X509_check_issued(root.x509(), root.x509()), X509_V_OK);
  EXPECT_EQ(root.NotAfter() - root.NotBefore(), options.validity);
  // A root names no Beibu role: it cannot pass as an identity.
  EXPECT_EQ(root.GetIdentity().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AuthorityTest, CreateRootRefusesBadNames) {
  EXPECT_EQ(CertificateAuthority::CreateRoot(NewKey(), "Root", "China").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateAuthority::CreateRoot(NewKey(), "", "CN").status().code(),
            absl::StatusCode::kInvalidArgument);
  IssueOptions zero;
  zero.validity = std::chrono::seconds(0);
  EXPECT_EQ(CertificateAuthority::CreateRoot(NewKey(), "Root", "CN", zero).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AuthorityTest, IssuesEveryRoleWithTheDocumentedProfile) {
  CertificateAuthority ca = NewCa();
  for (Role role : kAllRoles) {
    SCOPED_TRACE(RoleName(role));
    crypto::Sm2PrivateKey key = NewKey();
    Identity want = MakeIdentity(std::string(RoleName(role)) + "-vn", role, "VN", "Acme Ltd");
    absl::StatusOr<Certificate> cert = ca.Issue(key.PublicKey(), want);
    ASSERT_TRUE(cert.ok()) << cert.status();

    absl::StatusOr<Identity> got = cert->GetIdentity();
    ASSERT_TRUE(got.ok()) << got.status();
    want.serial_hex = cert->SerialHex();
    want.issuer = ca.certificate().SubjectLine();
    EXPECT_EQ(*got, want);

    X509* x = cert->x509();
    EXPECT_FALSE(cert->IsCa());
    EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
    EXPECT_EQ(X509_get_signature_nid(x), NID_SM2_with_SM3);
    EXPECT_EQ(X509_get_key_usage(x), uint32_t{KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT});
    EXPECT_EQ(X509_get_extended_key_usage(x), uint32_t{XKU_SSL_CLIENT | XKU_SSL_SERVER});
    ASSERT_NE(X509_get0_authority_key_id(x), nullptr);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
                                    X509_get0_subject_key_id(ca.certificate().x509())),
              0);
    EXPECT_NE(X509_get0_subject_key_id(x), nullptr);
    absl::StatusOr<crypto::Sm2PublicKey> pub = cert->PublicKey();
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(pub->ToDer(), key.PublicKey().ToDer());
    EXPECT_EQ(cert->SubjectLine(),
              "C=VN, O=Acme Ltd, OU=" + std::string(RoleName(role)) + ", CN=" + want.id);
  }
}

TEST(AuthorityTest, OrganizationIsOptionalAndMayBeUtf8) {
  CertificateAuthority ca = NewCa();
  Certificate bare = IssueFor(ca, MakeIdentity("edge-sg", Role::kEdge, "SG"));
  EXPECT_EQ(bare.SubjectLine(), "C=SG, OU=edge, CN=edge-sg");
  EXPECT_EQ(bare.GetIdentity()->organization, "");

  Certificate chinese =
      IssueFor(ca, MakeIdentity("gx-trade", Role::kEnterprise, "CN", "广西北部湾贸易有限公司"));
  EXPECT_EQ(chinese.GetIdentity()->organization, "广西北部湾贸易有限公司");
}

TEST(AuthorityTest, SerialsAreRandomPositive128Bit) {
  CertificateAuthority ca = NewCa();
  Certificate a = IssueFor(ca, MakeIdentity("a"));
  Certificate b = IssueFor(ca, MakeIdentity("a"));
  EXPECT_NE(a.SerialHex(), b.SerialHex());
  for (const Certificate* c : {&a, &b}) {
    EXPECT_FALSE(c->SerialHex().empty());
    EXPECT_LE(c->SerialHex().size(), 32u);
    EXPECT_EQ(c->SerialHex().find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(ASN1_STRING_type(X509_get0_serialNumber(c->x509())), V_ASN1_INTEGER)
        << "serial must be positive";
  }
}

TEST(AuthorityTest, ValidityFollowsOptions) {
  CertificateAuthority ca = NewCa();
  IssueOptions options;
  options.not_before = Clock::from_time_t(1700000000);
  options.validity = std::chrono::hours(48);
  Certificate cert = IssueFor(ca, MakeIdentity("edge-my", Role::kEdge, "MY"), options);
  EXPECT_EQ(cert.NotBefore(), *options.not_before);
  EXPECT_EQ(cert.NotAfter(), *options.not_before + options.validity);
}

TEST(AuthorityTest, IssueRefusesUnfitIdentities) {
  CertificateAuthority ca = NewCa();
  crypto::Sm2PublicKey key = NewKey().PublicKey();
  auto code = [&](const Identity& id, IssueOptions options = {}) {
    return ca.Issue(key, id, options).status().code();
  };
  EXPECT_EQ(code(MakeIdentity("")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(MakeIdentity("x", Role::kEdge, "vn")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(MakeIdentity("x", Role::kEdge, "")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(MakeIdentity(std::string(65, 'x'))), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(MakeIdentity(std::string(64, 'x'))), absl::StatusCode::kOk);
  IssueOptions negative;
  negative.validity = std::chrono::seconds(-1);
  EXPECT_EQ(code(MakeIdentity("x"), negative), absl::StatusCode::kInvalidArgument);
}

TEST(AuthorityTest, LoadAcceptsTheMatchingKeyOnly) {
  crypto::Sm2PrivateKey key = NewKey();
  absl::StatusOr<CertificateAuthority> created =
      CertificateAuthority::CreateRoot(key, "Beibu Root CA", "CN");
  ASSERT_TRUE(created.ok()) << created.status();

  absl::StatusOr<CertificateAuthority> loaded =
      CertificateAuthority::Load(key, created->certificate());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  TrustBundle bundle;
  ASSERT_TRUE(bundle.AddRoot(created->certificate()).ok());
  Certificate leaf = IssueFor(*loaded, MakeIdentity("edge-th", Role::kEdge, "TH"));
  EXPECT_TRUE(bundle.Verify({leaf}, Clock::now()).ok());

  absl::StatusOr<CertificateAuthority> mismatched =
      CertificateAuthority::Load(NewKey(), created->certificate());
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find("does not belong"), std::string::npos)
      << mismatched.status();
}

TEST(AuthorityTest, LoadRefusesAnEndEntityCertificate) {
  CertificateAuthority ca = NewCa();
  crypto::Sm2PrivateKey key = NewKey();
  absl::StatusOr<Certificate> leaf = ca.Issue(key.PublicKey(), MakeIdentity("edge-vn"));
  ASSERT_TRUE(leaf.ok());
  absl::StatusOr<CertificateAuthority> loaded = CertificateAuthority::Load(key, *leaf);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("not a CA"), std::string::npos) << loaded.status();
}

TEST(AuthorityTest, IssueCrlListsEntries) {
  CertificateAuthority ca = NewCa();
  Certificate revoked = IssueFor(ca, MakeIdentity("edge-vn"));
  Certificate kept = IssueFor(ca, MakeIdentity("edge-sg", Role::kEdge, "SG"));
  Clock::time_point when = Clock::from_time_t(1750000000);
  absl::StatusOr<RevocationList> crl = ca.IssueCrl({{revoked.SerialHex(), when}}, 7);
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_EQ(crl->Number(), 7u);
  EXPECT_EQ(crl->IssuerLine(), ca.certificate().SubjectLine());
  ASSERT_EQ(crl->Entries().size(), 1u);
  EXPECT_EQ(crl->Entries()[0].serial_hex, revoked.SerialHex());
  EXPECT_EQ(crl->Entries()[0].revoked_at, when);
  EXPECT_TRUE(crl->IsRevoked(revoked.SerialHex()));
  // Serials compare as numbers: case and leading zeros do not matter.
  std::string upper = revoked.SerialHex();
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_TRUE(crl->IsRevoked("00" + upper));
  EXPECT_FALSE(crl->IsRevoked(kept.SerialHex()));
  EXPECT_FALSE(crl->IsRevoked("not hex"));
  EXPECT_FALSE(crl->IsRevoked(""));

  absl::StatusOr<RevocationList> again = RevocationList::FromPem(crl->ToPem());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ToPem(), crl->ToPem());
  EXPECT_EQ(again->Number(), 7u);
}

TEST(AuthorityTest, IssueCrlRefusesBadSerials) {
  CertificateAuthority ca = NewCa();
  EXPECT_EQ(ca.IssueCrl({{"zz", Clock::now()}}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.IssueCrl({{"", Clock::now()}}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<RevocationList> empty = ca.IssueCrl({}, 0);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->Entries().empty());
}

}  // namespace
}  // namespace beibu::pki
