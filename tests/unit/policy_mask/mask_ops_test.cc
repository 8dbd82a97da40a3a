// The masking operators one by one (common/policy/src/mask_ops.cc).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "beibu/policy/mask.h"

namespace beibu::policy {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

MaskOp Mask(int first, int last, char c = '*') {
  MaskOp op;
  op.kind = MaskOp::Kind::kMask;
  op.keep_first = first;
  op.keep_last = last;
  op.mask_char = c;
  return op;
}
MaskOp Op(MaskOp::Kind kind, int64_t bucket = 10) {
  MaskOp op;
  op.kind = kind;
  op.bucket = bucket;
  return op;
}
std::string Apply(const MaskOp& op, std::string_view v, std::string_view type = "",
                  std::string_view key = kKey) {
  absl::StatusOr<std::string> r = ApplyMaskOp(op, v, type, key);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : "<error>";
}

TEST(MaskOpTest, MaskKeepsFirstAndLast) {
  EXPECT_EQ(Apply(Mask(3, 4), "13812345678", "CN_MOBILE"), "138****5678");
  EXPECT_EQ(Apply(Mask(0, 4), "6222021234567890"), "************7890");
  EXPECT_EQ(Apply(Mask(0, 0, '#'), "secret"), "######");
}

TEST(MaskOpTest, MaskCountsUtf8Characters) {
  // 阮文安: three 3-byte characters; one '*' per character, never a split byte.
  EXPECT_EQ(Apply(Mask(1, 0), "阮文安"), "阮**");
  EXPECT_EQ(Apply(Mask(0, 1), "阮文安"), "**安");
  // "Nguyễn": ễ is one character of 3 bytes.
  EXPECT_EQ(Apply(Mask(1, 1), "Nguyễn"), "N****n");
  EXPECT_EQ(Apply(Mask(4, 0), "Nguyễn Văn"), "Nguy******");
}

TEST(MaskOpTest, MaskNeverRevealsTheWholeValue) {
  // keep_first + keep_last >= length: at most floor(n/2) characters shown.
  EXPECT_EQ(Apply(Mask(3, 4), "1234567"), "123****");
  EXPECT_EQ(Apply(Mask(3, 4), "12345"), "12***");
  EXPECT_EQ(Apply(Mask(0, 4), "1234"), "**34");
  EXPECT_EQ(Apply(Mask(1, 1), "ab"), "a*");
  EXPECT_EQ(Apply(Mask(2, 2), "x"), "*");
  EXPECT_EQ(Apply(Mask(2, 2), "安"), "*");
  EXPECT_EQ(Apply(Mask(1, 1), ""), "");
}

TEST(MaskOpTest, MaskEmailMasksOnlyTheLocalPart) {
  EXPECT_EQ(Apply(Mask(1, 0), "alice@example.com", "EMAIL"), "a****@example.com");
  EXPECT_EQ(Apply(Mask(1, 0), "a@example.com", "EMAIL"), "*@example.com");
  // Not an EMAIL finding: the whole value is masked.
  EXPECT_EQ(Apply(Mask(1, 0), "alice@example.com", "NOTE"), "a****************");
}

TEST(MaskOpTest, MaskRejectsBadParameters) {
  EXPECT_FALSE(ApplyMaskOp(Mask(-1, 0), "abc", "", kKey).ok());
  EXPECT_FALSE(ApplyMaskOp(Mask(0, 0, '"'), "abc", "", kKey).ok());
  EXPECT_FALSE(ApplyMaskOp(Mask(0, 0, '\n'), "abc", "", kKey).ok());
  EXPECT_FALSE(ApplyMaskOp(Mask(0, 0, static_cast<char>(0xE4)), "abc", "", kKey).ok());
}

TEST(MaskOpTest, IsValidMaskCharIsTheRuleApplyMaskOpUses) {
  for (char c : {'*', '#', 'x', '0', '~', '!'}) EXPECT_TRUE(IsValidMaskChar(c)) << c;
  for (char c :
       {' ', '"', ',', '\\', '\n', '\t', '\0', static_cast<char>(0x7F), static_cast<char>(0xE4)})
    EXPECT_FALSE(IsValidMaskChar(c)) << static_cast<int>(c);
  // ApplyMaskOp accepts exactly the characters IsValidMaskChar accepts.
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    EXPECT_EQ(ApplyMaskOp(Mask(0, 0, c), "abc", "", kKey).ok(), IsValidMaskChar(c)) << i;
  }
}

TEST(MaskOpTest, PseudonymIsTheSameForVariantSpellings) {
  const MaskOp p = Op(MaskOp::Kind::kPseudonym);
  const auto same = [&](std::string_view type, std::string_view a, std::string_view b) {
    EXPECT_EQ(Apply(p, a, type), Apply(p, b, type)) << type << ": " << a << " vs " << b;
  };
  same("BANK_CARD", "6222 0212 3456 7890", "6222021234567890");
  same("BANK_CARD", "6222-0212-3456-7890", "6222021234567890");
  same("CN_MOBILE", "+86 138 0013 8000", "13800138000");
  same("CN_MOBILE", "+86-13800138000", "13800138000");
  same("CN_MOBILE", "138-0013-8000", "13800138000");
  same("CN_RESIDENT_ID", "11010519491231002x", "11010519491231002X");
  same("TH_NATIONAL_ID", "1-2345-67890-12-1", "1234567890121");
  same("MY_MYKAD", "900101-14-5678", "900101145678");
  same("EMAIL", "Alice@Example.COM", "alice@example.com");
  same("IP_ADDRESS", "2001:DB8::1", "2001:db8::1");
  // Different values stay different.
  EXPECT_NE(Apply(p, "6222 0212 3456 7891", "BANK_CARD"),
            Apply(p, "6222021234567890", "BANK_CARD"));
  EXPECT_NE(Apply(p, "+86 138 0013 8001", "CN_MOBILE"), Apply(p, "13800138000", "CN_MOBILE"));
  EXPECT_NE(Apply(p, "bob@example.com", "EMAIL"), Apply(p, "alice@example.com", "EMAIL"));
  // "+86" is dropped only from a CN_MOBILE, and types without a rule are
  // taken as written.
  EXPECT_NE(Apply(p, "+8613800138000", "PHONE"), Apply(p, "13800138000", "PHONE"));
  EXPECT_NE(Apply(p, "E1234567", "PASSPORT"), Apply(p, "e1234567", "PASSPORT"));
}

TEST(MaskOpTest, RedactAndReplaceWithType) {
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kRedact), "13812345678", "CN_MOBILE"), "[REDACTED]");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kRedact), ""), "[REDACTED]");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kReplaceWithType), "13812345678", "CN_MOBILE"), "<CN_MOBILE>");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kReplaceWithType), "x", ""), "<REDACTED>");
}

TEST(MaskOpTest, PseudonymIsStablePerKeyAndType) {
  const MaskOp p = Op(MaskOp::Kind::kPseudonym);
  const std::string a = Apply(p, "13812345678", "CN_MOBILE");
  ASSERT_EQ(a.size(), 4u + 16u);
  EXPECT_EQ(a.substr(0, 4), "tok_");
  for (char c : a.substr(4))
    EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)) &&
                !std::isupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Apply(p, "13812345678", "CN_MOBILE"), a);
  EXPECT_NE(Apply(p, "13812345679", "CN_MOBILE"), a);
  EXPECT_NE(Apply(p, "13812345678", "PHONE"), a);  // type separates domains
  EXPECT_NE(Apply(p, "13812345678", "CN_MOBILE", "another key of 16+ bytes"), a);
  // type + "\0" + value: ("AB", "C") and ("A", "BC") must not collide.
  EXPECT_NE(Apply(p, "C", "AB"), Apply(p, "BC", "A"));
}

TEST(MaskOpTest, PseudonymNeedsALongEnoughKey) {
  absl::StatusOr<std::string> r =
      ApplyMaskOp(Op(MaskOp::Kind::kPseudonym), "x", "EMAIL", "short key");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("openssl rand -hex 32"), std::string::npos);
  EXPECT_TRUE(ApplyMaskOp(Op(MaskOp::Kind::kPseudonym), "x", "EMAIL", "0123456789abcdef").ok());
}

TEST(MaskOpTest, PseudonymsOfManyValuesAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i)
    seen.insert(Apply(Op(MaskOp::Kind::kPseudonym), std::to_string(13800000000LL + i), "X"));
  EXPECT_EQ(seen.size(), 2000u);
}

TEST(MaskOpTest, GeneralizeDate) {
  const MaskOp d = Op(MaskOp::Kind::kGeneralizeDate);
  EXPECT_EQ(Apply(d, "1987-06-15"), "1987");
  EXPECT_EQ(Apply(d, "1987/06/15"), "1987");
  EXPECT_EQ(Apply(d, "19870615"), "1987");
  EXPECT_EQ(Apply(d, "1987-06-15T08:30:00Z"), "1987");
  EXPECT_EQ(Apply(d, "1987-06-15 08:30"), "1987");
  EXPECT_EQ(Apply(d, "2024-02-29"), "2024");  // leap year
  EXPECT_EQ(Apply(d, " 2001-01-01 "), "2001");
  for (const char* bad : {"2023-02-29", "1987-13-01", "1987-00-10", "1987-06-31", "1987-06-1",
                          "1987-06/15", "19871315", "15/06/1987", "June 1987", "", "1987",
                          "1987-06-15T25:00", "1987-06-15X", "阮文安"}) {
    EXPECT_EQ(Apply(d, bad), "[REDACTED]") << bad;
  }
}

TEST(MaskOpTest, GeneralizeNumber) {
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "37"), "30-39");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "30"), "30-39");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "0"), "0-9");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "+39.99"), "30-39");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "-5"), "-10--1");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "-10"), "-10--1");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "-0.5"), "-10--1");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), "-0"), "0-9");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber, 1000), "123456.7"), "123000-123999");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber, 1), "7"), "7-7");
  EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber, 5), ".5"), "0-4");
  for (const char* bad :
       {"", "-", "abc", "1e5", "1.2.3", "12a", "0x10", "1 000", ".", "99999999999999999999"}) {
    EXPECT_EQ(Apply(Op(MaskOp::Kind::kGeneralizeNumber), bad), "[REDACTED]") << bad;
  }
  EXPECT_FALSE(ApplyMaskOp(Op(MaskOp::Kind::kGeneralizeNumber, 0), "5", "", kKey).ok());
}

}  // namespace
}  // namespace beibu::policy
