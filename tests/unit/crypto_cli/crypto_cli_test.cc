// `beibu crypto ...` against the openssl CLI, in both directions, plus the
// documented exit codes: 0 ok, 1 check failed, 2 bad arguments or input.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "beibu/crypto/crypto.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu {
namespace {

using testing::BinPath;
using testing::ReadFile;
using testing::RunResult;
using testing::TempDir;
using testing::WriteFile;

constexpr int kOk = 0, kInvalid = 1, kUsage = 2;
constexpr char kDistId[] = "distid:1234567812345678";

class CryptoCliTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs `beibu crypto ARGS...`.
  RunResult Beibu(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), {BinPath("beibu"), "crypto"});
    return testing::Run(args, stdin_data);
  }

  // Runs `openssl ARGS...`, failing the test unless it succeeds.
  std::string Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    RunResult r = testing::Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[1] << ": " << r.err;
    return r.out;
  }

  // An SM2 key pair made by openssl: k.pem and p.pem.
  void OpensslKeyPair() {
    Openssl({"genpkey", "-algorithm", "SM2", "-out", Path("k.pem")});
    Openssl({"pkey", "-in", Path("k.pem"), "-pubout", "-out", Path("p.pem")});
  }

  // Writes a random file `name` of `size` bytes.
  void RandomFile(const std::string& name, size_t size) {
    WriteFile(dir_ / name, std::string(AsChars(crypto::RandomBytes(size))));
  }

  // Signs `file` with beibu into `sig`, expecting success.
  void BeibuSign(const std::string& key, const std::string& file, const std::string& sig,
                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"sign", "--key", Path(key)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(Path(file));
    RunResult r = Beibu(args);
    ASSERT_EQ(r.exit_code, kOk) << r.err;
    ASSERT_TRUE(r.err.empty()) << r.err;
    WriteFile(dir_ / sig, r.out);
  }

  RunResult BeibuVerify(const std::string& pub, const std::string& sig, const std::string& file,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"verify", "--pub", Path(pub), "--sig", Path(sig)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(Path(file));
    return Beibu(args);
  }

  // True when `openssl dgst -verify` accepts the signature.
  bool OpensslVerifies(const std::string& pub, const std::string& sig, const std::string& file,
                       const std::string& distid = kDistId) {
    RunResult r = testing::Run({"openssl", "dgst", "-sm3", "-verify", Path(pub), "-sigopt", distid,
                                "-signature", Path(sig), Path(file)});
    return r.exit_code == 0 && r.out == "Verified OK\n";
  }

  TempDir dir_;
};

// --- sm3 ---------------------------------------------------------------------

TEST_F(CryptoCliTest, Sm3MatchesOpenssl) {
  // Sizes around the 1 MiB read chunk as well as trivial ones.
  for (size_t size : {size_t{0}, size_t{1}, size_t{65}, (size_t{1} << 20) + 7}) {
    RandomFile("f", size);
    RunResult r = Beibu({"sm3", Path("f")});
    ASSERT_EQ(r.exit_code, kOk) << r.err;
    std::string theirs = Openssl({"dgst", "-sm3", "-r", Path("f")});
    EXPECT_EQ(r.out, theirs.substr(0, 64) + "\n") << "size " << size;
  }
}

TEST_F(CryptoCliTest, Sm3ReadsStandardInput) {
  RunResult r = Beibu({"sm3", "-"}, "abc");
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  // GB/T 32905-2016 example 1.
  EXPECT_EQ(r.out, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0\n");
}

TEST_F(CryptoCliTest, Sm3OfMissingFileOrDirectoryIsUsageError) {
  RunResult r = Beibu({"sm3", Path("missing")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
  EXPECT_EQ(Beibu({"sm3", dir_.path().string()}).exit_code, kUsage);
}

// --- sign / verify interoperability ------------------------------------------

TEST_F(CryptoCliTest, OpensslSignatureVerifiesWithBeibu) {
  OpensslKeyPair();
  RandomFile("msg", 10000);
  Openssl({"dgst", "-sm3", "-sign", Path("k.pem"), "-sigopt", kDistId, "-out", Path("sig"),
           Path("msg")});
  RunResult r = BeibuVerify("p.pem", "sig", "msg");
  EXPECT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out, "valid\n");
}

TEST_F(CryptoCliTest, BeibuSignatureVerifiesWithOpenssl) {
  OpensslKeyPair();
  RandomFile("msg", 10000);
  BeibuSign("k.pem", "msg", "sig");
  EXPECT_TRUE(OpensslVerifies("p.pem", "sig", "msg"));
  EXPECT_EQ(BeibuVerify("p.pem", "sig", "msg").exit_code, kOk);
}

TEST_F(CryptoCliTest, BeibuKeygenKeysWorkWithOpenssl) {
  RunResult r = Beibu({"keygen", "--out", Path("k.pem"), "--pub", Path("p.pem")});
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  struct stat st;
  ASSERT_EQ(stat(Path("k.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Openssl({"pkey", "-in", Path("k.pem"), "-pubout"}), ReadFile(dir_ / "p.pem"));

  RandomFile("msg", 3000);
  BeibuSign("k.pem", "msg", "sig");
  EXPECT_TRUE(OpensslVerifies("p.pem", "sig", "msg"));
  Openssl({"dgst", "-sm3", "-sign", Path("k.pem"), "-sigopt", kDistId, "-out", Path("osig"),
           Path("msg")});
  EXPECT_EQ(BeibuVerify("p.pem", "osig", "msg").exit_code, kOk);
}

TEST_F(CryptoCliTest, CustomIdMatchesOpensslDistid) {
  OpensslKeyPair();
  RandomFile("msg", 100);
  BeibuSign("k.pem", "msg", "sig", {"--id", "alice@example.com"});
  EXPECT_TRUE(OpensslVerifies("p.pem", "sig", "msg", "distid:alice@example.com"));
  EXPECT_EQ(BeibuVerify("p.pem", "sig", "msg", {"--id", "alice@example.com"}).exit_code, kOk);
  RunResult r = BeibuVerify("p.pem", "sig", "msg");
  EXPECT_EQ(r.exit_code, kInvalid);
  EXPECT_NE(r.err.find("--id"), std::string::npos) << r.err;
}

TEST_F(CryptoCliTest, VerifyWithCertificate) {
  OpensslKeyPair();
  Openssl({"req", "-new", "-x509", "-key", Path("k.pem"), "-sm3", "-sigopt", kDistId, "-subj",
           "/CN=signer", "-days", "1", "-out", Path("cert.pem")});
  Openssl({"x509", "-in", Path("cert.pem"), "-outform", "DER", "-out", Path("cert.der")});
  RandomFile("msg", 500);
  BeibuSign("k.pem", "msg", "sig");
  for (const char* cert : {"cert.pem", "cert.der"}) {
    RunResult r = Beibu({"verify", "--cert", Path(cert), "--sig", Path("sig"), Path("msg")});
    EXPECT_EQ(r.exit_code, kOk) << cert << ": " << r.err;
    EXPECT_EQ(r.out, "valid\n");
  }
  RunResult r = Beibu({"verify", "--cert", Path("k.pem"), "--sig", Path("sig"), Path("msg")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("not an X.509 certificate"), std::string::npos) << r.err;
}

// --- failed checks: exit 1 ---------------------------------------------------

TEST_F(CryptoCliTest, TamperedFileIsInvalid) {
  OpensslKeyPair();
  WriteFile(dir_ / "msg", "pay 100 yuan");
  BeibuSign("k.pem", "msg", "sig");
  WriteFile(dir_ / "msg", "pay 900 yuan");
  RunResult r = BeibuVerify("p.pem", "sig", "msg");
  EXPECT_EQ(r.exit_code, kInvalid);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("invalid"), std::string::npos) << r.err;
}

TEST_F(CryptoCliTest, TamperedOrGarbageSignatureIsInvalid) {
  OpensslKeyPair();
  RandomFile("msg", 100);
  BeibuSign("k.pem", "msg", "sig");
  std::string sig = ReadFile(dir_ / "sig");
  sig.back() ^= 1;
  WriteFile(dir_ / "bad", sig);
  EXPECT_EQ(BeibuVerify("p.pem", "bad", "msg").exit_code, kInvalid);
  for (const std::string& garbage : {std::string(), std::string("not a signature"),
                                     std::string(AsChars(crypto::RandomBytes(70)))}) {
    WriteFile(dir_ / "bad", garbage);
    EXPECT_EQ(BeibuVerify("p.pem", "bad", "msg").exit_code, kInvalid) << garbage;
  }
}

TEST_F(CryptoCliTest, OtherSignersKeyIsInvalid) {
  OpensslKeyPair();
  ASSERT_EQ(Beibu({"keygen", "--out", Path("k2.pem"), "--pub", Path("p2.pem")}).exit_code, kOk);
  RandomFile("msg", 100);
  BeibuSign("k2.pem", "msg", "sig");
  EXPECT_EQ(BeibuVerify("p.pem", "sig", "msg").exit_code, kInvalid);
}

// --- malformed input and usage: exit 2 ---------------------------------------

TEST_F(CryptoCliTest, MalformedKeysAreUsageErrors) {
  OpensslKeyPair();
  RandomFile("msg", 100);
  BeibuSign("k.pem", "msg", "sig");
  WriteFile(dir_ / "garbage.pem",
            "-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n");
  RunResult r = BeibuVerify("garbage.pem", "sig", "msg");
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("garbage.pem"), std::string::npos) << r.err;
  // A private key where the public key belongs, and vice versa.
  EXPECT_EQ(BeibuVerify("k.pem", "sig", "msg").exit_code, kUsage);
  EXPECT_EQ(Beibu({"sign", "--key", Path("p.pem"), Path("msg")}).exit_code, kUsage);
  EXPECT_EQ(BeibuVerify("missing.pem", "sig", "msg").exit_code, kUsage);
  EXPECT_EQ(BeibuVerify("p.pem", "missing.sig", "msg").exit_code, kUsage);
  EXPECT_EQ(BeibuVerify("p.pem", "sig", "missing").exit_code, kUsage);
}

TEST_F(CryptoCliTest, NonSm2KeyIsRefusedWithAHint) {
  Openssl({"genpkey", "-algorithm", "ED25519", "-out", Path("ed.pem")});
  RandomFile("msg", 10);
  RunResult r = Beibu({"sign", "--key", Path("ed.pem"), Path("msg")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("not SM2"), std::string::npos) << r.err;
}

TEST_F(CryptoCliTest, EncryptedKeyIsRefusedWithoutPrompting) {
  OpensslKeyPair();
  Openssl(
      {"pkey", "-in", Path("k.pem"), "-aes256", "-passout", "pass:pw", "-out", Path("enc.pem")});
  RandomFile("msg", 10);
  RunResult r = Beibu({"sign", "--key", Path("enc.pem"), Path("msg")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_EQ(r.err.find("pass phrase"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unencrypted"), std::string::npos) << r.err;
}

TEST_F(CryptoCliTest, SignRefusesFilesOverOneGiB) {
  OpensslKeyPair();
  // A sparse file: no disk space or time spent on its contents.
  WriteFile(dir_ / "huge", "");
  std::filesystem::resize_file(dir_ / "huge", (uintmax_t{1} << 30) + 1);
  RunResult r = Beibu({"sign", "--key", Path("k.pem"), Path("huge")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("larger than 1024 MiB"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(CryptoCliTest, KeygenRefusesToOverwriteUnlessForced) {
  ASSERT_EQ(Beibu({"keygen", "--out", Path("k.pem")}).exit_code, kOk);
  std::string first = ReadFile(dir_ / "k.pem");
  RunResult r = Beibu({"keygen", "--out", Path("k.pem")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "k.pem"), first);

  // A pre-existing world-readable file is replaced by a 0600 one.
  chmod(Path("k.pem").c_str(), 0644);
  ASSERT_EQ(Beibu({"keygen", "--out", Path("k.pem"), "--force"}).exit_code, kOk);
  EXPECT_NE(ReadFile(dir_ / "k.pem"), first);
  struct stat st;
  ASSERT_EQ(stat(Path("k.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CryptoCliTest, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(Beibu({}).exit_code, kUsage);
  EXPECT_EQ(Beibu({"sm3"}).exit_code, kUsage);
  EXPECT_EQ(Beibu({"sign", Path("x")}).exit_code, kUsage);
  EXPECT_EQ(Beibu({"verify", "--sig", Path("s"), Path("x")}).exit_code, kUsage);
  EXPECT_EQ(
      Beibu({"verify", "--pub", Path("p"), "--cert", Path("c"), "--sig", Path("s"), Path("x")})
          .exit_code,
      kUsage);
  EXPECT_EQ(Beibu({"keygen", "--out", Path("k"), "--pub", Path("k")}).exit_code, kUsage);
}

TEST_F(CryptoCliTest, HelpDocumentsTheCommands) {
  RunResult r = Beibu({"--help"});
  EXPECT_EQ(r.exit_code, kOk);
  for (const char* cmd : {"sm3", "sign", "verify", "keygen"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  }
}

}  // namespace
}  // namespace beibu
