#include "test_data.h"

#include <vector>

namespace beibu::policy::testing {
namespace {

int Digit(std::mt19937_64& rng) { return static_cast<int>(rng() % 10); }

}  // namespace

std::string MakeMobile(std::mt19937_64& rng) {
  std::string s = "1";
  s.push_back(static_cast<char>('3' + rng() % 7));
  for (int i = 0; i < 9; ++i) s.push_back(static_cast<char>('0' + Digit(rng)));
  return s;
}

std::string MakeResidentId(std::mt19937_64& rng) {
  static constexpr int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char kCheck[] = "10X98765432";
  char birth[9];
  std::snprintf(birth, sizeof birth, "%04d%02d%02d", 1950 + static_cast<int>(rng() % 60),
                1 + static_cast<int>(rng() % 12), 1 + static_cast<int>(rng() % 28));
  std::string s = "450103";  // Nanning
  s += birth;
  for (int i = 0; i < 3; ++i) s.push_back(static_cast<char>('0' + Digit(rng)));
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (s[i] - '0') * kW[i];
  s.push_back(kCheck[sum % 11]);
  return s;
}

std::string MakeBankCard(std::mt19937_64& rng) {
  std::string s = "62";
  for (int i = 0; i < 13; ++i) s.push_back(static_cast<char>('0' + Digit(rng)));
  // Luhn: double every second digit from the right, counting the check digit.
  int sum = 0;
  for (int i = 0; i < 15; ++i) {
    int d = s[14 - i] - '0';
    if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  s.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return s;
}

std::string MakeEmail(std::mt19937_64& rng) {
  static const std::vector<std::string> kLocal = {"alice", "bob.tran", "nguyen_van", "li.wei",
                                                  "somchai+work"};
  static const std::vector<std::string> kDomain = {"example.com", "mail.example.vn",
                                                   "corp.example.co.th"};
  return kLocal[rng() % kLocal.size()] + std::to_string(rng() % 100) + "@" +
         kDomain[rng() % kDomain.size()];
}

std::string MakeFiller(std::mt19937_64& rng, int words) {
  static const std::vector<std::string> kWords = {
      "order", "shipped",  "to",     "阮文安", "Nguyễn",    "Thị",   "客户",
      "联系",  "invoice",  "Hà Nội", "call",   "note:",     "phone", "email",
      "พัสดุ",   "(urgent)", "ref",    "42",     "2026-11-27"};
  std::string s;
  for (int i = 0; i < words; ++i) {
    if (i > 0) s.push_back(' ');
    s += kWords[rng() % kWords.size()];
  }
  return s;
}

}  // namespace beibu::policy::testing
