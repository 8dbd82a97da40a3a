// ContentDigest: SM3 over length-framed (path, content) pairs in path order.
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "beibu/policy/database.h"
#include "gtest/gtest.h"

namespace beibu::policy {
namespace {

TEST(PolicyDigest, FramingMatchesTheContract) {
  // u32 BE path length, path, u64 BE content length, content.
  std::string framed;
  framed += std::string("\0\0\0\x01", 4) + "a" + std::string("\0\0\0\0\0\0\0\x02", 8) + "bc";
  framed += std::string("\0\0\0\x02", 4) + "zz" + std::string(8, '\0');
  const std::string expected = HexEncode(crypto::Sm3::Hash(AsBytes(framed)));
  EXPECT_EQ(ContentDigest({{"zz", ""}, {"a", "bc"}}), expected);
  EXPECT_EQ(expected.size(), 64u);
  EXPECT_EQ(expected.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(PolicyDigest, IndependentOfInsertionOrder) {
  PolicyFiles a;
  a["rules.yaml"] = "x";
  a["manifest.yaml"] = "y";
  PolicyFiles b;
  b["manifest.yaml"] = "y";
  b["rules.yaml"] = "x";
  EXPECT_EQ(ContentDigest(a), ContentDigest(b));
}

TEST(PolicyDigest, ChangesWithEveryByteAndPath) {
  const PolicyFiles& base = BaselineFiles();
  const std::string digest = ContentDigest(base);
  const std::string& cn = base.at("jurisdictions/CN.yaml");
  // Flip one byte at several positions of one file.
  for (size_t pos : {size_t{0}, cn.size() / 2, cn.size() - 1}) {
    PolicyFiles edited = base;
    edited["jurisdictions/CN.yaml"][pos] ^= 0x01;
    EXPECT_NE(ContentDigest(edited), digest) << pos;
  }
  PolicyFiles appended = base;
  appended["rules.yaml"] += "\n";
  EXPECT_NE(ContentDigest(appended), digest);

  PolicyFiles renamed = base;
  renamed["jurisdictions/XX.yaml"] = renamed["jurisdictions/VN.yaml"];
  renamed.erase("jurisdictions/VN.yaml");
  EXPECT_NE(ContentDigest(renamed), digest);

  PolicyFiles extra = base;
  extra["negative-lists/empty.yaml"] = "";
  EXPECT_NE(ContentDigest(extra), digest);
}

TEST(PolicyDigest, BytesCannotMoveBetweenPathAndContent) {
  EXPECT_NE(ContentDigest({{"ab", "c"}}), ContentDigest({{"a", "bc"}}));
  EXPECT_NE(ContentDigest({{"a", "b"}, {"c", "d"}}), ContentDigest({{"a", "bcd"}}));
  EXPECT_NE(ContentDigest({}), ContentDigest({{"", ""}}));
}

}  // namespace
}  // namespace beibu::policy
