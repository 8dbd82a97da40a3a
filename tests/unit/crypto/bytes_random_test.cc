// Hex helpers, the CSPRNG wrapper, constant-time comparison and the provider check.
#include <gtest/gtest.h>

#include <set>

#include "beibu/crypto/crypto.h"

namespace beibu::crypto {
namespace {

TEST(HexTest, EncodesLowercase) {
  EXPECT_EQ(HexEncode(Bytes{0x00, 0x0f, 0xab, 0xff}), "000fabff");
  EXPECT_EQ(HexEncode({}), "");
}

TEST(HexTest, DecodesEitherCase) {
  absl::StatusOr<Bytes> b = HexDecode("00aBcDeF");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, (Bytes{0x00, 0xab, 0xcd, 0xef}));
  ASSERT_TRUE(HexDecode("").ok());
  EXPECT_TRUE(HexDecode("")->empty());
}

TEST(HexTest, RoundTripsRandomBytes) {
  Bytes data = RandomBytes(257);
  EXPECT_EQ(HexDecode(HexEncode(data)).value(), data);
}

TEST(HexTest, RejectsOddLengthAndNonHex) {
  EXPECT_EQ(HexDecode("abc").status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"0g", "g0", "  ", "0x12", "12\n3", "ab-c"}) {
    EXPECT_EQ(HexDecode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // The position of the offending character is in the message.
  EXPECT_NE(HexDecode("00zz").status().message().find("position 2"), absl::string_view::npos)
      << HexDecode("00zz").status();
}

TEST(ConstantTimeEqualsTest, ComparesLengthAndContent) {
  const Bytes a = {1, 2, 3};
  EXPECT_TRUE(ConstantTimeEquals(a, Bytes{1, 2, 3}));
  EXPECT_FALSE(ConstantTimeEquals(a, Bytes{1, 2, 4}));
  EXPECT_FALSE(ConstantTimeEquals(a, Bytes{0, 2, 3}));
  EXPECT_FALSE(ConstantTimeEquals(a, Bytes{1, 2}));
  EXPECT_FALSE(ConstantTimeEquals(a, {}));
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
}

TEST(RandomTest, ProducesRequestedLengthsAndDistinctOutputs) {
  EXPECT_TRUE(RandomBytes(0).empty());
  std::set<Bytes> seen;
  for (int i = 0; i < 16; ++i) seen.insert(RandomBytes(16));
  EXPECT_EQ(seen.size(), 16u);  // a collision would mean a broken DRBG
}

TEST(RandomTest, FillRandomFillsTheWholeSpan) {
  Bytes buf(4096, 0);
  ASSERT_TRUE(FillRandom(buf).ok());
  // 4096 random bytes with no non-zero byte in the last 64 would be absurd.
  EXPECT_NE(Bytes(buf.end() - 64, buf.end()), Bytes(64, 0));
  EXPECT_TRUE(FillRandom({}).ok());
}

TEST(ProviderTest, HasEverythingBeibuNeeds) {
  EXPECT_TRUE(CheckProvider().ok()) << CheckProvider();
  EXPECT_FALSE(ProviderVersion().empty());
}

}  // namespace
}  // namespace beibu::crypto
