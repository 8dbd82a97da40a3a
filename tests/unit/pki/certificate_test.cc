#include "beibu/pki/certificate.h"

#include <gtest/gtest.h>

#include "beibu/crypto/random.h"
#include "beibu/crypto/sm3.h"
#include "pki_test_util.h"

namespace beibu::pki {
namespace {

using testing::IssueFor;
using testing::MakeIdentity;
using testing::NewCa;
using testing::NewKey;

// Replaces the first occurrence of `from` in `der` by `to` (same length).
Bytes Patch(Bytes der, std::string_view from, std::string_view to) {
  std::string_view text = AsChars(der);
  size_t at = text.find(from);
  EXPECT_NE(at, std::string_view::npos) << from;
  if (at != std::string_view::npos) std::copy(to.begin(), to.end(), der.begin() + at);
  return der;
}

TEST(CertificateTest, PemAndDerRoundTrip) {
  CertificateAuthority ca = NewCa();
  Certificate cert = IssueFor(ca, MakeIdentity("edge-vn"));
  std::string pem = cert.ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u) << pem;

  absl::StatusOr<Certificate> from_pem = Certificate::FromPem(pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_EQ(from_pem->ToDer(), cert.ToDer());
  EXPECT_EQ(from_pem->ToPem(), pem);

  absl::StatusOr<Certificate> from_der = Certificate::FromDer(cert.ToDer());
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(from_der->ToDer(), cert.ToDer());
  EXPECT_EQ(*from_der->GetIdentity(), *cert.GetIdentity());
}

TEST(CertificateTest, FingerprintIsSm3OfDer) {
  CertificateAuthority ca = NewCa();
  Certificate cert = IssueFor(ca, MakeIdentity("edge-vn"));
  EXPECT_EQ(cert.FingerprintHex(), HexEncode(crypto::Sm3::Hash(cert.ToDer())));
  EXPECT_EQ(cert.FingerprintHex().size(), 64u);
}

TEST(CertificateTest, CopiesShareTheSameCertificate) {
  CertificateAuthority ca = NewCa();
  Certificate cert = IssueFor(ca, MakeIdentity("edge-vn"));
  Certificate copy = cert;
  Certificate assigned = ca.certificate();
  assigned = cert;
  EXPECT_EQ(copy.ToDer(), cert.ToDer());
  EXPECT_EQ(assigned.ToDer(), cert.ToDer());
  Certificate moved = std::move(copy);
  EXPECT_EQ(moved.ToDer(), cert.ToDer());
}

TEST(CertificateTest, AllFromPemKeepsOrderAndSkipsOtherBlocks) {
  CertificateAuthority ca = NewCa();
  crypto::Sm2PrivateKey key = NewKey();
  absl::StatusOr<Certificate> leaf = ca.Issue(key.PublicKey(), MakeIdentity("edge-vn"));
  ASSERT_TRUE(leaf.ok());
  std::string pem = key.ToPem() + leaf->ToPem() + ca.certificate().ToPem();
  absl::StatusOr<std::vector<Certificate>> all = Certificate::AllFromPem(pem);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].ToDer(), leaf->ToDer());
  EXPECT_EQ((*all)[1].ToDer(), ca.certificate().ToDer());
  // FromPem takes the first certificate.
  EXPECT_EQ(Certificate::FromPem(pem)->ToDer(), leaf->ToDer());
}

TEST(CertificateTest, AccessorsDescribeTheCertificate) {
  CertificateAuthority ca = NewCa();
  Certificate cert = IssueFor(ca, MakeIdentity("edge-vn", Role::kEdge, "VN", "Acme"));
  EXPECT_EQ(cert.SubjectLine(), "C=VN, O=Acme, OU=edge, CN=edge-vn");
  EXPECT_EQ(cert.IssuerLine(), "C=CN, O=Beibu, CN=Beibu Root CA");
  std::string summary = cert.Summary();
  for (const std::string& want :
       {cert.SubjectLine(), cert.IssuerLine(), cert.SerialHex(), cert.FingerprintHex(),
        std::string("role:            edge"), HexEncode(cert.PublicKey()->Fingerprint())}) {
    EXPECT_NE(summary.find(want), std::string::npos) << want << "\n" << summary;
  }
  EXPECT_NE(ca.certificate().Summary().find("certificate authority"), std::string::npos);
}

TEST(CertificateTest, GarbagePemIsInvalidArgument) {
  const std::string inputs[] = {
      "",
      "hello",
      "-----BEGIN CERTIFICATE-----\n",
      "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      std::string(100000, '-'),
  };
  for (const std::string& pem : inputs) {
    EXPECT_EQ(Certificate::FromPem(pem).status().code(), absl::StatusCode::kInvalidArgument)
        << pem.substr(0, 80);
    EXPECT_EQ(Certificate::AllFromPem(pem).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(CertificateRequest::FromPem(pem).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(RevocationList::FromPem(pem).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(CertificateTest, GarbageDerIsInvalidArgumentAndNeverCrashes) {
  CertificateAuthority ca = NewCa();
  Bytes der = IssueFor(ca, MakeIdentity("edge-vn")).ToDer();
  EXPECT_EQ(Certificate::FromDer({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Certificate::FromDer(crypto::RandomBytes(300)).status().code(),
            absl::StatusCode::kInvalidArgument);
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(Certificate::FromDer(trailing).status().code(), absl::StatusCode::kInvalidArgument);
  // Every truncation fails cleanly.
  for (size_t n = 0; n < der.size(); ++n) {
    EXPECT_EQ(Certificate::FromDer(ByteView(der.data(), n)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << n;
  }
  // Every single-byte corruption either fails to parse or parses into
  // something whose accessors still work.
  for (size_t i = 0; i < der.size(); ++i) {
    Bytes bad = der;
    bad[i] ^= 0x5a;
    absl::StatusOr<Certificate> cert = Certificate::FromDer(bad);
    if (!cert.ok()) {
      EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    (void)cert->Summary();
    (void)cert->GetIdentity();
  }
}

TEST(CertificateRequestTest, CreateParseAndVerify) {
  crypto::Sm2PrivateKey key = NewKey();
  absl::StatusOr<CertificateRequest> csr =
      CertificateRequest::Create(key, MakeIdentity("edge-vn", Role::kEdge, "VN", "Acme"));
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_TRUE(csr->VerifySelfSignature().ok()) << csr->VerifySelfSignature();
  EXPECT_EQ(csr->PublicKey()->ToDer(), key.PublicKey().ToDer());

  absl::StatusOr<CertificateRequest> from_der = CertificateRequest::FromDer(csr->ToDer());
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(from_der->ToDer(), csr->ToDer());
  EXPECT_TRUE(from_der->VerifySelfSignature().ok());

  std::string pem = csr->ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0), 0u) << pem;
  absl::StatusOr<CertificateRequest> from_pem = CertificateRequest::FromPem(pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_EQ(from_pem->ToDer(), csr->ToDer());
  EXPECT_TRUE(from_pem->VerifySelfSignature().ok());
}

TEST(CertificateRequestTest, TamperedRequestIsRefused) {
  crypto::Sm2PrivateKey key = NewKey();
  absl::StatusOr<CertificateRequest> csr = CertificateRequest::Create(key, MakeIdentity("edge-vn"));
  ASSERT_TRUE(csr.ok());
  absl::StatusOr<CertificateRequest> renamed =
      CertificateRequest::FromDer(Patch(csr->ToDer(), "edge-vn", "edge-cn"));
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->VerifySelfSignature().code(), absl::StatusCode::kUnauthenticated);

  Bytes bad_sig = csr->ToDer();
  bad_sig.back() ^= 1;  // last byte of the signature's s
  absl::StatusOr<CertificateRequest> forged = CertificateRequest::FromDer(bad_sig);
  ASSERT_TRUE(forged.ok()) << forged.status();
  EXPECT_EQ(forged->VerifySelfSignature().code(), absl::StatusCode::kUnauthenticated);
}

TEST(CertificateRequestTest, GarbageAndBadIdentitiesAreInvalidArgument) {
  EXPECT_EQ(CertificateRequest::FromDer({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateRequest::FromDer(crypto::RandomBytes(200)).status().code(),
            absl::StatusCode::kInvalidArgument);
  crypto::Sm2PrivateKey key = NewKey();
  EXPECT_EQ(CertificateRequest::Create(key, MakeIdentity("x", Role::kEdge, "xx")).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<CertificateRequest> csr = CertificateRequest::Create(key, MakeIdentity("x"));
  ASSERT_TRUE(csr.ok());
  Bytes der = csr->ToDer();
  for (size_t n = 0; n < der.size(); ++n) {
    EXPECT_FALSE(CertificateRequest::FromDer(ByteView(der.data(), n)).ok()) << n;
  }
}

TEST(CertificateRequestTest, RequestedNameMayBeIncomplete) {
  // An enrolling node may not know its country yet: the join token decides.
  Identity pending;
  pending.id = "pending";
  absl::StatusOr<CertificateRequest> csr = CertificateRequest::Create(NewKey(), pending);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_TRUE(csr->VerifySelfSignature().ok());
  EXPECT_TRUE(CertificateRequest::Create(NewKey(), Identity{}).ok());
}

TEST(CertificateRequestTest, CaIssuesForTheRequestKey) {
  CertificateAuthority ca = NewCa();
  crypto::Sm2PrivateKey key = NewKey();
  absl::StatusOr<CertificateRequest> csr =
      CertificateRequest::Create(key, MakeIdentity("asked-for-this"));
  ASSERT_TRUE(csr.ok());
  ASSERT_TRUE(csr->VerifySelfSignature().ok());
  absl::StatusOr<Certificate> cert =
      ca.Issue(*csr->PublicKey(), MakeIdentity("token-says-this", Role::kEnterprise, "VN"));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->GetIdentity()->id, "token-says-this");
  EXPECT_EQ(cert->PublicKey()->ToDer(), key.PublicKey().ToDer());
}

}  // namespace
}  // namespace beibu::pki
