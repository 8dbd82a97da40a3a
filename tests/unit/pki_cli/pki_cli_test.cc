// `beibu pki init|show|issue` run as a real process, their files checked with
// the openssl CLI and the PKI library.
#include <gtest/gtest.h>

#include <filesystem>

#include "beibu/pki/authority.h"
#include "beibu/pki/trust_bundle.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu::pki {
namespace {

namespace fs = std::filesystem;
using beibu::testing::BinPath;
using beibu::testing::ReadFile;
using beibu::testing::RunResult;
using beibu::testing::TempDir;
using beibu::testing::WriteFile;

const std::string kDistId = "distid:1234567812345678";

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

RunResult Beibu(std::vector<std::string> args) {
  args.insert(args.begin(), BinPath("beibu"));
  return beibu::testing::Run(args);
}

RunResult OpenSsl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  return beibu::testing::Run(args);
}

bool OwnerOnly(const fs::path& p) {
  return fs::status(p).permissions() == (fs::perms::owner_read | fs::perms::owner_write);
}

Certificate LoadCert(const fs::path& p) {
  absl::StatusOr<Certificate> cert = Certificate::FromPem(ReadFile(p));
  EXPECT_TRUE(cert.ok()) << p << ": " << cert.status();
  return *std::move(cert);
}

class PkiCliTest : public ::testing::Test {
 protected:
  fs::path Ca() const { return tmp_ / "ca"; }
  std::string CaFile(const std::string& name) const { return (Ca() / name).string(); }

  void Init() {
    RunResult r = Beibu({"pki", "init", "--dir", Ca().string()});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
  }

  TempDir tmp_;
};

TEST_F(PkiCliTest, InitWritesACaTheOpenSslCliAccepts) {
  RunResult r = Beibu({"pki", "init", "--dir", Ca().string(), "--name", "Test Root CA", "--country",
                       "CN", "--hub-id", "hub-nanning", "--operator-id", "ops-1", "--days", "30"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  for (const char* f : {"ca.key", "ca.crt", "hub.key", "hub.crt", "operator.key", "operator.crt",
                        "trust-bundle.pem"}) {
    EXPECT_TRUE(fs::exists(Ca() / f)) << f;
    EXPECT_NE(r.out.find(CaFile(f)), std::string::npos) << f << "\n" << r.out;
  }
  for (const char* key : {"ca.key", "hub.key", "operator.key"}) {
    EXPECT_TRUE(OwnerOnly(Ca() / key)) << key;
    RunResult pkey = OpenSsl({"pkey", "-in", CaFile(key), "-noout"});
    EXPECT_EQ(pkey.exit_code, 0) << Describe(pkey);
  }
  Certificate ca = LoadCert(Ca() / "ca.crt");
  EXPECT_NE(r.out.find("ca-fingerprint: " + ca.FingerprintHex() + "\n"), std::string::npos)
      << r.out;
  EXPECT_EQ(ca.SubjectLine(), "C=CN, O=Beibu, CN=Test Root CA");
  EXPECT_EQ(ca.NotAfter() - ca.NotBefore(), std::chrono::hours(24 * 30));

  RunResult verify = OpenSsl({"verify", "-vfyopt", kDistId, "-CAfile", CaFile("ca.crt"),
                              CaFile("hub.crt"), CaFile("operator.crt")});
  EXPECT_EQ(verify.exit_code, 0) << Describe(verify);

  absl::StatusOr<TrustBundle> bundle = TrustBundle::FromPem(ReadFile(Ca() / "trust-bundle.pem"));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  absl::StatusOr<Identity> hub =
      bundle->Verify({LoadCert(Ca() / "hub.crt")}, Clock::now(), {Role::kHub});
  ASSERT_TRUE(hub.ok()) << hub.status();
  EXPECT_EQ(hub->id, "hub-nanning");
  EXPECT_EQ(hub->country, "CN");
  absl::StatusOr<Identity> op =
      bundle->Verify({LoadCert(Ca() / "operator.crt")}, Clock::now(), {Role::kOperator});
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->id, "ops-1");
  // A leaf never outlives its 30-day root.
  EXPECT_LE(LoadCert(Ca() / "hub.crt").NotAfter(), ca.NotAfter());

  // The keys belong to the certificates.
  absl::StatusOr<crypto::Sm2PrivateKey> ca_key =
      crypto::Sm2PrivateKey::FromPem(ReadFile(Ca() / "ca.key"));
  ASSERT_TRUE(ca_key.ok());
  EXPECT_TRUE(CertificateAuthority::Load(*ca_key, ca).ok());
}

TEST_F(PkiCliTest, SecondInitIsRefusedAndTheCaSurvives) {
  Init();
  std::string key_before = ReadFile(Ca() / "ca.key");
  std::string crt_before = ReadFile(Ca() / "ca.crt");
  RunResult again = Beibu({"pki", "init", "--dir", Ca().string()});
  EXPECT_EQ(again.exit_code, 2) << Describe(again);
  EXPECT_NE(again.err.find("ca.key"), std::string::npos) << again.err;
  EXPECT_EQ(ReadFile(Ca() / "ca.key"), key_before);
  EXPECT_EQ(ReadFile(Ca() / "ca.crt"), crt_before);
}

TEST_F(PkiCliTest, InitRefusesABadCountry) {
  RunResult r = Beibu({"pki", "init", "--dir", Ca().string(), "--country", "China"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_NE(r.err.find("ISO 3166"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(Ca() / "ca.key"));
}

TEST_F(PkiCliTest, IssueMakesACertificateTheCaVerifies) {
  Init();
  std::string key = (tmp_ / "edge.key").string();
  std::string crt = (tmp_ / "edge.crt").string();
  RunResult r = Beibu({"pki", "issue", "--dir", Ca().string(), "--id", "edge-vn", "--role", "edge",
                       "--country", "VN", "--org", "Acme Logistics", "--out-key", key, "--out-cert",
                       crt, "--days", "10"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(OwnerOnly(key));
  RunResult verify = OpenSsl({"verify", "-vfyopt", kDistId, "-CAfile", CaFile("ca.crt"), crt});
  EXPECT_EQ(verify.exit_code, 0) << Describe(verify);

  Certificate cert = LoadCert(crt);
  absl::StatusOr<Identity> id = cert.GetIdentity();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->id, "edge-vn");
  EXPECT_EQ(id->role, Role::kEdge);
  EXPECT_EQ(id->country, "VN");
  EXPECT_EQ(id->organization, "Acme Logistics");
  EXPECT_EQ(cert.NotAfter() - cert.NotBefore(), std::chrono::hours(24 * 10));
  absl::StatusOr<crypto::Sm2PrivateKey> k = crypto::Sm2PrivateKey::FromPem(ReadFile(key));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->PublicKey().ToDer(), cert.PublicKey()->ToDer());
  EXPECT_NE(r.out.find(cert.FingerprintHex()), std::string::npos) << r.out;
}

TEST_F(PkiCliTest, IssueRefusesBadInput) {
  Init();
  std::string key = (tmp_ / "x.key").string();
  std::string crt = (tmp_ / "x.crt").string();
  auto issue = [&](const std::string& dir, const std::string& role, const std::string& country) {
    return Beibu({"pki", "issue", "--dir", dir, "--id", "x", "--role", role, "--country", country,
                  "--out-key", key, "--out-cert", crt});
  };
  RunResult bad_role = issue(Ca().string(), "admin", "VN");
  EXPECT_EQ(bad_role.exit_code, 2) << Describe(bad_role);
  EXPECT_NE(bad_role.err.find("unknown role \"admin\""), std::string::npos) << bad_role.err;

  RunResult bad_country = issue(Ca().string(), "edge", "vn");
  EXPECT_EQ(bad_country.exit_code, 2) << Describe(bad_country);
  EXPECT_FALSE(fs::exists(key));
  EXPECT_FALSE(fs::exists(crt));

  fs::create_directories(tmp_ / "empty");
  RunResult no_ca = issue((tmp_ / "empty").string(), "edge", "VN");
  EXPECT_EQ(no_ca.exit_code, 2) << Describe(no_ca);
  EXPECT_NE(no_ca.err.find("beibu pki init"), std::string::npos) << no_ca.err;

  RunResult missing_arg = Beibu({"pki", "issue", "--dir", Ca().string(), "--id", "x"});
  EXPECT_EQ(missing_arg.exit_code, 2) << Describe(missing_arg);
}

TEST_F(PkiCliTest, IssueNeverOverwritesAKey) {
  Init();
  fs::path key = tmp_ / "edge.key";
  WriteFile(key, "precious");
  RunResult r = Beibu({"pki", "issue", "--dir", Ca().string(), "--id", "edge-vn", "--role", "edge",
                       "--country", "VN", "--out-key", key.string(), "--out-cert",
                       (tmp_ / "edge.crt").string()});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_EQ(ReadFile(key), "precious");
}

TEST_F(PkiCliTest, ShowDescribesCertificatesChainsAndCrls) {
  Init();
  RunResult hub = Beibu({"pki", "show", CaFile("hub.crt")});
  ASSERT_EQ(hub.exit_code, 0) << Describe(hub);
  Certificate hub_cert = LoadCert(Ca() / "hub.crt");
  for (const std::string& want : {hub_cert.Summary()}) {
    EXPECT_NE(hub.out.find(want), std::string::npos) << hub.out;
  }

  fs::path chain = tmp_ / "chain.pem";
  WriteFile(chain, ReadFile(Ca() / "hub.crt") + ReadFile(Ca() / "ca.crt"));
  RunResult both = Beibu({"pki", "show", chain.string()});
  ASSERT_EQ(both.exit_code, 0) << Describe(both);
  EXPECT_NE(both.out.find("role:            hub"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("role:            certificate authority"), std::string::npos) << both.out;

  absl::StatusOr<crypto::Sm2PrivateKey> ca_key =
      crypto::Sm2PrivateKey::FromPem(ReadFile(Ca() / "ca.key"));
  ASSERT_TRUE(ca_key.ok());
  absl::StatusOr<CertificateAuthority> ca =
      CertificateAuthority::Load(*ca_key, LoadCert(Ca() / "ca.crt"));
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<RevocationList> crl = ca->IssueCrl({{hub_cert.SerialHex(), Clock::now()}}, 4);
  ASSERT_TRUE(crl.ok());
  fs::path bundle = tmp_ / "bundle.pem";
  WriteFile(bundle, ReadFile(Ca() / "ca.crt") + crl->ToPem());
  RunResult shown = Beibu({"pki", "show", bundle.string()});
  ASSERT_EQ(shown.exit_code, 0) << Describe(shown);
  for (const std::string& want :
       {std::string("CRL issuer:      C=CN, O=Beibu, CN=Beibu Root CA"),
        std::string("CRL number:      4"), hub_cert.SerialHex(), std::string("next update:")}) {
    EXPECT_NE(shown.out.find(want), std::string::npos) << want << "\n" << shown.out;
  }
}

TEST_F(PkiCliTest, ShowRefusesFilesWithoutCertificatesOrCrls) {
  fs::path junk = tmp_ / "junk.txt";
  WriteFile(junk, "hello, not a certificate\n");
  RunResult r = Beibu({"pki", "show", junk.string()});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_NE(r.err.find("neither a certificate nor a CRL"), std::string::npos) << r.err;

  fs::path broken = tmp_ / "broken.pem";
  WriteFile(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  r = Beibu({"pki", "show", broken.string()});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);

  r = Beibu({"pki", "show", (tmp_ / "missing.pem").string()});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
}

}  // namespace
}  // namespace beibu::pki
