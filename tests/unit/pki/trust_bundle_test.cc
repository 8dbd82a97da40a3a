#include "beibu/pki/trust_bundle.h"

#include <gtest/gtest.h>

#include "pki_test_util.h"

namespace beibu::pki {
namespace {

using std::chrono::hours;
using testing::IssueFor;
using testing::MakeIdentity;
using testing::NewCa;
using testing::NewKey;

bool Contains(const absl::Status& s, std::string_view text) {
  return s.message().find(std::string(text)) != std::string_view::npos;
}

// The hub CA (CN) and a mutually recognised national CA (VN).
class TrustBundleTest : public ::testing::Test {
 protected:
  TrustBundleTest() : hub_ca_(NewCa("Beibu Root CA", "CN")), vn_ca_(NewCa("VN National CA", "VN")) {
    EXPECT_TRUE(bundle_.AddRoot(hub_ca_.certificate()).ok());
    EXPECT_TRUE(bundle_.AddRoot(vn_ca_.certificate()).ok());
  }

  absl::Status VerifyStatus(const Certificate& cert, Clock::time_point now = Clock::now(),
                            const std::set<Role>& roles = {}) {
    return bundle_.Verify({cert}, now, roles).status();
  }

  CertificateAuthority hub_ca_;
  CertificateAuthority vn_ca_;
  TrustBundle bundle_;
};

TEST_F(TrustBundleTest, CertificatesFromEitherRootVerify) {
  Certificate from_hub = IssueFor(hub_ca_, MakeIdentity("edge-vn", Role::kEdge, "VN"));
  Certificate from_vn = IssueFor(vn_ca_, MakeIdentity("vn-customs", Role::kRegulator, "VN"));
  absl::StatusOr<Identity> a = bundle_.Verify({from_hub}, Clock::now());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->id, "edge-vn");
  EXPECT_EQ(a->issuer, hub_ca_.certificate().SubjectLine());
  EXPECT_EQ(a->serial_hex, from_hub.SerialHex());
  absl::StatusOr<Identity> b = bundle_.Verify({from_vn}, Clock::now());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->role, Role::kRegulator);
  EXPECT_EQ(b->issuer, "C=VN, O=Beibu, CN=VN National CA");
}

TEST_F(TrustBundleTest, ChainWithItsRootAttachedVerifies) {
  Certificate leaf = IssueFor(hub_ca_, MakeIdentity("edge-vn"));
  EXPECT_TRUE(bundle_.Verify({leaf, hub_ca_.certificate()}, Clock::now()).ok());
}

TEST_F(TrustBundleTest, UnknownCaIsUnauthenticated) {
  CertificateAuthority stranger = NewCa("Beibu Root CA", "CN");  // same name, other key
  Certificate cert = IssueFor(stranger, MakeIdentity("edge-vn"));
  absl::Status s = VerifyStatus(cert);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "unknown CA")) << s;
  // Bringing the stranger's root along does not help: it is not trusted.
  s = bundle_.Verify({cert, stranger.certificate()}, Clock::now()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;

  TrustBundle empty;
  EXPECT_EQ(empty.Verify({cert}, Clock::now()).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustBundleTest, ExpiredAndNotYetValidAreUnauthenticated) {
  IssueOptions old;
  old.not_before = Clock::now() - hours(48);
  old.validity = hours(24);
  Certificate expired = IssueFor(hub_ca_, MakeIdentity("edge-vn"), old);
  absl::Status s = VerifyStatus(expired);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "certificate expired at ")) << s;
  // Before the root itself existed, nothing it signed was valid yet.
  EXPECT_TRUE(Contains(VerifyStatus(expired, Clock::now() - hours(36)), "not yet valid"));

  // Under a root that already existed, it was fine while it lasted.
  IssueOptions long_ago;
  long_ago.not_before = Clock::now() - hours(24 * 30);
  CertificateAuthority old_ca = NewCa("Old Root", "CN", long_ago);
  TrustBundle old_bundle;
  ASSERT_TRUE(old_bundle.AddRoot(old_ca.certificate()).ok());
  Certificate lapsed = IssueFor(old_ca, MakeIdentity("edge-vn"), old);
  EXPECT_TRUE(old_bundle.Verify({lapsed}, Clock::now() - hours(36)).ok());
  EXPECT_TRUE(Contains(old_bundle.Verify({lapsed}, Clock::now()).status(), "expired at"));

  Certificate fresh = IssueFor(hub_ca_, MakeIdentity("edge-sg", Role::kEdge, "SG"));
  s = VerifyStatus(fresh, fresh.NotBefore() - hours(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "not yet valid until ")) << s;
  s = VerifyStatus(fresh, fresh.NotAfter() + hours(1));
  EXPECT_TRUE(Contains(s, "expired")) << s;
}

TEST_F(TrustBundleTest, RevokedIsPermissionDeniedWhileSiblingsVerify) {
  Certificate revoked = IssueFor(hub_ca_, MakeIdentity("edge-vn"));
  Certificate sibling = IssueFor(hub_ca_, MakeIdentity("edge-my", Role::kEdge, "MY"));
  Certificate foreign = IssueFor(vn_ca_, MakeIdentity("vn-bank", Role::kEnterprise, "VN"));
  absl::StatusOr<RevocationList> crl = hub_ca_.IssueCrl({{revoked.SerialHex(), Clock::now()}}, 1);
  ASSERT_TRUE(crl.ok()) << crl.status();
  ASSERT_TRUE(bundle_.AddCrl(*crl).ok());

  absl::Status s = VerifyStatus(revoked);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "certificate " + revoked.SerialHex() + " of " + revoked.SubjectLine() + " is revoked");
  EXPECT_TRUE(VerifyStatus(sibling).ok());
  // The VN root comes without a CRL: its certificates still verify.
  EXPECT_TRUE(VerifyStatus(foreign).ok());
}

TEST_F(TrustBundleTest, CrlOfAnotherCaIsRefused) {
  CertificateAuthority outsider = NewCa("Outsider CA", "TH");
  absl::StatusOr<RevocationList> crl = outsider.IssueCrl({}, 1);
  ASSERT_TRUE(crl.ok());
  absl::Status s = bundle_.AddCrl(*crl);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "not signed by any root")) << s;

  // Same name as the hub root but another key: a forged CRL.
  CertificateAuthority impostor = NewCa("Beibu Root CA", "CN");
  absl::StatusOr<RevocationList> forged = impostor.IssueCrl({}, 99);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(bundle_.AddCrl(*forged).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(bundle_.crls().empty());
}

TEST_F(TrustBundleTest, NewerCrlReplacesOlderAndNeverTheReverse) {
  Certificate a = IssueFor(hub_ca_, MakeIdentity("edge-a"));
  Certificate b = IssueFor(hub_ca_, MakeIdentity("edge-b"));
  absl::StatusOr<RevocationList> v1 = hub_ca_.IssueCrl({{a.SerialHex(), Clock::now()}}, 1);
  absl::StatusOr<RevocationList> v2 = hub_ca_.IssueCrl({{b.SerialHex(), Clock::now()}}, 2);
  absl::StatusOr<RevocationList> vn = vn_ca_.IssueCrl({}, 1);
  ASSERT_TRUE(v1.ok() && v2.ok() && vn.ok());

  ASSERT_TRUE(bundle_.AddCrl(*v1).ok());
  ASSERT_TRUE(bundle_.AddCrl(*vn).ok());
  ASSERT_TRUE(bundle_.AddCrl(*v2).ok());
  EXPECT_EQ(bundle_.crls().size(), 2u);  // one per issuer
  EXPECT_TRUE(VerifyStatus(a).ok());
  EXPECT_EQ(VerifyStatus(b).code(), absl::StatusCode::kPermissionDenied);

  ASSERT_TRUE(bundle_.AddCrl(*v1).ok());  // late delivery of the old list
  EXPECT_EQ(bundle_.crls().size(), 2u);
  EXPECT_EQ(VerifyStatus(b).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(VerifyStatus(a).ok());
}

TEST_F(TrustBundleTest, WrongRoleIsPermissionDenied) {
  Certificate edge = IssueFor(hub_ca_, MakeIdentity("edge-vn"));
  absl::Status s = VerifyStatus(edge, Clock::now(), {Role::kOperator, Role::kHub});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "role edge is not allowed here (allowed: hub, operator)");
  EXPECT_TRUE(VerifyStatus(edge, Clock::now(), {Role::kEdge, Role::kHub}).ok());
}

TEST_F(TrustBundleTest, TamperedCertificatesAreUnauthenticated) {
  Certificate cert = IssueFor(hub_ca_, MakeIdentity("edge-vn"));
  Bytes bad_sig = cert.ToDer();
  bad_sig.back() ^= 1;  // last byte of the signature's s
  absl::StatusOr<Certificate> forged = Certificate::FromDer(bad_sig);
  ASSERT_TRUE(forged.ok()) << forged.status();
  absl::Status s = VerifyStatus(*forged);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "signature")) << s;

  Bytes renamed = cert.ToDer();
  std::string_view text = AsChars(renamed);
  size_t at = text.find("edge-vn");
  ASSERT_NE(at, std::string_view::npos);
  renamed[at + 5] = 'c';  // edge-cn
  absl::StatusOr<Certificate> promoted = Certificate::FromDer(renamed);
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(VerifyStatus(*promoted).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustBundleTest, CaCertificatesAreNotIdentities) {
  absl::Status s = VerifyStatus(hub_ca_.certificate());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "CA certificate")) << s;
  EXPECT_EQ(bundle_.Verify({}, Clock::now()).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustBundleTest, AddRootRefusesNonRoots) {
  Certificate leaf = IssueFor(hub_ca_, MakeIdentity("edge-vn"));
  EXPECT_EQ(bundle_.AddRoot(leaf).code(), absl::StatusCode::kInvalidArgument);

  Bytes der = hub_ca_.certificate().ToDer();
  der.back() ^= 1;
  absl::StatusOr<Certificate> broken = Certificate::FromDer(der);
  ASSERT_TRUE(broken.ok());
  TrustBundle fresh;
  absl::Status s = fresh.AddRoot(*broken);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "self-signature")) << s;

  // Adding the same root twice is harmless.
  EXPECT_TRUE(bundle_.AddRoot(hub_ca_.certificate()).ok());
  EXPECT_EQ(bundle_.roots().size(), 2u);
}

TEST_F(TrustBundleTest, PemRoundTripAndStableDigest) {
  Certificate revoked = IssueFor(hub_ca_, MakeIdentity("edge-vn"));
  absl::StatusOr<RevocationList> crl = hub_ca_.IssueCrl({{revoked.SerialHex(), Clock::now()}}, 3);
  ASSERT_TRUE(crl.ok());
  std::string before = bundle_.DigestHex();
  ASSERT_TRUE(bundle_.AddCrl(*crl).ok());
  EXPECT_NE(bundle_.DigestHex(), before);
  EXPECT_EQ(bundle_.DigestHex().size(), 64u);

  absl::StatusOr<TrustBundle> copy = TrustBundle::FromPem(bundle_.ToPem());
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->ToPem(), bundle_.ToPem());
  EXPECT_EQ(copy->DigestHex(), bundle_.DigestHex());
  EXPECT_EQ(copy->roots().size(), 2u);
  ASSERT_EQ(copy->crls().size(), 1u);
  EXPECT_EQ(copy->crls()[0].Number(), 3u);
  EXPECT_EQ(copy->Verify({revoked}, Clock::now()).status().code(),
            absl::StatusCode::kPermissionDenied);

  // CRLs may come before their roots in the text.
  std::string reordered = crl->ToPem() + hub_ca_.certificate().ToPem();
  absl::StatusOr<TrustBundle> reordered_bundle = TrustBundle::FromPem(reordered);
  ASSERT_TRUE(reordered_bundle.ok()) << reordered_bundle.status();
  EXPECT_EQ(reordered_bundle->crls().size(), 1u);
}

TEST(TrustBundleFromPemTest, RefusesGarbageAndStrayBlocks) {
  EXPECT_EQ(TrustBundle::FromPem("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrustBundle::FromPem("garbage").status().code(), absl::StatusCode::kInvalidArgument);
  CertificateAuthority ca = NewCa();
  crypto::Sm2PrivateKey key = NewKey();
  absl::Status s = TrustBundle::FromPem(ca.certificate().ToPem() + key.ToPem()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "PRIVATE KEY")) << s;
  Certificate leaf = IssueFor(ca, MakeIdentity("edge-vn"));
  EXPECT_EQ(TrustBundle::FromPem(leaf.ToPem()).status().code(), absl::StatusCode::kInvalidArgument);
  CertificateAuthority other = NewCa("Other", "SG");
  absl::StatusOr<RevocationList> foreign_crl = other.IssueCrl({}, 1);
  ASSERT_TRUE(foreign_crl.ok());
  EXPECT_EQ(TrustBundle::FromPem(ca.certificate().ToPem() + foreign_crl->ToPem()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace beibu::pki
