// Every "valid" example is re-derived here with an independent reference
// computation of its check character before the library is asked about it.
#include "beibu/policy/validators.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "id_gen.h"

namespace beibu::policy {
namespace {

// The reference check characters live in id_gen.h (shared with the engine
// tests); they are written from the standards, not from the library.
using testing::IdGen;
constexpr auto RefCnCheck = &IdGen::CnCheck;
constexpr auto RefUsccCheck = &IdGen::UsccCheck;
constexpr auto RefSgCheck = &IdGen::SgCheck;
constexpr auto RefThCheck = &IdGen::ThCheck;

bool RefLuhn(std::string_view s) {
  int t = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    int d = s[s.size() - 1 - i] - '0';
    if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    t += d;
  }
  return t % 10 == 0;
}

TEST(CnResidentId, Valid) {
  for (std::string_view id :
       {"11010519491231002X", "440308199901011234", "310115200002294567", "510108198511300017"}) {
    ASSERT_EQ(RefCnCheck(id.substr(0, 17)), id[17]) << id;
    EXPECT_TRUE(IsValidCnResidentId(id)) << id;
  }
  EXPECT_TRUE(IsValidCnResidentId("11010519491231002x"));  // lower-case x accepted
}

TEST(CnResidentId, InvalidAndNearMiss) {
  EXPECT_FALSE(IsValidCnResidentId("110105194912310021"));   // wrong check
  EXPECT_FALSE(IsValidCnResidentId("440308199901011235"));   // wrong check
  EXPECT_FALSE(IsValidCnResidentId("11010519491231002"));    // 17 chars
  EXPECT_FALSE(IsValidCnResidentId("11010519491231002XX"));  // 19 chars
  EXPECT_FALSE(IsValidCnResidentId("1101051949123100X2"));   // X in wrong place
  std::string bad_date = "11010519490231001";                // 31 Feb
  bad_date += RefCnCheck(bad_date);
  EXPECT_FALSE(IsValidCnResidentId(bad_date));
  std::string old = "11010518991231001";  // year < 1900
  old += RefCnCheck(old);
  EXPECT_FALSE(IsValidCnResidentId(old));
  std::string future = "11010520991231001";
  future += RefCnCheck(future);
  EXPECT_FALSE(IsValidCnResidentId(future));
  std::string feb29 = "31011519000229456";  // 1900 is not a leap year
  feb29 += RefCnCheck(feb29);
  EXPECT_FALSE(IsValidCnResidentId(feb29));
}

TEST(CnUscc, Valid) {
  for (std::string_view c :
       {"91350100M000100Y43", "91110000600037341L", "9144030071526726XG", "92440300MB5FYBMPLT"}) {
    ASSERT_EQ(RefUsccCheck(c.substr(0, 17)), c[17]) << c;
    EXPECT_TRUE(IsValidCnUscc(c)) << c;
  }
}

TEST(CnUscc, InvalidAndNearMiss) {
  EXPECT_FALSE(IsValidCnUscc("91350100M000100Y44"));  // wrong check
  EXPECT_FALSE(IsValidCnUscc("91110000600037341M"));  // wrong check
  EXPECT_FALSE(IsValidCnUscc("91350100M000100Y4"));   // 17 chars
  EXPECT_FALSE(IsValidCnUscc("91350100I000100Y43"));  // I not in alphabet
  EXPECT_FALSE(IsValidCnUscc("9135010OM000100Y43"));  // letter in the division code
  EXPECT_FALSE(IsValidCnUscc("91350100m000100Y43"));  // lower case
}

TEST(BankCard, Valid) {
  for (std::string_view c : {"4539578763621486", "4111111111111111", "5500005555555559",
                             "6222021001115704287", "6217000010001234569", "3566002020360505"}) {
    ASSERT_TRUE(RefLuhn(c)) << c;
    EXPECT_TRUE(IsValidBankCard(c)) << c;
  }
}

TEST(BankCard, InvalidAndNearMiss) {
  EXPECT_FALSE(IsValidBankCard("4539578763621487"));      // Luhn fails
  EXPECT_FALSE(IsValidBankCard("6222021001115704289"));   // Luhn fails
  EXPECT_FALSE(IsValidBankCard("411111111111111"));       // 15 digits
  EXPECT_FALSE(IsValidBankCard("41111111111111111111"));  // 20 digits
  EXPECT_FALSE(IsValidBankCard("411111111111111A"));
  EXPECT_FALSE(IsValidBankCard("0000000000000000"));  // leading zero
}

TEST(CnMobile, ValidAndInvalid) {
  for (std::string_view m : {"13812345678", "15900001111", "19912345678"})
    EXPECT_TRUE(IsValidCnMobile(m)) << m;
  EXPECT_FALSE(IsValidCnMobile("12812345678"));   // second digit 2
  EXPECT_FALSE(IsValidCnMobile("1381234567"));    // 10 digits
  EXPECT_FALSE(IsValidCnMobile("138123456789"));  // 12 digits
  EXPECT_FALSE(IsValidCnMobile("23812345678"));
  EXPECT_FALSE(IsValidCnMobile("1381234567A"));
}

TEST(SgNricFin, Valid) {
  for (std::string_view c : {"S1234567D", "T1234567J", "F1234567N", "G1234567X", "M1234567K",
                             "S7654321F", "T0212345I"}) {
    ASSERT_EQ(RefSgCheck(c.substr(0, 8)), c[8]) << c;
    EXPECT_TRUE(IsValidSgNricFin(c)) << c;
  }
}

TEST(SgNricFin, InvalidAndNearMiss) {
  EXPECT_FALSE(IsValidSgNricFin("S1234567A"));  // wrong letter
  EXPECT_FALSE(IsValidSgNricFin("T1234567D"));  // S's letter on a T
  EXPECT_FALSE(IsValidSgNricFin("M1234567X"));
  EXPECT_FALSE(IsValidSgNricFin("A1234567D"));  // bad prefix
  EXPECT_FALSE(IsValidSgNricFin("S123456D"));   // 6 digits
  EXPECT_FALSE(IsValidSgNricFin("S12345A7D"));  // letter among digits
}

TEST(ThNationalId, Valid) {
  for (std::string_view c : {"1101700230708", "3100100456786", "5701100001233", "8000000000014"}) {
    ASSERT_EQ(RefThCheck(c.substr(0, 12)), c[12]) << c;
    EXPECT_TRUE(IsValidThNationalId(c)) << c;
  }
}

TEST(ThNationalId, InvalidAndNearMiss) {
  // 1101700230705 is sometimes quoted as a sample; it fails the checksum (check is 8).
  EXPECT_EQ(RefThCheck("110170023070"), '8');
  EXPECT_FALSE(IsValidThNationalId("1101700230705"));
  EXPECT_FALSE(IsValidThNationalId("3100100456787"));
  EXPECT_FALSE(IsValidThNationalId("110170023070"));    // 12 digits
  EXPECT_FALSE(IsValidThNationalId("11017002307080"));  // 14 digits
  EXPECT_FALSE(IsValidThNationalId("0000000000000"));   // category 0
  EXPECT_FALSE(IsValidThNationalId("11017002307A8"));
}

TEST(MyMykad, Valid) {
  for (std::string_view c : {"900101145678", "000229015432", "851231710001", "770615591234"})
    EXPECT_TRUE(IsValidMyMykad(c)) << c;
}

TEST(MyMykad, InvalidAndNearMiss) {
  EXPECT_FALSE(IsValidMyMykad("901301145678"));  // month 13
  EXPECT_FALSE(IsValidMyMykad("900231145678"));  // 31 Feb
  EXPECT_FALSE(IsValidMyMykad("900101175678"));  // birthplace 17 unused
  EXPECT_FALSE(IsValidMyMykad("900101005678"));  // birthplace 00
  EXPECT_FALSE(IsValidMyMykad("900101805678"));  // birthplace 80 unused
  EXPECT_FALSE(IsValidMyMykad("90010114567"));   // 11 digits
  EXPECT_FALSE(IsValidMyMykad("9001011456A8"));
}

TEST(IdNik, Valid) {
  for (std::string_view c :
       {"3174055708900001", "3201011205850002", "9471022902000123", "1101014101990001"})
    EXPECT_TRUE(IsValidIdNik(c)) << c;
}

TEST(IdNik, InvalidAndNearMiss) {
  EXPECT_FALSE(IsValidIdNik("1001011205850002"));  // province 10
  EXPECT_FALSE(IsValidIdNik("9501011205850002"));  // province 95
  EXPECT_FALSE(IsValidIdNik("3201013205850002"));  // day 32
  EXPECT_FALSE(IsValidIdNik("3201017205850002"));  // day 72 (women 41-71)
  EXPECT_FALSE(IsValidIdNik("3201011213850002"));  // month 13
  EXPECT_FALSE(IsValidIdNik("3201013102850002"));  // 31 Feb
  EXPECT_FALSE(IsValidIdNik("3201011205850000"));  // serial 0000
  EXPECT_FALSE(IsValidIdNik("320101120585000"));   // 15 digits
}

TEST(VnCccd, Valid) {
  for (std::string_view c : {"001090012345", "079203001234", "036185000123", "096301234567"})
    EXPECT_TRUE(IsValidVnCccd(c)) << c;
}

TEST(VnCccd, InvalidAndNearMiss) {
  EXPECT_FALSE(IsValidVnCccd("003090012345"));  // 003 is not a province code
  EXPECT_FALSE(IsValidVnCccd("097090012345"));  // above 096
  EXPECT_FALSE(IsValidVnCccd("000090012345"));
  EXPECT_FALSE(IsValidVnCccd("001490012345"));  // 2190: in the future
  EXPECT_FALSE(IsValidVnCccd("001299012345"));  // 2099: in the future
  EXPECT_FALSE(IsValidVnCccd("00109001234"));   // 11 digits
  EXPECT_FALSE(IsValidVnCccd("00109001234A"));
}

TEST(Email, ValidAndInvalid) {
  for (std::string_view e :
       {"alice@example.com", "bob.smith+tag@mail.co.uk", "x_y%z@sub-domain.example.org"})
    EXPECT_TRUE(IsValidEmail(e)) << e;
  for (std::string_view e :
       {"alice@example", "alice@@example.com", ".alice@example.com", "al..ice@example.com",
        "alice@-example.com", "alice@example.c0m", "@example.com", "alice@example..com"})
    EXPECT_FALSE(IsValidEmail(e)) << e;
}

TEST(IpAddress, ValidAndInvalid) {
  for (std::string_view ip : {"192.168.1.1", "10.0.0.255", "8.8.8.8", "2001:db8::1", "fe80::1",
                              "fe80::1:2:3:4", "2001:0db8:0000:0000:0000:ff00:0042:8329"})
    EXPECT_TRUE(IsValidIpAddress(ip)) << ip;
  for (std::string_view ip : {"256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "12:30:45",
                              "2001:db8:::1", "00:1a:2b:3c:4d:5e", "::", "::1", "::d", "a::"})
    EXPECT_FALSE(IsValidIpAddress(ip)) << ip;
}

// Structure only (validators.h): well-formed codes pass whether or not an
// edition assigns them.
TEST(HealthIcd10, ValidShapes) {
  for (std::string_view c : {"J45", "E11.9", "C50.912", "S82.61XA", "O09.A1", "C4A.0", "M1A",
                             "Z99.89", "T14.91XD", "A00.0", "Z3A.01"})
    EXPECT_TRUE(IsValidHealthIcd10(c)) << c;
}

TEST(HealthIcd10, InvalidAndNearMiss) {
  for (std::string_view c :
       {"", "E1", "E119", "E11.", "E11.12345", "U07.1", "e11.9", "E11.9a", "1E1.9", "EE1.9", "E1.9",
        "E11-9", "E11 9", "E11..9", "C50.9X1A2", "E11.9 "})
    EXPECT_FALSE(IsValidHealthIcd10(c)) << c;
}

}  // namespace
}  // namespace beibu::policy
