// SM3 KDF (GB/T 32918.4 §5.4.3) and HKDF-SM3 (RFC 5869): definitions checked
// from first principles, known answers and differential tests against
// `openssl kdf`.
#include "beibu/crypto/kdf.h"

#include <gtest/gtest.h>

#include <string>

#include "beibu/crypto/random.h"
#include "beibu/crypto/sm3.h"
#include "openssl_cli.h"

namespace beibu::crypto {
namespace {

using testing::FromOpensslHex;
using testing::Openssl;
using testing::RandomLength;

Bytes Unhex(std::string_view hex) { return HexDecode(hex).value(); }

Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The KDF exactly as GB/T 32918.4 writes it: Ha_i = SM3(Z || ct_i || info).
Bytes ReferenceSm3Kdf(ByteView z, ByteView info, size_t length) {
  Bytes out;
  for (uint32_t counter = 1; out.size() < length; ++counter) {
    const uint8_t ct[4] = {uint8_t(counter >> 24), uint8_t(counter >> 16), uint8_t(counter >> 8),
                           uint8_t(counter)};
    Sm3Digest d = Sm3::Hash(Concat({z, ct, info}));
    out.insert(out.end(), d.begin(), d.end());
  }
  out.resize(length);
  return out;
}

// RFC 5869 spelled out with HMAC-SM3.
Bytes ReferenceHkdf(ByteView salt, ByteView ikm, ByteView info, size_t length) {
  Sm3Digest prk = HmacSm3::Mac(salt, ikm);
  Bytes out, t;
  for (uint8_t i = 1; out.size() < length; ++i) {
    const uint8_t counter[1] = {i};
    Sm3Digest block = HmacSm3::Mac(prk, Concat({t, info, counter}));
    t.assign(block.begin(), block.end());
    out.insert(out.end(), t.begin(), t.end());
  }
  out.resize(length);
  return out;
}

TEST(Sm3KdfTest, MatchesTheStandardsDefinition) {
  for (size_t length : {1, 31, 32, 33, 100}) {
    Bytes z = RandomBytes(64), info = RandomBytes(RandomLength(40));
    absl::StatusOr<Bytes> got = Sm3Kdf(z, info, length);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, ReferenceSm3Kdf(z, info, length)) << "length " << length;
  }
}

// Computed with `openssl kdf -keylen 40 -kdfopt digest:SM3
// -kdfopt hexsecret:00112233 -kdfopt hexinfo:aabb X963KDF`.
TEST(Sm3KdfTest, KnownAnswerFromOpenssl) {
  absl::StatusOr<Bytes> got = Sm3Kdf(Unhex("00112233"), Unhex("aabb"), 40);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(HexEncode(*got),
            "1cd9f0d65827156177a0185da20d23a219aadaa86f2df4b4f4dd2348453421beb2ba2205d67cd0d4");
}

TEST(Sm3KdfTest, MatchesOpensslOnRandomInputs) {
  for (int i = 0; i < 3; ++i) {
    Bytes z = RandomBytes(1 + RandomLength(100)), info = RandomBytes(RandomLength(50));
    size_t length = 1 + RandomLength(200);
    SCOPED_TRACE("z " + HexEncode(z) + " info " + HexEncode(info));
    std::vector<std::string> args = {"kdf",        "-keylen", std::to_string(length),     "-kdfopt",
                                     "digest:SM3", "-kdfopt", "hexsecret:" + HexEncode(z)};
    if (!info.empty()) args.insert(args.end(), {"-kdfopt", "hexinfo:" + HexEncode(info)});
    args.push_back("X963KDF");
    absl::StatusOr<Bytes> got = Sm3Kdf(z, info, length);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, FromOpensslHex(Openssl(args)));
  }
}

TEST(Sm3KdfTest, RejectsEmptySecretAndZeroLength) {
  EXPECT_EQ(Sm3Kdf({}, {}, 32).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm3Kdf(Bytes{1}, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

// Known answers computed with `openssl kdf -kdfopt digest:SM3 ... HKDF`.
TEST(HkdfSm3Test, KnownAnswersFromOpenssl) {
  // -keylen 32 -kdfopt mode:EXTRACT_ONLY -kdfopt hexkey:0011 -kdfopt hexsalt:22
  absl::StatusOr<Bytes> prk = HkdfSm3Extract(Unhex("22"), Unhex("0011"));
  ASSERT_TRUE(prk.ok()) << prk.status();
  EXPECT_EQ(HexEncode(*prk), "27057f3d7cfabcd01fda9470f63354d8772101e0206910177cb25e0c2e2d50f8");
  // -keylen 16 -kdfopt mode:EXPAND_ONLY -kdfopt hexkey:0011 -kdfopt hexinfo:
  absl::StatusOr<Bytes> okm = HkdfSm3Expand(Unhex("0011"), {}, 16);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(HexEncode(*okm), "f7531c611a0bfd8ae691ed3d156f4339");
  // -keylen 16 -kdfopt hexkey:0011 -kdfopt hexsalt:aa -kdfopt hexinfo:bb
  prk = HkdfSm3Extract(Unhex("aa"), Unhex("0011"));
  ASSERT_TRUE(prk.ok());
  okm = HkdfSm3Expand(*prk, Unhex("bb"), 16);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(HexEncode(*okm), "ea49e4afa4b3eb494d328bea049f9f58");
}

TEST(HkdfSm3Test, MatchesRfc5869Definition) {
  for (size_t length : {1, 32, 33, 255}) {
    // Empty salt and IKM are legal in RFC 5869, so both may come out empty.
    Bytes salt = RandomBytes(RandomLength(80)), ikm = RandomBytes(RandomLength(80));
    Bytes info = RandomBytes(RandomLength(40));
    absl::StatusOr<Bytes> prk = HkdfSm3Extract(salt, ikm);
    ASSERT_TRUE(prk.ok()) << prk.status();
    absl::StatusOr<Bytes> okm = HkdfSm3Expand(*prk, info, length);
    ASSERT_TRUE(okm.ok()) << okm.status();
    EXPECT_EQ(*okm, ReferenceHkdf(salt, ikm, info, length)) << "length " << length;
  }
}

TEST(HkdfSm3Test, EmptySaltAndIkm) {
  absl::StatusOr<Bytes> prk = HkdfSm3Extract({}, {});
  ASSERT_TRUE(prk.ok()) << prk.status();
  absl::StatusOr<Bytes> okm = HkdfSm3Expand(*prk, {}, 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(*okm, ReferenceHkdf({}, {}, {}, 42));
}

TEST(HkdfSm3Test, MatchesOpensslOnRandomInputs) {
  for (int i = 0; i < 3; ++i) {
    Bytes salt = RandomBytes(1 + RandomLength(64)), ikm = RandomBytes(1 + RandomLength(64));
    Bytes info = RandomBytes(1 + RandomLength(64));
    size_t length = 1 + RandomLength(300);
    SCOPED_TRACE("salt " + HexEncode(salt) + " ikm " + HexEncode(ikm) + " info " + HexEncode(info));
    Bytes expected = FromOpensslHex(
        Openssl({"kdf", "-keylen", std::to_string(length), "-kdfopt", "digest:SM3", "-kdfopt",
                 "hexkey:" + HexEncode(ikm), "-kdfopt", "hexsalt:" + HexEncode(salt), "-kdfopt",
                 "hexinfo:" + HexEncode(info), "HKDF"}));
    absl::StatusOr<Bytes> prk = HkdfSm3Extract(salt, ikm);
    ASSERT_TRUE(prk.ok());
    absl::StatusOr<Bytes> okm = HkdfSm3Expand(*prk, info, length);
    ASSERT_TRUE(okm.ok());
    EXPECT_EQ(*okm, expected);
  }
}

TEST(HkdfSm3Test, OutputLengthLimits) {
  const Bytes prk = RandomBytes(32);
  EXPECT_TRUE(HkdfSm3Expand(prk, {}, 255 * 32).ok());
  EXPECT_EQ(HkdfSm3Expand(prk, {}, 255 * 32 + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSm3Expand(prk, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace beibu::crypto
