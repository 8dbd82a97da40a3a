// SM4: GB/T 32907-2016 known answers, CTR/CBC differential tests against
// `openssl enc`, and argument checking.
#include "beibu/crypto/sm4.h"

#include <gtest/gtest.h>

#include <string>

#include "beibu/crypto/random.h"
#include "openssl_cli.h"

namespace beibu::crypto {
namespace {

using testing::Openssl;
using testing::RandomLength;

Bytes Unhex(std::string_view hex) { return HexDecode(hex).value(); }

// GB/T 32907-2016 Appendix A: example 1 uses the same value as key and plaintext.
constexpr std::string_view kStdKey = "0123456789abcdeffedcba9876543210";
constexpr std::string_view kStdCiphertext1 = "681edf34d206965e86b3e94f536e4246";
constexpr std::string_view kStdCiphertext1M = "595298c7c6fd271f0402f804c33d3f66";

TEST(Sm4BlockTest, StandardExample1Encrypt) {
  absl::StatusOr<Bytes> out = Sm4EncryptBlocks(Unhex(kStdKey), Unhex(kStdKey));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(HexEncode(*out), kStdCiphertext1);
}

TEST(Sm4BlockTest, StandardExample1Decrypt) {
  absl::StatusOr<Bytes> out = Sm4DecryptBlocks(Unhex(kStdKey), Unhex(kStdCiphertext1));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(HexEncode(*out), kStdKey);
}

// Example 2: encrypt the plaintext 1,000,000 times with the same key. This
// exercises the one-shot helper a million times, so it also guards against
// a per-call cost creeping into Sm4EncryptBlocks.
TEST(Sm4BlockTest, StandardExample2MillionIterations) {
  const Bytes key = Unhex(kStdKey);
  Bytes block = key;
  for (int i = 0; i < 1000000; ++i) {
    absl::StatusOr<Bytes> next = Sm4EncryptBlocks(key, block);
    ASSERT_TRUE(next.ok()) << next.status();
    block = *std::move(next);
  }
  EXPECT_EQ(HexEncode(block), kStdCiphertext1M);
}

TEST(Sm4BlockTest, RejectsPartialBlocksAndBadKeys) {
  EXPECT_EQ(Sm4EncryptBlocks(Unhex(kStdKey), Bytes(15)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm4DecryptBlocks(Unhex(kStdKey), Bytes(17)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm4EncryptBlocks(Bytes(15), Bytes(16)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// `openssl enc` with SM4 in `mode` ("ctr" or "cbc"), hex key and IV.
std::string OpensslSm4(const std::string& mode, bool decrypt, const Bytes& key, const Bytes& iv,
                       const Bytes& in) {
  std::vector<std::string> args = {"enc",          "-sm4-" + mode, "-K",
                                   HexEncode(key), "-iv",          HexEncode(iv)};
  if (decrypt) args.push_back("-d");
  return Openssl(args, std::string(AsChars(in)));
}

TEST(Sm4CtrTest, MatchesOpensslOnRandomInputs) {
  for (int i = 0; i < 4; ++i) {
    Bytes key = RandomBytes(kSm4KeySize), iv = RandomBytes(kSm4BlockSize);
    Bytes in = RandomBytes(1 + RandomLength(3000));
    SCOPED_TRACE("key " + HexEncode(key) + " iv " + HexEncode(iv) + " length " +
                 std::to_string(in.size()));
    absl::StatusOr<Sm4Ctr> ctr = Sm4Ctr::Create(key);
    ASSERT_TRUE(ctr.ok()) << ctr.status();
    Bytes out(in.size());
    ASSERT_TRUE(ctr->Apply(iv, in, out).ok());
    EXPECT_EQ(std::string(AsChars(out)), OpensslSm4("ctr", false, key, iv, in));
  }
}

// The counter block's low bytes all 0xff: the increment must carry across
// the whole 128-bit block exactly as OpenSSL's CLI does.
TEST(Sm4CtrTest, CounterCarryMatchesOpenssl) {
  Bytes key = RandomBytes(kSm4KeySize);
  Bytes iv = Unhex("00112233445566778899ffffffffffff");
  Bytes in = RandomBytes(5 * kSm4BlockSize + 3);
  absl::StatusOr<Sm4Ctr> ctr = Sm4Ctr::Create(key);
  ASSERT_TRUE(ctr.ok());
  Bytes out(in.size());
  ASSERT_TRUE(ctr->Apply(iv, in, out).ok());
  EXPECT_EQ(std::string(AsChars(out)), OpensslSm4("ctr", false, key, iv, in));
}

// One object serves many records: every Apply() must start a fresh keystream
// at its counter block, even when the previous record ended mid-block.
TEST(Sm4CtrTest, EachApplyRestartsTheKeystream) {
  Bytes key = RandomBytes(kSm4KeySize);
  absl::StatusOr<Sm4Ctr> ctr = Sm4Ctr::Create(key);
  ASSERT_TRUE(ctr.ok());
  const Bytes iv1 = RandomBytes(kSm4BlockSize), iv2 = RandomBytes(kSm4BlockSize);
  const Bytes msg1 = RandomBytes(5), msg2 = RandomBytes(37);
  Bytes out1(msg1.size()), out2(msg2.size()), again(msg1.size());
  ASSERT_TRUE(ctr->Apply(iv1, msg1, out1).ok());
  ASSERT_TRUE(ctr->Apply(iv2, msg2, out2).ok());
  ASSERT_TRUE(ctr->Apply(iv1, msg1, again).ok());
  EXPECT_EQ(std::string(AsChars(out1)), OpensslSm4("ctr", false, key, iv1, msg1));
  EXPECT_EQ(std::string(AsChars(out2)), OpensslSm4("ctr", false, key, iv2, msg2));
  EXPECT_EQ(again, out1);
}

TEST(Sm4CtrTest, InPlaceRoundTrip) {
  absl::StatusOr<Sm4Ctr> ctr = Sm4Ctr::Create(RandomBytes(kSm4KeySize));
  ASSERT_TRUE(ctr.ok());
  const Bytes iv = RandomBytes(kSm4BlockSize), original = RandomBytes(100);
  Bytes buf = original;
  ASSERT_TRUE(ctr->Apply(iv, buf, buf).ok());
  EXPECT_NE(buf, original);
  ASSERT_TRUE(ctr->Apply(iv, buf, buf).ok());
  EXPECT_EQ(buf, original);
}

TEST(Sm4CtrTest, EmptyInputIsFine) {
  absl::StatusOr<Sm4Ctr> ctr = Sm4Ctr::Create(RandomBytes(kSm4KeySize));
  ASSERT_TRUE(ctr.ok());
  EXPECT_TRUE(ctr->Apply(RandomBytes(kSm4BlockSize), {}, {}).ok());
}

TEST(Sm4CtrTest, RejectsWrongKeySize) {
  for (size_t n : {0, 15, 17, 32}) {
    absl::StatusOr<Sm4Ctr> ctr = Sm4Ctr::Create(Bytes(n));
    EXPECT_EQ(ctr.status().code(), absl::StatusCode::kInvalidArgument) << n;
  }
}

TEST(Sm4CtrTest, RejectsBadCounterBlockAndOutputSize) {
  absl::StatusOr<Sm4Ctr> ctr = Sm4Ctr::Create(RandomBytes(kSm4KeySize));
  ASSERT_TRUE(ctr.ok());
  Bytes in(10), out(10), short_out(9);
  EXPECT_EQ(ctr->Apply(Bytes(12), in, out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ctr->Apply(Bytes(16), in, short_out).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Sm4CbcTest, MatchesOpensslBothWays) {
  // Lengths around block boundaries: PKCS#7 adds a whole block to 0 and 16.
  for (size_t len :
       {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, RandomLength(4000)}) {
    Bytes key = RandomBytes(kSm4KeySize), iv = RandomBytes(kSm4BlockSize);
    Bytes plain = RandomBytes(len);
    SCOPED_TRACE("key " + HexEncode(key) + " iv " + HexEncode(iv) + " length " +
                 std::to_string(len));
    absl::StatusOr<Bytes> ours = Sm4CbcEncrypt(key, iv, plain);
    ASSERT_TRUE(ours.ok()) << ours.status();
    std::string theirs = OpensslSm4("cbc", false, key, iv, plain);
    EXPECT_EQ(std::string(AsChars(*ours)), theirs);
    absl::StatusOr<Bytes> back = Sm4CbcDecrypt(key, iv, AsBytes(theirs));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, plain);
    EXPECT_EQ(OpensslSm4("cbc", true, key, iv, *ours), std::string(AsChars(plain)));
  }
}

// Fixed inputs so the outcome is deterministic: with a random wrong key the
// padding happens to look valid about once in 256 tries.
TEST(Sm4CbcTest, WrongKeyIsDataLoss) {
  const Bytes key = Unhex("000102030405060708090a0b0c0d0e0f");
  const Bytes wrong = Unhex("000102030405060708090a0b0c0d0e0e");
  const Bytes iv(kSm4BlockSize, 0x42);
  absl::StatusOr<Bytes> ct = Sm4CbcEncrypt(key, iv, AsBytes("attack at dawn, bring SM4"));
  ASSERT_TRUE(ct.ok());
  absl::StatusOr<Bytes> pt = Sm4CbcDecrypt(wrong, iv, *ct);
  EXPECT_EQ(pt.status().code(), absl::StatusCode::kDataLoss) << pt.status();
}

TEST(Sm4CbcTest, TruncatedOrEmptyCiphertextIsDataLoss) {
  const Bytes key = RandomBytes(kSm4KeySize), iv = RandomBytes(kSm4BlockSize);
  absl::StatusOr<Bytes> ct = Sm4CbcEncrypt(key, iv, RandomBytes(40));
  ASSERT_TRUE(ct.ok());
  Bytes truncated(ct->begin(), ct->end() - 1);
  EXPECT_EQ(Sm4CbcDecrypt(key, iv, truncated).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Sm4CbcDecrypt(key, iv, {}).status().code(), absl::StatusCode::kDataLoss);
}

TEST(Sm4CbcTest, RejectsBadKeyAndIvSizes) {
  EXPECT_EQ(Sm4CbcEncrypt(Bytes(8), Bytes(16), Bytes(3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm4CbcEncrypt(Bytes(16), Bytes(8), Bytes(3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm4CbcDecrypt(Bytes(16), {}, Bytes(16)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Sm4GcmTest, CreateReportsUnimplementedWhenAbsent) {
  if (Sm4Gcm::Available()) GTEST_SKIP() << "the provider offers SM4-GCM";
  EXPECT_EQ(Sm4Gcm::Create(RandomBytes(kSm4KeySize)).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(Sm4GcmTest, SealOpenRoundTripAndTamperDetection) {
  if (!Sm4Gcm::Available()) GTEST_SKIP() << "SM4-GCM needs Tongsuo; this provider lacks it";
  absl::StatusOr<Sm4Gcm> gcm = Sm4Gcm::Create(RandomBytes(kSm4KeySize));
  ASSERT_TRUE(gcm.ok()) << gcm.status();
  const Bytes nonce = RandomBytes(kSm4GcmNonceSize), aad = ToBytes("record header");
  const Bytes plain = RandomBytes(100);
  Bytes sealed(plain.size()), tag(kSm4GcmTagSize), opened(plain.size());
  ASSERT_TRUE(gcm->Seal(nonce, aad, plain, sealed, tag).ok());
  ASSERT_TRUE(gcm->Open(nonce, aad, sealed, tag, opened).ok());
  EXPECT_EQ(opened, plain);

  Bytes forged = sealed;
  forged[7] ^= 1;
  EXPECT_EQ(gcm->Open(nonce, aad, forged, tag, opened).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(gcm->Open(nonce, ToBytes("other header"), sealed, tag, opened).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace beibu::crypto
