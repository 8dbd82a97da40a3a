// pki::VerifySignedBy: the signer check shared by signed compliance
// databases and officers' approvals.
#include "beibu/pki/signed_by.h"

#include <gtest/gtest.h>

#include "beibu/pki/trust_bundle.h"
#include "pki_test_util.h"

namespace beibu::pki {
namespace {

using testing::MakeIdentity;
using testing::NewCa;
using testing::NewKey;

class SignedByTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bundle_.AddRoot(ca_.certificate()).ok());
    absl::StatusOr<Certificate> cert =
        ca_.Issue(key_.PublicKey(), MakeIdentity("vn-officer", Role::kOfficer, "VN"));
    ASSERT_TRUE(cert.ok()) << cert.status();
    pem_ = cert->ToPem();
    serial_ = cert->SerialHex();
    absl::StatusOr<Bytes> sig = key_.Sign(AsBytes(message_));
    ASSERT_TRUE(sig.ok()) << sig.status();
    signature_ = *std::move(sig);
  }

  absl::StatusOr<Identity> Check(std::string_view pem, std::string_view message) {
    return VerifySignedBy(pem, AsBytes(message), signature_, bundle_, Clock::now());
  }

  CertificateAuthority ca_ = NewCa();
  TrustBundle bundle_;
  crypto::Sm2PrivateKey key_ = NewKey();
  std::string pem_;
  std::string serial_;
  std::string message_ = "approve ticket 42";
  Bytes signature_;
};

TEST_F(SignedByTest, AGoodSignatureNamesItsSigner) {
  absl::StatusOr<Identity> who = Check(pem_, message_);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->id, "vn-officer");
  EXPECT_EQ(who->role, Role::kOfficer);
  EXPECT_EQ(who->country, "VN");
}

TEST_F(SignedByTest, AnAlteredMessageDoesNotVerify) {
  absl::StatusOr<Identity> who = Check(pem_, "approve ticket 43");
  ASSERT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(who.status().message().find("signature by vn-officer"), std::string::npos)
      << who.status();
}

TEST_F(SignedByTest, UnreadableOrEmptyCertificatesAreRefused) {
  for (std::string_view pem : {std::string_view(""), std::string_view("not a certificate"),
                               std::string_view("-----BEGIN CERTIFICATE-----\nAAAA\n")}) {
    absl::StatusOr<Identity> who = Check(pem, message_);
    ASSERT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated) << pem;
    EXPECT_NE(who.status().message().find("signer certificate unreadable"), std::string::npos)
        << who.status();
  }
}

TEST_F(SignedByTest, AnotherCasCertificateIsNotTrusted) {
  CertificateAuthority other = NewCa("Other Root", "SG");
  absl::StatusOr<Certificate> foreign =
      other.Issue(key_.PublicKey(), MakeIdentity("vn-officer", Role::kOfficer, "VN"));
  ASSERT_TRUE(foreign.ok());
  absl::StatusOr<Identity> who = Check(foreign->ToPem(), message_);
  ASSERT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(who.status().message().find("not trusted"), std::string::npos) << who.status();
}

TEST_F(SignedByTest, ARevokedSignerIsRefused) {
  absl::StatusOr<RevocationList> crl = ca_.IssueCrl({{serial_, Clock::now()}}, 1);
  ASSERT_TRUE(crl.ok()) << crl.status();
  ASSERT_TRUE(bundle_.AddCrl(*crl).ok());
  absl::StatusOr<Identity> who = Check(pem_, message_);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated) << who.status();
}

TEST_F(SignedByTest, ACertificateOfAnotherKeyDoesNotVerify) {
  absl::StatusOr<Certificate> other_key =
      ca_.Issue(NewKey().PublicKey(), MakeIdentity("vn-officer", Role::kOfficer, "VN"));
  ASSERT_TRUE(other_key.ok());
  absl::StatusOr<Identity> who = Check(other_key->ToPem(), message_);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated) << who.status();
}

}  // namespace
}  // namespace beibu::pki
