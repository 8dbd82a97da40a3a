// Our files against the openssl CLI, both ways. OpenSSL 3.0 signs and
// verifies SM2 with an empty distinguishing ID unless told otherwise, while
// Beibu (like every national-standard implementation) uses 1234567812345678;
// hence `-vfyopt distid:...` wherever openssl checks one of our signatures.
#include <gtest/gtest.h>

#include "beibu/pki/trust_bundle.h"
#include "pki_test_util.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu::pki {
namespace {

using beibu::testing::ReadFile;
using beibu::testing::RunResult;
using beibu::testing::TempDir;
using beibu::testing::WriteFile;
using testing::MakeIdentity;
using testing::NewCa;
using testing::NewKey;

// Not `Run`: inside a fixture that name is gtest's own Test::Run().
RunResult RunCli(const std::vector<std::string>& argv) { return beibu::testing::Run(argv); }

const std::string kDistId = "distid:1234567812345678";

class OpenSslInteropTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  std::string Write(const std::string& name, const std::string& content) {
    WriteFile(dir_ / name, content);
    return Path(name);
  }
  TempDir dir_;
};

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

TEST_F(OpenSslInteropTest, X509TextShowsTheProfile) {
  CertificateAuthority ca = NewCa();
  Certificate leaf = testing::IssueFor(ca, MakeIdentity("edge-vn", Role::kEdge, "VN", "Acme"));
  std::string root_path = Write("root.pem", ca.certificate().ToPem());
  std::string leaf_path = Write("leaf.pem", leaf.ToPem());

  RunResult root = RunCli({"openssl", "x509", "-in", root_path, "-text", "-noout"});
  ASSERT_EQ(root.exit_code, 0) << Describe(root);
  for (const char* want : {"SM2-with-SM3", "CA:TRUE, pathlen:0", "Certificate Sign, CRL Sign",
                           "Subject Key Identifier", "Version: 3"}) {
    EXPECT_NE(root.out.find(want), std::string::npos) << want << "\n" << root.out;
  }
  RunResult text = RunCli({"openssl", "x509", "-in", leaf_path, "-text", "-noout"});
  ASSERT_EQ(text.exit_code, 0) << Describe(text);
  for (const char* want : {"SM2-with-SM3", "CA:FALSE", "Digital Signature, Key Agreement",
                           "TLS Web Client Authentication", "TLS Web Server Authentication",
                           "Authority Key Identifier", "OU = edge", "CN = edge-vn"}) {
    EXPECT_NE(text.out.find(want), std::string::npos) << want << "\n" << text.out;
  }
}

TEST_F(OpenSslInteropTest, OpenSslVerifiesOurChain) {
  CertificateAuthority ca = NewCa();
  Certificate leaf = testing::IssueFor(ca, MakeIdentity("edge-vn"));
  std::string root_path = Write("root.pem", ca.certificate().ToPem());
  std::string leaf_path = Write("leaf.pem", leaf.ToPem());
  RunResult ok = RunCli({"openssl", "verify", "-vfyopt", kDistId, "-CAfile", root_path, leaf_path});
  EXPECT_EQ(ok.exit_code, 0) << Describe(ok);
  EXPECT_NE(ok.out.find("leaf.pem: OK"), std::string::npos) << ok.out;

  CertificateAuthority other = NewCa();
  std::string other_path = Write("other.pem", other.certificate().ToPem());
  RunResult refused =
      RunCli({"openssl", "verify", "-vfyopt", kDistId, "-CAfile", other_path, leaf_path});
  EXPECT_NE(refused.exit_code, 0) << Describe(refused);
}

TEST_F(OpenSslInteropTest, OpenSslReadsOurKeysCsrsAndCrls) {
  crypto::Sm2PrivateKey key = NewKey();
  std::string key_path = Write("key.pem", key.ToPem());
  RunResult pkey = RunCli({"openssl", "pkey", "-in", key_path, "-noout"});
  EXPECT_EQ(pkey.exit_code, 0) << Describe(pkey);

  absl::StatusOr<CertificateRequest> csr = CertificateRequest::Create(key, MakeIdentity("edge-vn"));
  ASSERT_TRUE(csr.ok());
  std::string csr_path = Write("csr.pem", csr->ToPem());
  RunResult req =
      RunCli({"openssl", "req", "-verify", "-vfyopt", kDistId, "-in", csr_path, "-noout"});
  EXPECT_EQ(req.exit_code, 0) << Describe(req);
  EXPECT_NE((req.out + req.err).find("verify OK"), std::string::npos) << Describe(req);

  CertificateAuthority ca = NewCa();
  Certificate leaf = testing::IssueFor(ca, MakeIdentity("edge-vn"));
  absl::StatusOr<RevocationList> crl = ca.IssueCrl({{leaf.SerialHex(), Clock::now()}}, 42);
  ASSERT_TRUE(crl.ok());
  std::string crl_path = Write("crl.pem", crl->ToPem());
  RunResult text = RunCli({"openssl", "crl", "-in", crl_path, "-text", "-noout"});
  ASSERT_EQ(text.exit_code, 0) << Describe(text);
  std::string serial_upper = leaf.SerialHex();
  for (char& c : serial_upper) c = static_cast<char>(std::toupper(c));
  for (const std::string& want : {std::string("SM2-with-SM3"), std::string("X509v3 CRL Number"),
                                  std::string("42"), serial_upper}) {
    EXPECT_NE(text.out.find(want), std::string::npos) << want << "\n" << text.out;
  }
}

// The other direction: a foreign CA run with the openssl CLI (and the
// standard ID) is accepted by our trust bundle, with its CRL.
TEST_F(OpenSslInteropTest, TrustBundleAcceptsAnOpenSslMadeCa) {
  auto run = [](const std::vector<std::string>& argv) {
    RunResult r = RunCli(argv);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    return r;
  };
  std::string ca_key = Path("ca.key"), ca_crt = Path("ca.crt");
  std::string leaf_key = Path("leaf.key"), leaf_csr = Path("leaf.csr"), leaf_crt = Path("leaf.crt");
  std::string ext = Write("ext.cnf",
                          "[ca]\nbasicConstraints=critical,CA:TRUE\n"
                          "keyUsage=critical,keyCertSign,cRLSign\n"
                          "subjectKeyIdentifier=hash\n"
                          "[leaf]\nbasicConstraints=critical,CA:FALSE\n"
                          "keyUsage=critical,digitalSignature,keyAgreement\n"
                          "authorityKeyIdentifier=keyid\n");
  run({"openssl", "genpkey", "-algorithm", "SM2", "-out", ca_key});
  run({"openssl", "req", "-new", "-x509", "-key", ca_key, "-sm3", "-sigopt", kDistId, "-subj",
       "/C=MY/O=MY PKI/CN=MY National CA", "-days", "30", "-extensions", "ca", "-config", ext,
       "-out", ca_crt});
  run({"openssl", "genpkey", "-algorithm", "SM2", "-out", leaf_key});
  run({"openssl", "req", "-new", "-key", leaf_key, "-sm3", "-sigopt", kDistId, "-subj",
       "/C=MY/OU=enterprise/CN=my-rubber", "-out", leaf_csr});
  run({"openssl",  "x509",  "-req",        "-in",    leaf_csr,      "-vfyopt",
       kDistId,    "-CA",   ca_crt,        "-CAkey", ca_key,        "-sm3",
       "-sigopt",  kDistId, "-days",       "10",     "-set_serial", "0x1234abcd",
       "-extfile", ext,     "-extensions", "leaf",   "-out",        leaf_crt});

  TrustBundle bundle;
  absl::StatusOr<Certificate> root = Certificate::FromPem(ReadFile(ca_crt));
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_TRUE(bundle.AddRoot(*root).ok()) << bundle.AddRoot(*root);
  absl::StatusOr<Certificate> leaf = Certificate::FromPem(ReadFile(leaf_crt));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  absl::StatusOr<Identity> id = bundle.Verify({*leaf}, Clock::now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->id, "my-rubber");
  EXPECT_EQ(id->role, Role::kEnterprise);
  EXPECT_EQ(id->serial_hex, "1234abcd");

  // Its CRL, made by `openssl ca -gencrl`, is accepted and enforced.
  std::string db = Write("index.txt", "");
  std::string crl_pem = Path("crl.pem");
  std::string ca_cnf = Write("ca.cnf", "[ca]\ndefault_ca=my\n[my]\ndatabase=" + db +
                                           "\ndefault_md=sm3\ndefault_crl_days=7\ncrlnumber=" +
                                           Write("crlnumber", "05\n") + "\n");
  run({"openssl", "ca", "-config", ca_cnf, "-keyfile", ca_key, "-cert", ca_crt, "-revoke", leaf_crt,
       "-batch"});
  run({"openssl", "ca", "-config", ca_cnf, "-keyfile", ca_key, "-cert", ca_crt, "-gencrl",
       "-sigopt", kDistId, "-out", crl_pem, "-batch"});
  absl::StatusOr<RevocationList> crl = RevocationList::FromPem(ReadFile(crl_pem));
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_EQ(crl->Number(), 5u);
  ASSERT_TRUE(bundle.AddCrl(*crl).ok()) << bundle.AddCrl(*crl);
  EXPECT_EQ(bundle.Verify({*leaf}, Clock::now()).status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace beibu::pki
