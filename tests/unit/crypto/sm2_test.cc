// SM2 (GB/T 32918-2016): the standard's recommended-curve examples, sign /
// verify / encrypt round trips, interoperability with the `openssl` CLI in
// both directions, key parsing, ECDH key shares and malformed inputs.
#include "beibu/crypto/sm2.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include "beibu/crypto/random.h"
#include "beibu/crypto/sm3.h"
#include "openssl_cli.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu::crypto {
namespace {

using testing::Openssl;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

Bytes Unhex(std::string_view hex) { return HexDecode(hex).value(); }

Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// PEM armour around DER, 64 base64 characters a line.
std::string Pem(const std::string& label, ByteView der) {
  std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der.data(),
                          static_cast<int>(der.size()));
  b64.resize(n);
  std::string pem = "-----BEGIN " + label + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END " + label + "-----\n";
}

// DER prefixes for the SM2 curve: AlgorithmIdentifier {id-ecPublicKey, sm2p256v1}
// inside a SubjectPublicKeyInfo (followed by the 65-byte point) and inside a
// PKCS#8 PrivateKeyInfo holding an ECPrivateKey without the optional public
// key (followed by the 32-byte scalar).
constexpr std::string_view kSpkiPrefix = "3059301306072a8648ce3d020106082a811ccf5501822d034200";
constexpr std::string_view kPkcs8Prefix =
    "3041020100301306072a8648ce3d020106082a811ccf5501822d042730250201010420";

// GB/T 32918.5-2016 / GM/T 0003.5-2012 Annex A (recommended curve): the
// signer's key pair, the signature of "message digest" under the default ID
// (made with the nonce k = 59276E27...BC21), and Annex C's encryption of
// "encryption standard" to the same key, in the GM/T 0009 ASN.1 form
// (vectors as reproduced in OpenSSL's test/sm2_internal_test.c).
constexpr std::string_view kStdPrivate =
    "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
constexpr std::string_view kStdPublicPoint =
    "04"
    "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13";
constexpr std::string_view kStdSignatureR =
    "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3";
constexpr std::string_view kStdSignatureS =
    "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa";
constexpr std::string_view kStdCiphertext =
    "307c"
    "022004ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73"
    "022100e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0"
    "042059983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766"
    "041321886ca989ca9c7d58087307ca93092d651efa";

Sm2PrivateKey StandardPrivateKey() {
  return Sm2PrivateKey::FromPem(
             Pem("PRIVATE KEY", Unhex(std::string(kPkcs8Prefix) + std::string(kStdPrivate))))
      .value();
}

Bytes StandardSpki() { return Unhex(std::string(kSpkiPrefix) + std::string(kStdPublicPoint)); }

// DER SEQUENCE { INTEGER r, INTEGER s } for 32-byte r and s with the top bit set.
Bytes StandardSignature() {
  return Unhex("3046022100" + std::string(kStdSignatureR) + "022100" + std::string(kStdSignatureS));
}

TEST(Sm2StandardTest, PrivateKeyDerivesThePublishedPublicKey) {
  EXPECT_EQ(HexEncode(StandardPrivateKey().PublicKey().ToDer()), HexEncode(StandardSpki()));
}

TEST(Sm2StandardTest, PublishedSignatureVerifies) {
  absl::StatusOr<Sm2PublicKey> pub = Sm2PublicKey::FromDer(StandardSpki());
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_TRUE(pub->Verify(AsBytes("message digest"), StandardSignature()).ok());
  EXPECT_EQ(pub->Verify(AsBytes("message digesT"), StandardSignature()).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      pub->Verify(AsBytes("message digest"), StandardSignature(), "ALICE123@YAHOO.COM").code(),
      absl::StatusCode::kUnauthenticated);
}

// The same vector through the openssl CLI, so that a wrong DER framing in
// this test could not make both sides agree by accident.
TEST(Sm2StandardTest, PublishedSignatureVerifiesWithOpenssl) {
  TempDir dir;
  WriteFile(dir / "pub.pem", Pem("PUBLIC KEY", StandardSpki()));
  WriteFile(dir / "sig", std::string(AsChars(StandardSignature())));
  WriteFile(dir / "msg", "message digest");
  std::string out = Openssl({"dgst", "-sm3", "-verify", (dir / "pub.pem").string(), "-sigopt",
                             "distid:1234567812345678", "-signature", (dir / "sig").string(),
                             (dir / "msg").string()});
  EXPECT_EQ(out, "Verified OK\n");
}

TEST(Sm2StandardTest, PublishedCiphertextDecrypts) {
  absl::StatusOr<Bytes> plain = StandardPrivateKey().Decrypt(Unhex(kStdCiphertext));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(AsChars(*plain), "encryption standard");
}

// --- Round trips and negative cases with fresh keys --------------------------

class Sm2KeyTest : public ::testing::Test {
 protected:
  Sm2PrivateKey key_ = Sm2PrivateKey::Generate().value();
  Sm2PublicKey pub_ = key_.PublicKey();
};

TEST_F(Sm2KeyTest, SignVerifyRoundTrip) {
  for (size_t len : {0, 1, 1000, 100000}) {
    Bytes msg = RandomBytes(len);
    absl::StatusOr<Bytes> sig = key_.Sign(msg);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE(pub_.Verify(msg, *sig).ok()) << "length " << len;
  }
}

TEST_F(Sm2KeyTest, SignaturesAreRandomized) {
  EXPECT_NE(key_.Sign(AsBytes("m")).value(), key_.Sign(AsBytes("m")).value());
}

TEST_F(Sm2KeyTest, CustomIdMustMatch) {
  Bytes sig = key_.Sign(AsBytes("hello"), "alice@example.com").value();
  EXPECT_TRUE(pub_.Verify(AsBytes("hello"), sig, "alice@example.com").ok());
  EXPECT_EQ(pub_.Verify(AsBytes("hello"), sig).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(pub_.Verify(AsBytes("hello"), sig, "").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(Sm2KeyTest, FlippedMessageBitFails) {
  Bytes msg = RandomBytes(64);
  Bytes sig = key_.Sign(msg).value();
  for (size_t bit = 0; bit < msg.size() * 8; bit += 37) {
    Bytes bad = msg;
    bad[bit / 8] ^= uint8_t(1 << (bit % 8));
    EXPECT_EQ(pub_.Verify(bad, sig).code(), absl::StatusCode::kUnauthenticated) << bit;
  }
}

TEST_F(Sm2KeyTest, FlippedSignatureBitFails) {
  const Bytes msg = ToBytes("signed payload");
  const Bytes sig = key_.Sign(msg).value();
  // DER: 30 len 02 rlen r... 02 slen s... (short lengths: ~70 bytes in all).
  ASSERT_EQ(sig[0], 0x30);
  ASSERT_EQ(sig[2], 0x02);
  const size_t s_tag = 4 + sig[3];
  ASSERT_EQ(sig[s_tag], 0x02);
  // s's first significant byte (after the 0x00 that keeps a high bit positive).
  const size_t s_first = s_tag + 2 + (sig[s_tag + 2] == 0x00 ? 1 : 0);
  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    Bytes bad = sig;
    bad[bit / 8] ^= uint8_t(1 << (bit % 8));
    absl::StatusCode code = pub_.Verify(msg, bad).code();
    // A flip in the DER framing, or in the first significant byte of an
    // INTEGER (its sign bit, or a non-minimal leading zero), may make the
    // blob unparseable; a flip after that byte of s always leaves a
    // well-formed signature. (s is 31 bytes about once in 256 signatures, so
    // "the last 31 bytes" was not always after it: an occasional failure.)
    if (bit / 8 > s_first) {
      EXPECT_EQ(code, absl::StatusCode::kUnauthenticated) << "bit " << bit;
    } else {
      EXPECT_TRUE(code == absl::StatusCode::kUnauthenticated ||
                  code == absl::StatusCode::kInvalidArgument)
          << "bit " << bit << ": " << code;
    }
  }
}

TEST_F(Sm2KeyTest, OtherKeysSignatureFails) {
  Sm2PrivateKey other = Sm2PrivateKey::Generate().value();
  Bytes sig = other.Sign(AsBytes("m")).value();
  EXPECT_EQ(pub_.Verify(AsBytes("m"), sig).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(Sm2KeyTest, GarbageSignaturesAreRejectedWithoutCrashing) {
  const Bytes msg = ToBytes("m");
  const Bytes good = key_.Sign(msg).value();
  std::vector<Bytes> garbage = {
      {},
      {0x30},
      {0x30, 0x00},
      Unhex("3006020100020100"),            // r = s = 0
      Unhex("3084ffffffff020101020101"),    // absurd length
      Unhex("300602010102010100"),          // trailing byte after s
      Concat({good, Bytes{0x00}}),          // trailing byte after the sequence
      Bytes(good.begin(), good.end() - 1),  // truncated
      Unhex("3046022100fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123"
            "022100fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123"),  // r = s = n
      RandomBytes(72),
      RandomBytes(1000),
  };
  for (const Bytes& sig : garbage) {
    absl::StatusCode code = pub_.Verify(msg, sig).code();
    EXPECT_TRUE(code == absl::StatusCode::kUnauthenticated ||
                code == absl::StatusCode::kInvalidArgument)
        << HexEncode(sig) << ": " << code;
  }
}

TEST_F(Sm2KeyTest, EncryptDecryptRoundTrip) {
  for (size_t len : {1, 32, 1000}) {
    Bytes plain = RandomBytes(len);
    absl::StatusOr<Bytes> ct = pub_.Encrypt(plain);
    ASSERT_TRUE(ct.ok()) << ct.status();
    absl::StatusOr<Bytes> back = key_.Decrypt(*ct);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, plain);
  }
}

TEST_F(Sm2KeyTest, CorruptedCiphertextOrWrongKeyIsDataLoss) {
  Bytes ct = pub_.Encrypt(AsBytes("secret")).value();
  Bytes corrupted = ct;
  corrupted.back() ^= 1;  // inside C2: the C3 hash check must catch it
  EXPECT_EQ(key_.Decrypt(corrupted).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(key_.Decrypt(Bytes{0x30, 0x00}).status().code(), absl::StatusCode::kDataLoss);
  Sm2PrivateKey other = Sm2PrivateKey::Generate().value();
  EXPECT_EQ(other.Decrypt(ct).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(Sm2KeyTest, PemAndDerRoundTrips) {
  absl::StatusOr<Sm2PrivateKey> key2 = Sm2PrivateKey::FromPem(key_.ToPem());
  ASSERT_TRUE(key2.ok()) << key2.status();
  EXPECT_EQ(key2->PublicKey().ToDer(), pub_.ToDer());
  absl::StatusOr<Sm2PublicKey> pub2 = Sm2PublicKey::FromPem(pub_.ToPem());
  ASSERT_TRUE(pub2.ok()) << pub2.status();
  EXPECT_EQ(pub2->ToDer(), pub_.ToDer());
  absl::StatusOr<Sm2PublicKey> pub3 = Sm2PublicKey::FromDer(pub_.ToDer());
  ASSERT_TRUE(pub3.ok()) << pub3.status();
  EXPECT_TRUE(pub3->Verify(AsBytes("x"), key_.Sign(AsBytes("x")).value()).ok());
}

TEST_F(Sm2KeyTest, PublicKeyHoldsNoPrivateMaterial) {
  EXPECT_EQ(pub_.ToPem().find("PRIVATE"), std::string::npos);
  EXPECT_NE(pub_.ToPem().find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
}

TEST_F(Sm2KeyTest, FingerprintIsSm3OfSpki) {
  Sm3Digest d = Sm3::Hash(pub_.ToDer());
  EXPECT_EQ(pub_.Fingerprint(), Bytes(d.begin(), d.end()));
  EXPECT_NE(pub_.Fingerprint(), Sm2PrivateKey::Generate()->PublicKey().Fingerprint());
}

TEST_F(Sm2KeyTest, CopiesShareTheKey) {
  Sm2PrivateKey copy = Sm2PrivateKey::Generate().value();
  copy = key_;  // copy-assignment over a live key releases the old one
  Sm2PublicKey pub_copy(pub_);
  Bytes sig = copy.Sign(AsBytes("m")).value();
  EXPECT_TRUE(pub_copy.Verify(AsBytes("m"), sig).ok());
}

TEST(Sm2ParseTest, RejectsGarbageAndWrongKinds) {
  EXPECT_EQ(Sm2PrivateKey::FromPem("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm2PrivateKey::FromPem("not a key").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm2PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A private key is not a public key, even though it contains one.
  Sm2PrivateKey key = Sm2PrivateKey::Generate().value();
  EXPECT_EQ(Sm2PublicKey::FromPem(key.ToPem()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm2PublicKey::FromDer(RandomBytes(91)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm2PublicKey::FromDer(Concat({key.PublicKey().ToDer(), Bytes{0}})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm2PublicKey::FromEvp(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Sm2ParseTest, RejectsNonSm2KeysWithAHint) {
  TempDir dir;
  Openssl({"genpkey", "-algorithm", "ED25519", "-out", (dir / "ed.pem").string()});
  Openssl({"pkey", "-in", (dir / "ed.pem").string(), "-pubout", "-out", (dir / "ed.pub").string()});
  absl::StatusOr<Sm2PrivateKey> key = Sm2PrivateKey::FromPem(ReadFile(dir / "ed.pem"));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(key.status().message().find("not SM2"), absl::string_view::npos) << key.status();
  EXPECT_EQ(Sm2PublicKey::FromPem(ReadFile(dir / "ed.pub")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// An encrypted key must be refused, not answered with a pass-phrase prompt
// on the terminal (servers and the CLI have no one to type it).
TEST(Sm2ParseTest, RefusesEncryptedPrivateKeyWithoutPrompting) {
  TempDir dir;
  WriteFile(dir / "k.pem", Sm2PrivateKey::Generate()->ToPem());
  Openssl({"pkey", "-in", (dir / "k.pem").string(), "-aes256", "-passout", "pass:secret", "-out",
           (dir / "enc.pem").string()});
  absl::StatusOr<Sm2PrivateKey> key = Sm2PrivateKey::FromPem(ReadFile(dir / "enc.pem"));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Interoperability with the openssl CLI -----------------------------------

class Sm2OpensslTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Signs `msg_file` with `key_file` using `openssl dgst`, returns the DER signature.
  std::string OpensslSign(const std::string& key_file, const std::string& msg_file,
                          const std::string& id = std::string(kDefaultSm2Id)) {
    return Openssl({"dgst", "-sm3", "-sign", key_file, "-sigopt", "distid:" + id, msg_file});
  }

  // True when `openssl dgst -verify` accepts `sig` over `msg_file`.
  bool OpensslVerifies(const std::string& pub_file, const std::string& msg_file, ByteView sig,
                       const std::string& id = std::string(kDefaultSm2Id)) {
    WriteFile(dir_ / "sig.der", std::string(AsChars(sig)));
    testing::RunResult r = testing::Run({"openssl", "dgst", "-sm3", "-verify", pub_file, "-sigopt",
                                         "distid:" + id, "-signature", Path("sig.der"), msg_file});
    return r.exit_code == 0 && r.out == "Verified OK\n";
  }

  TempDir dir_;
};

TEST_F(Sm2OpensslTest, OpensslKeysInteroperate) {
  for (int i = 0; i < 2; ++i) {
    Openssl({"genpkey", "-algorithm", "SM2", "-out", Path("k.pem")});
    Openssl({"pkey", "-in", Path("k.pem"), "-pubout", "-out", Path("p.pem")});
    absl::StatusOr<Sm2PrivateKey> key = Sm2PrivateKey::FromPem(ReadFile(dir_ / "k.pem"));
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<Sm2PublicKey> pub = Sm2PublicKey::FromPem(ReadFile(dir_ / "p.pem"));
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(key->PublicKey().ToPem(), ReadFile(dir_ / "p.pem"));

    Bytes msg = RandomBytes(1 + testing::RandomLength(5000));
    WriteFile(dir_ / "msg", std::string(AsChars(msg)));
    std::string theirs = OpensslSign(Path("k.pem"), Path("msg"));
    EXPECT_TRUE(pub->Verify(msg, AsBytes(theirs)).ok());
    Bytes ours = key->Sign(msg).value();
    EXPECT_TRUE(OpensslVerifies(Path("p.pem"), Path("msg"), ours));
  }
}

TEST_F(Sm2OpensslTest, BeibuKeysInteroperate) {
  for (int i = 0; i < 2; ++i) {
    Sm2PrivateKey key = Sm2PrivateKey::Generate().value();
    WriteFile(dir_ / "k.pem", key.ToPem());
    WriteFile(dir_ / "p.pem", key.PublicKey().ToPem());
    // `openssl pkey` reads both and derives the same public key.
    EXPECT_EQ(Openssl({"pkey", "-in", Path("k.pem"), "-pubout"}), key.PublicKey().ToPem());
    EXPECT_EQ(Openssl({"pkey", "-pubin", "-in", Path("p.pem")}), key.PublicKey().ToPem());

    Bytes msg = RandomBytes(1 + testing::RandomLength(5000));
    WriteFile(dir_ / "msg", std::string(AsChars(msg)));
    EXPECT_TRUE(OpensslVerifies(Path("p.pem"), Path("msg"), key.Sign(msg).value()));
    std::string theirs = OpensslSign(Path("k.pem"), Path("msg"));
    EXPECT_TRUE(key.PublicKey().Verify(msg, AsBytes(theirs)).ok());
  }
}

TEST_F(Sm2OpensslTest, CustomIdAgreesWithOpenssl) {
  Sm2PrivateKey key = Sm2PrivateKey::Generate().value();
  WriteFile(dir_ / "k.pem", key.ToPem());
  WriteFile(dir_ / "p.pem", key.PublicKey().ToPem());
  WriteFile(dir_ / "msg", "hello");
  const std::string id = "edge-7@beibu.example";
  Bytes sig = key.Sign(AsBytes("hello"), id).value();
  EXPECT_TRUE(OpensslVerifies(Path("p.pem"), Path("msg"), sig, id));
  EXPECT_FALSE(OpensslVerifies(Path("p.pem"), Path("msg"), sig));
  std::string theirs = OpensslSign(Path("k.pem"), Path("msg"), id);
  EXPECT_TRUE(key.PublicKey().Verify(AsBytes("hello"), AsBytes(theirs), id).ok());
}

TEST_F(Sm2OpensslTest, TamperedMessageFailsInOpensslToo) {
  Sm2PrivateKey key = Sm2PrivateKey::Generate().value();
  WriteFile(dir_ / "p.pem", key.PublicKey().ToPem());
  Bytes sig = key.Sign(AsBytes("original")).value();
  WriteFile(dir_ / "msg", "originaL");
  EXPECT_FALSE(OpensslVerifies(Path("p.pem"), Path("msg"), sig));
}

// OpenSSL 3.0's pkeyutl does SM2 encryption (C1C3C2, GM/T 0009 ASN.1).
TEST_F(Sm2OpensslTest, EncryptionInteroperates) {
  Sm2PrivateKey key = Sm2PrivateKey::Generate().value();
  WriteFile(dir_ / "k.pem", key.ToPem());
  WriteFile(dir_ / "p.pem", key.PublicKey().ToPem());
  for (size_t len : {size_t{1}, size_t{16}, 1 + testing::RandomLength(2000)}) {
    Bytes plain = RandomBytes(len);
    SCOPED_TRACE("length " + std::to_string(len));
    Bytes ours = key.PublicKey().Encrypt(plain).value();
    WriteFile(dir_ / "ct", std::string(AsChars(ours)));
    EXPECT_EQ(Openssl({"pkeyutl", "-decrypt", "-inkey", Path("k.pem"), "-in", Path("ct")}),
              std::string(AsChars(plain)));
    WriteFile(dir_ / "pt", std::string(AsChars(plain)));
    std::string theirs =
        Openssl({"pkeyutl", "-encrypt", "-pubin", "-inkey", Path("p.pem"), "-in", Path("pt")});
    absl::StatusOr<Bytes> back = key.Decrypt(AsBytes(theirs));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, plain);
  }
}

TEST_F(Sm2OpensslTest, FromEvpAcceptsCertificateKeys) {
  Sm2PrivateKey key = Sm2PrivateKey::Generate().value();
  WriteFile(dir_ / "k.pem", key.ToPem());
  Openssl({"req", "-new", "-x509", "-key", Path("k.pem"), "-sm3", "-sigopt",
           "distid:1234567812345678", "-subj", "/CN=fromevp", "-days", "1", "-out", Path("c.pem")});
  std::string cert_pem = ReadFile(dir_ / "c.pem");
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  absl::StatusOr<Sm2PublicKey> pub = Sm2PublicKey::FromEvp(X509_get0_pubkey(cert));
  X509_free(cert);  // FromEvp took its own reference
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->ToDer(), key.PublicKey().ToDer());
  EXPECT_TRUE(pub->Verify(AsBytes("m"), key.Sign(AsBytes("m")).value()).ok());
}

// --- ECDH key shares ---------------------------------------------------------
// No cross-check against the openssl CLI here: it decodes SM2-curve keys as
// type "SM2", which refuses derive, so both-sides agreement is the test.

TEST(Sm2KeyShareTest, BothSidesAgree) {
  Sm2KeyShare a = Sm2KeyShare::Generate().value();
  Sm2KeyShare b = Sm2KeyShare::Generate().value();
  ASSERT_EQ(a.public_point().size(), kSm2PointSize);
  EXPECT_EQ(a.public_point()[0], 0x04);
  absl::StatusOr<Bytes> ab = a.Derive(b.public_point());
  absl::StatusOr<Bytes> ba = b.Derive(a.public_point());
  ASSERT_TRUE(ab.ok()) << ab.status();
  ASSERT_TRUE(ba.ok()) << ba.status();
  EXPECT_EQ(ab->size(), 32u);
  EXPECT_EQ(*ab, *ba);
  Sm2KeyShare c = Sm2KeyShare::Generate().value();
  EXPECT_NE(a.Derive(c.public_point()).value(), *ab);
}

TEST(Sm2KeyShareTest, RejectsMalformedPeerPoints) {
  Sm2KeyShare a = Sm2KeyShare::Generate().value();
  const Bytes good = Sm2KeyShare::Generate()->public_point();
  Bytes off_curve = good;
  off_curve.back() ^= 1;
  Bytes compressed_tag = good;
  compressed_tag[0] = 0x02;
  Bytes zero(kSm2PointSize, 0);
  zero[0] = 0x04;
  Bytes beyond_p(kSm2PointSize, 0xff);
  beyond_p[0] = 0x04;
  const std::vector<Bytes> bad = {
      {},
      Bytes(good.begin(), good.end() - 1),
      Concat({good, Bytes{0}}),
      Bytes(good.begin(), good.begin() + 33),  // compressed length
      off_curve,
      compressed_tag,
      zero,
      beyond_p,
  };
  for (const Bytes& point : bad) {
    EXPECT_EQ(a.Derive(point).status().code(), absl::StatusCode::kInvalidArgument)
        << HexEncode(point);
  }
}

TEST(Sm2KeyShareTest, StandardPublicKeyIsAValidPeer) {
  // A point taken from the standard, i.e. not produced by this code.
  Sm2KeyShare a = Sm2KeyShare::Generate().value();
  EXPECT_TRUE(a.Derive(Unhex(kStdPublicPoint)).ok());
}

}  // namespace
}  // namespace beibu::crypto
