// SM3 and HMAC-SM3: GB/T 32905-2016 known answers and differential tests
// against `openssl dgst` / `openssl mac`.
#include "beibu/crypto/sm3.h"

#include <gtest/gtest.h>

#include <string>

#include "beibu/crypto/random.h"
#include "openssl_cli.h"

namespace beibu::crypto {
namespace {

using testing::FirstWord;
using testing::FromOpensslHex;
using testing::Openssl;
using testing::RandomLength;

std::string Hex(const Sm3Digest& d) { return HexEncode(d); }

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// GB/T 32905-2016 Appendix A, example 1.
TEST(Sm3Test, StandardExampleAbc) {
  EXPECT_EQ(Hex(Sm3::Hash(AsBytes("abc"))),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

// GB/T 32905-2016 Appendix A, example 2: "abcd" repeated 16 times (64 bytes,
// so padding adds a whole second block).
TEST(Sm3Test, StandardExample64Bytes) {
  EXPECT_EQ(Hex(Sm3::Hash(AsBytes(Repeat("abcd", 16)))),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
}

TEST(Sm3Test, EmptyInput) {
  EXPECT_EQ(Hex(Sm3::Hash({})), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
}

TEST(Sm3Test, IncrementalMatchesOneShotAndResetsAfterFinal) {
  const std::string msg = Repeat("abcd", 16);
  Sm3 h;
  h.Update(AsBytes(msg.substr(0, 7))).Update({}).Update(AsBytes(msg.substr(7)));
  EXPECT_EQ(h.Final(), Sm3::Hash(AsBytes(msg)));
  // Final() resets: the same object hashes the next message from scratch.
  h.Update(AsBytes("abc"));
  EXPECT_EQ(Hex(h.Final()), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

TEST(Sm3Test, MovedObjectKeepsState) {
  Sm3 a;
  a.Update(AsBytes("ab"));
  Sm3 b = std::move(a);
  b.Update(AsBytes("c"));
  EXPECT_EQ(Hex(b.Final()), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

TEST(Sm3Test, MatchesOpensslOnRandomInputs) {
  for (int i = 0; i < 5; ++i) {
    Bytes data = RandomBytes(RandomLength(100000));
    SCOPED_TRACE("input length " + std::to_string(data.size()));
    std::string expected = FirstWord(Openssl({"dgst", "-sm3", "-r"}, std::string(AsChars(data))));
    EXPECT_EQ(Hex(Sm3::Hash(data)), expected);
  }
}

// No standard vector exists for HMAC-SM3; this one was computed with
// `openssl mac -digest SM3 -macopt hexkey:0011 HMAC` over "hi", and the
// differential test below covers random keys and messages.
TEST(HmacSm3Test, KnownAnswerFromOpenssl) {
  EXPECT_EQ(Hex(HmacSm3::Mac(Bytes{0x00, 0x11}, AsBytes("hi"))),
            "08b943d82f2607c8f4d93a4be73895c96168cd930ed3e4b449c1ae830d3a9003");
}

TEST(HmacSm3Test, ReusableAfterFinal) {
  const Bytes key = RandomBytes(32);
  HmacSm3 mac(key);
  mac.Update(AsBytes("first "));
  mac.Update(AsBytes("message"));
  EXPECT_EQ(mac.Final(), HmacSm3::Mac(key, AsBytes("first message")));
  // After Final() the object still holds the key.
  mac.Update(AsBytes("second"));
  EXPECT_EQ(mac.Final(), HmacSm3::Mac(key, AsBytes("second")));
}

TEST(HmacSm3Test, KeyMatters) {
  EXPECT_NE(HmacSm3::Mac(Bytes{1}, AsBytes("m")), HmacSm3::Mac(Bytes{2}, AsBytes("m")));
  EXPECT_NE(HmacSm3::Mac({}, AsBytes("m")), Sm3::Hash(AsBytes("m")));
}

TEST(HmacSm3Test, MatchesOpensslOnRandomInputs) {
  // Key lengths straddle the 64-byte block size, where HMAC hashes long keys.
  for (size_t key_len : {1, 16, 64, 65, 100}) {
    Bytes key = RandomBytes(key_len);
    Bytes data = RandomBytes(RandomLength(5000));
    SCOPED_TRACE("key " + HexEncode(key) + ", input length " + std::to_string(data.size()));
    Bytes expected = FromOpensslHex(
        Openssl({"mac", "-digest", "SM3", "-macopt", "hexkey:" + HexEncode(key), "HMAC"},
                std::string(AsChars(data))));
    Sm3Digest got = HmacSm3::Mac(key, data);
    EXPECT_EQ(Bytes(got.begin(), got.end()), expected);
  }
}

}  // namespace
}  // namespace beibu::crypto
