#include "beibu/policy/detector.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace beibu::policy {
namespace {

const Detector& D() {
  static const Detector* d = new Detector();
  return *d;
}

// Finds the one finding of `type`; fails the test if there is not exactly one.
Finding One(const std::vector<Finding>& fs, std::string_view type) {
  Finding out;
  int n = 0;
  for (const Finding& f : fs) {
    if (f.type == type) {
      out = f;
      ++n;
    }
  }
  EXPECT_EQ(n, 1) << type;
  return out;
}

int Count(const std::vector<Finding>& fs, std::string_view type) {
  int n = 0;
  for (const Finding& f : fs) n += f.type == type;
  return n;
}

std::string_view Slice(std::string_view text, const Finding& f) {
  return text.substr(f.start, f.end - f.start);
}

TEST(Detector, ByteOffsetsAfterUtf8) {
  const std::string text = "张三的号码是11010519491231002X。";
  const auto fs = D().Scan(text);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].type, "CN_RESIDENT_ID");
  EXPECT_EQ(fs[0].start, std::string("张三的号码是").size());  // 18 bytes, not 6 characters
  EXPECT_EQ(fs[0].start, 18u);
  EXPECT_EQ(fs[0].end, 36u);
  EXPECT_EQ(Slice(text, fs[0]), "11010519491231002X");
}

TEST(Detector, GluedIdentifiersIgnored) {
  EXPECT_TRUE(D().Scan("order 911010519491231002X7 shipped").empty());
  EXPECT_TRUE(D().Scan("ref A11010519491231002X").empty());
  EXPECT_TRUE(D().Scan("ts 45395787636214861234").empty());
  EXPECT_TRUE(D().Scan("code XS1234567D").empty());
  EXPECT_TRUE(D().Scan("x 138123456789 y").empty());
  EXPECT_TRUE(D().Scan("v1.2.3.4.5").empty());
  // Punctuation is a boundary, not glue.
  EXPECT_EQ(D().Scan("(S1234567D)").size(), 1u);
}

TEST(Detector, NearMissesAreNotFindings) {
  EXPECT_TRUE(D().Scan("身份证 110105194912310021").empty());
  EXPECT_TRUE(D().Scan("card 4539578763621487").empty());
  EXPECT_TRUE(D().Scan("NRIC S1234567A").empty());
  EXPECT_TRUE(D().Scan("Thai ID 1101700230705").empty());
  EXPECT_TRUE(D().Scan("ip 999.1.1.1").empty());
}

TEST(Detector, ContextRaisesScore) {
  const auto plain = D().Scan("value 4539578763621486 end");
  const auto ctx = D().Scan("card number: 4539578763621486 end");
  const Finding a = One(plain, "BANK_CARD");
  const Finding b = One(ctx, "BANK_CARD");
  EXPECT_GT(b.score, a.score);
  EXPECT_LE(b.score, 1.0);
  EXPECT_GE(a.score, 0.5);

  const Finding c = One(D().Scan("x 11010519491231002X"), "CN_RESIDENT_ID");
  const Finding d = One(D().Scan("身份证号：11010519491231002X"), "CN_RESIDENT_ID");
  EXPECT_GT(d.score, c.score);
}

TEST(Detector, PassportNeedsContext) {
  EXPECT_EQ(Count(D().Scan("item E12345678 in stock"), "PASSPORT"), 0);
  const std::string text = "Passport No: E12345678";
  const Finding f = One(D().Scan(text), "PASSPORT");
  EXPECT_EQ(Slice(text, f), "E12345678");
  const Finding g = One(D().Scan("护照号码 EA1234567"), "PASSPORT");
  EXPECT_EQ(g.end - g.start, 9u);
  // Context word more than 32 bytes before: not a passport.
  EXPECT_EQ(
      Count(D().Scan("passport ........................................ E12345678"), "PASSPORT"),
      0);
}

TEST(Detector, HealthIcd10NeedsContext) {
  EXPECT_EQ(Count(D().Scan("pallet E11.9 loaded"), "HEALTH_ICD10"), 0);
  EXPECT_EQ(Count(D().Scan("room J45, gate C50"), "HEALTH_ICD10"), 0);
  for (const std::string text :
       {"Diagnosis: E11.9", "ICD-10 E11.9", "诊断：E11.9", "chẩn đoán E11.9", "Bệnh: E11.9",
        "การวินิจฉัย E11.9", "diagnosa E11.9", "kode penyakit E11.9", "disease code E11.9"}) {
    const Finding f = One(D().Scan(text), "HEALTH_ICD10");
    EXPECT_EQ(Slice(text, f), "E11.9") << text;
    // Below every other type's base score (0.55): it never wins an overlap.
    EXPECT_LT(f.score, 0.55) << text;
  }
  // Longest code, and a context word farther than the 48-byte window.
  EXPECT_EQ(Slice("dx code per diagnosis: S82.61XA.",
                  One(D().Scan("dx code per diagnosis: S82.61XA."), "HEALTH_ICD10")),
            "S82.61XA");
  EXPECT_EQ(
      Count(D().Scan("diagnosis ........................................ E11.9"), "HEALTH_ICD10"),
      0);
  // "dx" is too short to trust inside text ("SDXC"): only the quoted JSON key.
  EXPECT_EQ(Count(D().Scan("SDXC card E64"), "HEALTH_ICD10"), 0);
  EXPECT_EQ(Count(D().Scan("dx E11.9"), "HEALTH_ICD10"), 0);
  // Letter U (WHO's provisional block) and dot-less long forms are not codes.
  EXPECT_EQ(Count(D().Scan("diagnosis U07.1"), "HEALTH_ICD10"), 0);
  EXPECT_EQ(Count(D().Scan("diagnosis E119"), "HEALTH_ICD10"), 0);
}

TEST(Detector, HealthIcd10NeverDisplacesAnotherType) {
  // "E11.4111" is a well-formed code whose dot part starts a Luhn-valid
  // grouped card: the card (no context, 0.8) keeps its finding.
  const std::string text = "diagnosis E11.4111 1111 1111 1111";
  const auto fs = D().Scan(text);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].type, "BANK_CARD");
  EXPECT_EQ(Slice(text, fs[0]), "4111 1111 1111 1111");
}

TEST(Detector, MultipleTypes) {
  const std::string text =
      "客户 alice@example.com 手机 +86 13812345678, NRIC S1234567D, card 6222021001115704287, "
      "USCC 91350100M000100Y43, Thai ID 1-1017-00230-70-8, MyKad 900101-14-5678, NIK "
      "3174055708900001, "
      "CCCD 079203001234, host 192.168.1.10 and 2001:db8::1";
  const auto fs = D().Scan(text);
  EXPECT_EQ(Slice(text, One(fs, "EMAIL")), "alice@example.com");
  EXPECT_EQ(Slice(text, One(fs, "CN_MOBILE")), "+86 13812345678");
  EXPECT_EQ(Slice(text, One(fs, "SG_NRIC_FIN")), "S1234567D");
  EXPECT_EQ(Slice(text, One(fs, "BANK_CARD")), "6222021001115704287");
  EXPECT_EQ(Slice(text, One(fs, "CN_USCC")), "91350100M000100Y43");
  EXPECT_EQ(Slice(text, One(fs, "TH_NATIONAL_ID")), "1-1017-00230-70-8");
  EXPECT_EQ(Slice(text, One(fs, "MY_MYKAD")), "900101-14-5678");
  EXPECT_EQ(Slice(text, One(fs, "ID_NIK")), "3174055708900001");
  EXPECT_EQ(Slice(text, One(fs, "VN_CCCD")), "079203001234");
  EXPECT_EQ(Count(fs, "IP_ADDRESS"), 2);
  EXPECT_EQ(fs.size(), 11u);
  for (size_t i = 1; i < fs.size(); ++i) EXPECT_LE(fs[i - 1].end, fs[i].start);
}

TEST(Detector, CsvLine) {
  const std::string line =
      "id,name,id_card,phone,email\n7,王五,11010519491231002X,13812345678,w@x.cn\n";
  const auto fs = D().Scan(line);
  ASSERT_EQ(fs.size(), 3u);
  EXPECT_EQ(fs[0].type, "CN_RESIDENT_ID");
  EXPECT_EQ(fs[1].type, "CN_MOBILE");
  EXPECT_EQ(fs[2].type, "EMAIL");
  EXPECT_EQ(Slice(line, fs[0]), "11010519491231002X");
  EXPECT_EQ(fs[0].start, line.find("11010519491231002X"));
  // The leading "7" row id is not glued to anything and is not an identifier.
}

TEST(Detector, JsonRecordFieldNamesAreContext) {
  const std::string json =
      R"({"nric":"S1234567D","passport":"K1234567","card":"4111111111111111","ip":"10.0.0.1","note":"订单号2024010112345678901"})";
  const auto fs = D().Scan(json);
  const Finding n = One(fs, "SG_NRIC_FIN");
  EXPECT_EQ(Slice(json, n), "S1234567D");
  EXPECT_DOUBLE_EQ(n.score, 1.0);  // 0.85 + context
  EXPECT_EQ(Slice(json, One(fs, "PASSPORT")), "K1234567");
  EXPECT_EQ(Slice(json, One(fs, "BANK_CARD")), "4111111111111111");
  EXPECT_EQ(Slice(json, One(fs, "IP_ADDRESS")), "10.0.0.1");
  EXPECT_EQ(fs.size(), 4u);
}

// "8613800138000" passes the Thai checksum (sum 342, 342 mod 11 = 1, check
// (11 - 1) mod 10 = 0), but after a '+' it is a phone number's digits.
TEST(Detector, DigitsAfterPlusAreAPhoneNumber) {
  for (Engine engine : {Engine::kFast, Engine::kRe2}) {
    const Detector d(engine);
    const std::string text = "call +8613800138000 now";
    const std::vector<Finding> f = d.Scan(text);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].type, "CN_MOBILE");
    EXPECT_EQ(f[0].start, 5u);
    EXPECT_EQ(f[0].end, 19u);
    // Without the '+' the same digits are a Thai ID.
    const std::vector<Finding> g = d.Scan("id 8613800138000");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].type, "TH_NATIONAL_ID");
  }
}

// The Thai words are 42 and 54 bytes of UTF-8: the windows must hold them.
TEST(Detector, LongUtf8ContextWordsFitTheWindow) {
  for (Engine engine : {Engine::kFast, Engine::kRe2}) {
    const Detector d(engine);
    const std::string passport = "หนังสือเดินทาง AA1234567";
    const std::vector<Finding> f = d.Scan(passport);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].type, "PASSPORT");
    EXPECT_EQ(passport.substr(f[0].start, f[0].end - f[0].start), "AA1234567");
    const std::vector<Finding> bare = d.Scan("เลขที่ 8613800138000");
    const std::vector<Finding> ctx = d.Scan("เลขประจำตัวประชาชน 8613800138000");
    ASSERT_EQ(bare.size(), 1u);
    ASSERT_EQ(ctx.size(), 1u);
    EXPECT_GT(ctx[0].score, bare[0].score);
  }
}

TEST(Detector, GroupedMobileNumbers) {
  for (Engine engine : {Engine::kFast, Engine::kRe2}) {
    const Detector d(engine);
    for (const std::string mobile :
         {"138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "+86-138-0013-8000"}) {
      const std::string text = "tel " + mobile + " ok";
      const std::vector<Finding> f = d.Scan(text);
      ASSERT_EQ(f.size(), 1u) << mobile;
      EXPECT_EQ(f[0].type, "CN_MOBILE");
      EXPECT_EQ(text.substr(f[0].start, f[0].end - f[0].start), mobile);
    }
    EXPECT_TRUE(d.Scan("tel 128 0013 8000").empty());   // 12x is not a mobile prefix
    EXPECT_TRUE(d.Scan("tel 138 0013 80001").empty());  // glued into a longer run
  }
}

// A local part can hold 64 bytes, so only the 64 bytes before an '@' can
// start an address: a megabyte of '.-' before one is scanned in linear time
// (this took minutes when every start was tried), and the engines agree.
TEST(Detector, LongRunBeforeAtSignIsLinear) {
  std::string text = "x ";
  for (int i = 0; i < 500000; ++i) text += ".-";
  text += "b@example.com";
  const std::vector<Finding> fast = Detector(Engine::kFast).Scan(text);
  const std::vector<Finding> re2 = Detector(Engine::kRe2).Scan(text);
  EXPECT_TRUE(fast == re2);
  // The first valid start in the last 64 bytes: a '-' (a local part may not
  // start with '.'), so "-.-. ... -b@example.com" with a 64-byte local part.
  ASSERT_EQ(fast.size(), 1u);
  EXPECT_EQ(fast[0].type, "EMAIL");
  EXPECT_EQ(fast[0].end, text.size());
  EXPECT_EQ(text.find('@') - fast[0].start, 64u);
}

TEST(Detector, EmptyAndPlainText) {
  EXPECT_TRUE(D().Scan("").empty());
  EXPECT_TRUE(D().Scan("nothing to see here, 12:30:45 on 2024-01-01, order 12345").empty());
}

}  // namespace
}  // namespace beibu::policy
