#include "policy_corpus.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace beibu::policy::corpus {
namespace {

// ---------------------------------------------------------------------------
// Randomness: splitmix64, so a seed gives the same corpus on every platform
// (std::uniform_int_distribution is implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  int Range(int lo, int hi) { return lo + Below(hi - lo + 1); }  // inclusive
  bool Chance(int percent) { return Below(100) < percent; }
  char Digit() { return static_cast<char>('0' + Below(10)); }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += Digit();
    return s;
  }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& a) {
    return a[static_cast<size_t>(Below(static_cast<int>(N)))];
  }

 private:
  uint64_t state_;
};

std::string Pad(int v, int width) {
  std::string s = std::to_string(v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), '0');
  return s;
}

// ---------------------------------------------------------------------------
// Independent rule checks (from COMPLIANCE.md), used only to keep labelled
// values unambiguous and decoys clean. The checks for *other* types are loose
// on purpose (they accept a superset), so a re-draw happens whenever in doubt.

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int Num(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool Leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool DateOk(int y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= kDays[m - 1] + (m == 2 && Leap(y) ? 1 : 0);
}

bool LuhnOk(std::string_view d) {
  int sum = 0;
  bool dbl = false;
  for (size_t i = d.size(); i-- > 0;) {
    int v = d[i] - '0';
    if (dbl) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

char LuhnCheckDigit(std::string_view body) {  // digit to append
  for (char c = '0'; c <= '9'; ++c) {
    if (LuhnOk(std::string(body) + c)) return c;
  }
  return '0';
}

char CnIdCheck(std::string_view first17) {
  static constexpr int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (first17[i] - '0') * kW[i];
  return "10X98765432"[sum % 11];
}

// Full CN resident ID rule; dates after 2025 count as valid too (looser).
bool CnIdOk(std::string_view s) {
  if (s.size() != 18 || !AllDigits(s.substr(0, 17)) || s[0] == '0') return false;
  const char last = s[17] == 'x' ? 'X' : s[17];
  if (CnIdCheck(s) != last) return false;
  const int y = Num(s.substr(6, 4));
  return y >= 1900 && DateOk(y, Num(s.substr(10, 2)), Num(s.substr(12, 2)));
}

constexpr std::string_view kUsccAlpha = "0123456789ABCDEFGHJKLMNPQRTUWXY";

char UsccCheck(std::string_view first17) {
  int sum = 0, w = 1;
  for (int i = 0; i < 17; ++i) {
    sum += static_cast<int>(kUsccAlpha.find(first17[i])) * w;
    w = w * 3 % 31;
  }
  return kUsccAlpha[(31 - sum % 31) % 31];
}

bool UsccOk(std::string_view s) {
  if (s.size() != 18 || !AllDigits(s.substr(2, 6))) return false;
  for (char c : s) {
    if (kUsccAlpha.find(c) == std::string_view::npos) return false;
  }
  return UsccCheck(s) == s[17];
}

int ThCheck(std::string_view first12) {
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += (first12[i] - '0') * (13 - i);
  return (11 - sum % 11) % 10;
}

bool SgOk(std::string_view s) {
  if (s.size() != 9 || !AllDigits(s.substr(1, 7))) return false;
  static constexpr int kW[7] = {2, 7, 6, 5, 4, 3, 2};
  int sum = 0;
  for (int i = 0; i < 7; ++i) sum += (s[1 + i] - '0') * kW[i];
  const char p = s[0];
  if (p == 'T' || p == 'G') sum += 4;
  if (p == 'M') sum += 3;
  const int r = sum % 11;
  if (p == 'S' || p == 'T') return s[8] == "JZIHGFEDCBA"[r];
  if (p == 'F' || p == 'G') return s[8] == "XWUTRQPNMLK"[r];
  if (p == 'M') return s[8] == "KLJNPQRTUWX"[10 - r];
  return false;
}

char SgLetter(std::string_view first8) {
  for (char c = 'A'; c <= 'Z'; ++c) {
    if (SgOk(std::string(first8) + c)) return c;
  }
  return '?';
}

// Loose: any birthplace code, either century.
bool MykadLoose(std::string_view s) {
  const int yy = Num(s.substr(0, 2)), m = Num(s.substr(2, 2)), d = Num(s.substr(4, 2));
  return DateOk(1900 + yy, m, d) || DateOk(2000 + yy, m, d);
}

// Loose: any 3-digit prefix 001-096 counts as a province.
bool CccdLoose(std::string_view s) {
  const int p = Num(s.substr(0, 3));
  return p >= 1 && p <= 96;
}

bool NikLoose(std::string_view s) {
  const int prov = Num(s.substr(0, 2));
  int d = Num(s.substr(6, 2));
  if (d > 40) d -= 40;
  return prov >= 11 && prov <= 94 && DateOk(2000, Num(s.substr(8, 2)), d);
}

// Types whose rules (loosely) accept the digit string `d` (separators gone).
std::vector<std::string_view> DigitTypes(std::string_view d) {
  std::vector<std::string_view> out;
  if (!AllDigits(d)) return out;
  const size_t n = d.size();
  if (n == 11 && d[0] == '1' && d[1] >= '3') out.push_back("CN_MOBILE");
  if (n == 12 && MykadLoose(d)) out.push_back("MY_MYKAD");
  if (n == 12 && CccdLoose(d)) out.push_back("VN_CCCD");
  if (n == 13 && d[0] >= '1' && d[0] <= '8' && ThCheck(d) == d[12] - '0')
    out.push_back("TH_NATIONAL_ID");
  if (n == 16 && NikLoose(d)) out.push_back("ID_NIK");
  if (n >= 16 && n <= 19 && d[0] != '0' && LuhnOk(d)) out.push_back("BANK_CARD");
  if (n == 18 && CnIdOk(d)) out.push_back("CN_RESIDENT_ID");
  if (n == 18 && UsccOk(d)) out.push_back("CN_USCC");
  return out;
}

// Types whose rules accept some candidate inside `s`: every maximal
// alphanumeric run, and every run of digit groups joined by single ' ' or '-'
// with the separators removed (cards 4-4-4-4, TH 1-4-5-2-1, MyKad 6-2-4).
std::vector<std::string_view> AcceptingTypes(std::string_view s) {
  std::vector<std::string_view> out;
  const auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (size_t i = 0; i < s.size();) {
    if (!alnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && alnum(s[j])) ++j;
    const std::string_view run = s.substr(i, j - i);
    for (auto t : DigitTypes(run)) out.push_back(t);
    if (run.size() == 9 && SgOk(run)) out.push_back("SG_NRIC_FIN");
    if (run.size() == 18 && UsccOk(run)) out.push_back("CN_USCC");
    i = j;
  }
  for (size_t i = 0; i < s.size();) {
    if (!digit(s[i])) {
      ++i;
      continue;
    }
    std::string stripped;
    size_t j = i;
    while (j < s.size()) {
      if (digit(s[j])) {
        stripped += s[j++];
      } else if ((s[j] == ' ' || s[j] == '-') && j + 1 < s.size() && digit(s[j + 1])) {
        ++j;
      } else {
        break;
      }
    }
    // A run glued to a letter is no candidate (detector step 3).
    const bool glued = (i > 0 && alnum(s[i - 1])) || (j < s.size() && alnum(s[j]));
    if (!glued) {
      for (auto t : DigitTypes(stripped)) out.push_back(t);
    }
    i = j;
  }
  return out;
}

bool OnlyType(std::string_view s, std::string_view type) {
  for (auto t : AcceptingTypes(s)) {
    if (t != type) return false;
  }
  return true;
}

bool Clean(std::string_view s) { return AcceptingTypes(s).empty(); }

// ---------------------------------------------------------------------------
// Identifier generators. Each returns a value exactly one type accepts.

constexpr std::array<std::string_view, 10> kCnAreas = {"110101", "310104", "440305", "330106",
                                                       "510107", "420102", "320102", "350203",
                                                       "450103", "530102"};

std::string CnIdBody(Rng& r, int year, int month, int day) {
  return std::string(r.Pick(kCnAreas)) + std::to_string(year) + Pad(month, 2) + Pad(day, 2) +
         r.Digits(3);
}

void RandomDate(Rng& r, int y0, int y1, int* y, int* m, int* d) {
  *y = r.Range(y0, y1);
  *m = r.Range(1, 12);
  do {
    *d = r.Range(1, 31);
  } while (!DateOk(*y, *m, *d));
}

std::string CnResidentId(Rng& r) {
  while (true) {
    int y, m, d;
    RandomDate(r, 1950, 2008, &y, &m, &d);
    std::string s = CnIdBody(r, y, m, d);
    s += CnIdCheck(s);
    if (OnlyType(s, "CN_RESIDENT_ID")) return s;
  }
}

std::string CnUscc(Rng& r) {
  static constexpr std::array<std::string_view, 4> kDept = {"91", "92", "11", "52"};
  while (true) {
    std::string s(r.Pick(kDept));
    s += r.Pick(kCnAreas);
    // Organization code: 8 body characters + its own check (not verified by
    // the USCC rule), drawn from the USCC alphabet.
    for (int i = 0; i < 9; ++i) {
      s += r.Chance(70) ? r.Digit() : kUsccAlpha[static_cast<size_t>(r.Range(10, 30))];
    }
    s += UsccCheck(s);
    if (OnlyType(s, "CN_USCC")) return s;
  }
}

std::string SgNric(Rng& r) {
  static constexpr std::array<char, 5> kPrefix = {'S', 'T', 'F', 'G', 'M'};
  std::string s(1, r.Pick(kPrefix));
  s += r.Digits(7);
  s += SgLetter(s);
  return s;
}

std::string ThNationalId(Rng& r, bool dashed) {
  while (true) {
    std::string s(1, static_cast<char>('0' + r.Range(1, 8)));
    s += r.Digits(11);
    s += static_cast<char>('0' + ThCheck(s));
    if (!OnlyType(s, "TH_NATIONAL_ID")) continue;
    if (!dashed) return s;
    return s.substr(0, 1) + "-" + s.substr(1, 4) + "-" + s.substr(5, 5) + "-" + s.substr(10, 2) +
           "-" + s.substr(12, 1);
  }
}

std::string BankCard(Rng& r) {
  static constexpr std::array<std::string_view, 6> kBins = {"622202", "621700", "622848",
                                                            "436742", "524094", "625907"};
  while (true) {
    const int len = r.Chance(80) ? 16 : 19;
    std::string s(r.Pick(kBins));
    s += r.Digits(len - 7);
    s += LuhnCheckDigit(s);
    if (!OnlyType(s, "BANK_CARD")) continue;
    const int style = r.Below(3);
    if (style == 0) return s;
    const char sep = style == 1 ? ' ' : '-';
    std::string g;
    for (size_t i = 0; i < s.size(); i += 4) {
      if (i > 0) g += sep;
      g += s.substr(i, 4);
    }
    return g;
  }
}

// "+86" glued to the number makes a 13-digit run "86..." that a TH national
// ID check accepts one time in ten (and TH outscores CN_MOBILE); such draws
// are re-drawn like every other ambiguous value.
std::string CnMobile(Rng& r) {
  while (true) {
    std::string s = "1";
    s += static_cast<char>('0' + r.Range(3, 9));
    s += r.Digits(9);
    switch (r.Below(5)) {
      case 0:
        s = "+86 " + s;
        break;
      case 1:
        s = "+86-" + s;
        break;
      case 2:
        s = "+86" + s;
        break;
      default:
        break;
    }
    if (OnlyType(s, "CN_MOBILE")) return s;
  }
}

std::string Mykad(Rng& r, bool dashed) {
  while (true) {
    int y, m, d;
    RandomDate(r, 1950, 2015, &y, &m, &d);
    // Birthplace: a state code (01-16) or an older/foreign code that is in use.
    static constexpr std::array<int, 8> kOther = {21, 35, 47, 59, 60, 71, 74, 83};
    const int pb = r.Chance(80) ? r.Range(1, 16) : r.Pick(kOther);
    const std::string date = Pad(y % 100, 2) + Pad(m, 2) + Pad(d, 2);
    const std::string serial = r.Digits(4);
    const std::string flat = date + Pad(pb, 2) + serial;
    if (!OnlyType(flat, "MY_MYKAD")) continue;
    return dashed ? date + "-" + Pad(pb, 2) + "-" + serial : flat;
  }
}

// Circular 07/2016/TT-BCA province codes (63 units).
constexpr std::array<int, 63> kVnProvinces = {
    1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33,
    34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66,
    67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96};

std::string VnCccd(Rng& r) {
  while (true) {
    const int year = r.Range(1940, 2012);
    const int century = (year >= 2000 ? 2 : 0) + r.Below(2);  // + gender
    const std::string s =
        Pad(r.Pick(kVnProvinces), 3) + std::to_string(century) + Pad(year % 100, 2) + r.Digits(6);
    if (OnlyType(s, "VN_CCCD")) return s;
  }
}

std::string IdNik(Rng& r) {
  static constexpr std::array<int, 12> kProv = {11, 12, 13, 31, 32, 33, 34, 35, 51, 61, 73, 94};
  while (true) {
    int y, m, d;
    RandomDate(r, 1950, 2008, &y, &m, &d);
    if (r.Chance(50)) d += 40;  // women
    std::string s = Pad(r.Pick(kProv), 2) + Pad(r.Range(1, 79), 2) + Pad(r.Range(1, 40), 2) +
                    Pad(d, 2) + Pad(m, 2) + Pad(y % 100, 2) + Pad(r.Range(1, 9999), 4);
    if (OnlyType(s, "ID_NIK")) return s;
  }
}

constexpr std::array<std::string_view, 12> kGiven = {
    "wei", "li", "an", "minh", "somchai", "siti", "ahmad", "budi", "tan", "nguyen", "lee", "putri"};
constexpr std::array<std::string_view, 8> kDomains = {
    "gmail.com",      "qq.com",        "163.com", "yahoo.com.sg",
    "company.com.my", "example.co.id", "mail.vn", "hotmail.co.th"};

std::string Email(Rng& r) {
  std::string s(r.Pick(kGiven));
  const int style = r.Below(3);
  if (style == 0) s += "." + std::string(r.Pick(kGiven));
  if (style == 1) s += std::to_string(r.Range(1, 2009));
  if (style == 2) s += "_" + std::string(r.Pick(kGiven));
  return s + "@" + std::string(r.Pick(kDomains));
}

std::string Hex4(Rng& r) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string s;
  const int n = r.Range(1, 4);
  for (int i = 0; i < n; ++i) s += kHex[static_cast<size_t>(r.Below(i == 0 ? 15 : 16)) + (i == 0)];
  return s;
}

std::string IpAddress(Rng& r) {
  const int style = r.Below(10);
  if (style == 0) {  // IPv6, full
    std::string s = "2001:db8";
    for (int i = 0; i < 6; ++i) s += ":" + Hex4(r);
    return s;
  }
  if (style == 1) {  // IPv6, compressed
    std::string s = r.Chance(50) ? "fe80:" : "2001:db8:";
    s += ":" + Hex4(r);
    if (r.Chance(50)) s += ":" + Hex4(r);
    return s;
  }
  int a;
  if (style < 5) {
    static constexpr std::array<int, 3> kPrivate = {10, 172, 192};
    a = r.Pick(kPrivate);
  } else {
    do {
      a = r.Range(1, 223);
    } while (a == 127);
  }
  const int b = a == 192 ? 168 : a == 172 ? r.Range(16, 31) : r.Range(0, 255);
  return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(r.Range(0, 255)) + "." +
         std::to_string(r.Range(1, 254));
}

std::string Passport(Rng& r) {
  switch (r.Below(5)) {
    case 0:
      return "E" + r.Digits(8);  // CN
    case 1:
      return std::string("E") + static_cast<char>('A' + r.Below(8)) + r.Digits(7);  // CN
    case 2:
      return "A" + r.Digits(8);  // MY
    case 3:
      return "AA" + r.Digits(7);  // TH
    default:
      return "C" + r.Digits(7);  // VN
  }
}

// ICD-10 / ICD-10-CM diagnosis codes, built from the code structure (letter
// other than U, digit, digit or letter; then '.' and 1-4 digits or letters):
// WHO-style "E11.9", bare categories "J45", ICD-10-CM's lettered categories
// ("C4A", "M1A"), lettered subcategories ("O09.A1") and 7th characters with
// the "X" placeholder ("S82.61XA").
std::string Icd10(Rng& r) {
  static constexpr std::string_view kFirst = "ABCDEFGHIJKLMNOPQRSTVWXYZ";  // no U
  static constexpr std::array<std::string_view, 6> kLettered = {"C4A", "C7A", "D3A",
                                                                "M1A", "O9A", "Z3A"};
  static constexpr std::string_view kSeventh = "ADS";
  const auto category = [&] {
    return std::string(1, kFirst[static_cast<size_t>(r.Below(static_cast<int>(kFirst.size())))]) +
           r.Digits(2);
  };
  switch (r.Below(6)) {
    case 0:
      return category();
    case 1:
      return category() + "." + r.Digits(1);
    case 2:
      return category() + "." + r.Digits(r.Range(2, 3));
    case 3:
      return std::string(r.Pick(kLettered)) + "." + r.Digits(1);
    case 4:
      return "O09.A" + r.Digits(1);
    default:
      return "S" + r.Digits(2) + "." + r.Digits(2) + "X" +
             kSeventh[static_cast<size_t>(r.Below(3))];
  }
}

enum class T {
  kCnId,
  kUscc,
  kSg,
  kTh,
  kCard,
  kMobile,
  kMykad,
  kCccd,
  kNik,
  kEmail,
  kIp,
  kPassport,
  kHealth
};
constexpr int kNumTypes = 13;

constexpr std::array<std::string_view, kNumTypes> kTypeNames = {
    "CN_RESIDENT_ID", "CN_USCC",  "SG_NRIC_FIN", "TH_NATIONAL_ID", "BANK_CARD",
    "CN_MOBILE",      "MY_MYKAD", "VN_CCCD",     "ID_NIK",         "EMAIL",
    "IP_ADDRESS",     "PASSPORT", "HEALTH_ICD10"};

std::string Value(Rng& r, T t) {
  switch (t) {
    case T::kCnId:
      return CnResidentId(r);
    case T::kUscc:
      return CnUscc(r);
    case T::kSg:
      return SgNric(r);
    case T::kTh:
      return ThNationalId(r, r.Chance(50));
    case T::kCard:
      return BankCard(r);
    case T::kMobile:
      return CnMobile(r);
    case T::kMykad:
      return Mykad(r, r.Chance(60));
    case T::kCccd:
      return VnCccd(r);
    case T::kNik:
      return IdNik(r);
    case T::kEmail:
      return Email(r);
    case T::kIp:
      return IpAddress(r);
    case T::kPassport:
      return Passport(r);
    case T::kHealth:
      return Icd10(r);
  }
  return "";
}

// ---------------------------------------------------------------------------
// Decoys. Each is re-drawn until Clean(): no type's rules accept any candidate
// inside it.

constexpr int kNumDecoyKinds = 21;
constexpr int kIcdNoContext = 20;

struct DecoyValue {
  std::string kind;
  std::string text;
  bool passport_shaped = false;  // only safe where no passport word is near
};

std::string Group4(const std::string& s, char sep) {
  std::string g;
  for (size_t i = 0; i < s.size(); i += 4) {
    if (i > 0) g += sep;
    g += s.substr(i, 4);
  }
  return g;
}

DecoyValue DecoyOnce(Rng& r, int kind) {
  switch (kind) {
    case 0: {  // CN ID, wrong check character
      std::string s = CnResidentId(r);
      s[17] = s[17] == '0' ? '7' : static_cast<char>(s[17] == 'X' ? '3' : s[17] - 1);
      return {"cn_id_bad_check", s};
    }
    case 1: {  // CN ID, impossible date, correct check character
      static constexpr std::array<std::string_view, 4> kBad = {"0230", "1301", "0431", "0000"};
      std::string s = std::string(r.Pick(kCnAreas)) + std::to_string(r.Range(1960, 2000)) +
                      std::string(r.Pick(kBad)) + r.Digits(3);
      s += CnIdCheck(s);
      return {"cn_id_bad_date", s};
    }
    case 2: {  // bank card, Luhn off by one
      std::string s = "6222" + r.Digits(11);
      s += static_cast<char>((LuhnCheckDigit(s) - '0' + 1 + r.Below(9)) % 10 + '0');
      return {"card_bad_luhn", r.Chance(50) ? Group4(s, ' ') : s};
    }
    case 3: {  // SG NRIC, wrong letter
      std::string s = SgNric(r);
      s[8] = s[8] == 'Z' ? 'A' : static_cast<char>(s[8] + 1);
      return {"sg_bad_letter", s};
    }
    case 4: {  // TH ID, wrong check digit
      std::string s = ThNationalId(r, false);
      s[12] = static_cast<char>((s[12] - '0' + 1 + r.Below(9)) % 10 + '0');
      return {"th_bad_check", s};
    }
    case 5:
      return {"order_number", "ORD-2026" + Pad(r.Range(1, 12), 2) + r.Digits(6)};
    case 6:
      return {"order_id_18", "2026" + r.Digits(14)};
    case 7:
      return {"unix_ts_10", "17" + r.Digits(8)};
    case 8:
      return {"unix_ts_13", "17" + r.Digits(11)};
    case 9: {  // phone-like, not a CN mobile
      switch (r.Below(4)) {
        case 0:
          return {"phone_12_digits", "13" + r.Digits(10)};
        case 1:
          return {"phone_starts_12", "12" + r.Digits(9)};
        case 2:
          return {"phone_10_digits", "13" + r.Digits(8)};
        default:
          return {"phone_landline", "021-" + r.Digits(8)};
      }
    }
    case 10: {
      static constexpr std::array<std::string_view, 5> kCur = {"CNY ", "USD ", "RM ", "THB ",
                                                               "Rp "};
      return {"amount", std::string(r.Pick(kCur)) + std::to_string(r.Range(1, 999)) + "," +
                            Pad(r.Range(0, 999), 3) + "." + Pad(r.Range(0, 99), 2)};
    }
    case 11: {
      static constexpr std::array<std::string_view, 3> kCarrier = {"SF", "JT", "YT"};
      return {"tracking_number", std::string(r.Pick(kCarrier)) + r.Digits(13)};
    }
    case 12: {  // identifier digits glued inside a longer alphanumeric run
      static constexpr std::array<std::string_view, 3> kPre = {"INV", "x", "ref"};
      std::string inner;
      switch (r.Below(3)) {
        case 0:
          inner = CnResidentId(r);
          break;
        case 1:
          inner = "13" + r.Digits(9);
          break;
        default:
          inner = SgNric(r);
      }
      return {"glued", std::string(r.Pick(kPre)) + inner + (r.Chance(50) ? "A" : "z9")};
    }
    case 13:
      return {"version_string",
              std::to_string(r.Range(1, 9)) + "." + std::to_string(r.Range(0, 20)) + "." +
                  std::to_string(r.Range(0, 9)) + "." + std::to_string(r.Range(0, 9)) + "." +
                  std::to_string(r.Range(0, 99))};
    case 14:
      return {"ip_like", std::to_string(r.Range(256, 999)) + "." + std::to_string(r.Range(0, 255)) +
                             "." + std::to_string(r.Range(0, 255)) + "." +
                             std::to_string(r.Range(0, 255))};
    case 15:
      return {"passport_no_context", Passport(r), true};
    case 16: {
      static constexpr std::array<std::string_view, 4> kBadDomain = {"example.c", "-bad.com",
                                                                     "bad-.com", "example.123"};
      return {"email_bad_domain",
              std::string(r.Pick(kGiven)) + "@" + std::string(r.Pick(kBadDomain))};
    }
    case 17: {  // MyKad shape, impossible date
      return {"mykad_bad_date", Pad(r.Range(50, 99), 2) + Pad(r.Range(13, 19), 2) +
                                    Pad(r.Range(1, 28), 2) + "-" + Pad(r.Range(1, 14), 2) + "-" +
                                    r.Digits(4)};
    }
    case 18: {  // NIK shape, month 13-19
      return {"nik_bad_month", "3174" + Pad(r.Range(1, 40), 2) + Pad(r.Range(1, 28), 2) +
                                   Pad(r.Range(13, 19), 2) + Pad(r.Range(50, 99), 2) +
                                   Pad(r.Range(1, 9999), 4)};
    }
    case kIcdNoContext:  // only safe where no health word is near
      return {"icd_no_context", Icd10(r)};
    default:
      return {"date_time", "2026-" + Pad(r.Range(1, 12), 2) + "-" + Pad(r.Range(1, 28), 2) + " " +
                               Pad(r.Range(0, 23), 2) + ":" + Pad(r.Range(0, 59), 2) + ":" +
                               Pad(r.Range(0, 59), 2)};
  }
}

DecoyValue MakeDecoy(Rng& r, bool allow_passport_shape, bool allow_icd_shape) {
  while (true) {
    const int kind = r.Below(kNumDecoyKinds);
    if (kind == 15 && !allow_passport_shape) continue;
    if (kind == kIcdNoContext && !allow_icd_shape) continue;
    DecoyValue d = DecoyOnce(r, kind);
    if (Clean(d.text)) return d;
  }
}

// ---------------------------------------------------------------------------
// Text assembly.

class Writer {
 public:
  explicit Writer(Corpus* c) : c_(c) {}
  void Put(std::string_view s) { c_->text += s; }
  void PutLabel(std::string_view type, std::string_view value, bool needs_column = false) {
    const size_t s = c_->text.size();
    c_->text += value;
    rec_.labels.push_back({std::string(type), s, c_->text.size(), needs_column});
  }
  void PutDecoy(const DecoyValue& d) {
    const size_t s = c_->text.size();
    c_->text += d.text;
    rec_.decoys.push_back({d.kind, s, c_->text.size()});
  }
  void Begin(Format f) {
    rec_ = Record{};
    rec_.format = f;
    rec_.start = c_->text.size();
  }
  void End() {
    rec_.end = c_->text.size();
    c_->text += '\n';
    c_->records.push_back(std::move(rec_));
  }
  size_t size() const { return c_->text.size(); }

 private:
  Corpus* c_;
  Record rec_;
};

constexpr std::array<std::string_view, 12> kNames = {
    "Zhang Wei",    "李娜",         "Nguyễn Văn An", "Trần Thị Bích",
    "สมชาย ใจดี",    "Siti Aminah",  "Ahmad bin Ali", "Budi Santoso",
    "Tan Wei Ming", "Dewi Lestari", "Lim, Mei Ling", "王芳"};

// "primary_dx": the short word "dx" is diagnosis context only as a whole
// word of a column name (detector.cc).
const char* kCsvHeader = "id,name,national_id,phone,email,card,passport_no,ip,primary_dx,note";

T NationalIdType(Rng& r) {
  static constexpr std::array<T, 6> kIds = {T::kCnId, T::kSg, T::kTh, T::kMykad, T::kNik, T::kCccd};
  return r.Pick(kIds);
}

void CsvField(Writer& w, std::string_view s) {
  // Quote fields holding a comma (RFC 4180).
  if (s.find(',') != std::string_view::npos) {
    w.Put("\"");
    w.Put(s);
    w.Put("\"");
  } else {
    w.Put(s);
  }
}

void CsvRecord(Rng& r, Writer& w, size_t id) {
  w.Begin(Format::kCsv);
  w.Put(std::to_string(id));
  w.Put(",");
  CsvField(w, r.Pick(kNames));
  w.Put(",");
  if (r.Chance(90)) {
    const T t = NationalIdType(r);
    w.PutLabel(kTypeNames[static_cast<size_t>(t)], Value(r, t));
  }
  w.Put(",");
  if (r.Chance(80)) w.PutLabel("CN_MOBILE", CnMobile(r));
  w.Put(",");
  if (r.Chance(80)) w.PutLabel("EMAIL", Email(r));
  w.Put(",");
  if (r.Chance(60)) w.PutLabel("BANK_CARD", BankCard(r));
  w.Put(",");
  if (r.Chance(40)) w.PutLabel("PASSPORT", Passport(r), /*needs_column=*/true);
  w.Put(",");
  if (r.Chance(70)) w.PutLabel("IP_ADDRESS", IpAddress(r));
  w.Put(",");
  if (r.Chance(30)) w.PutLabel("HEALTH_ICD10", Icd10(r), /*needs_column=*/true);
  w.Put(",");
  if (r.Chance(20)) {
    w.Put("credit code ");
    w.PutLabel("CN_USCC", CnUscc(r));
  } else if (r.Chance(70)) {
    // No health word on a CSV line: the diagnosis column's name is in the
    // header, so an ICD-shaped note is a decoy.
    const DecoyValue d = MakeDecoy(r, false, true);
    const bool quote = d.text.find(',') != std::string::npos;
    w.Put(quote ? "\"ref " : "ref ");
    w.PutDecoy(d);
    if (quote) w.Put("\"");
  }
  w.End();
}

void JsonRecord(Rng& r, Writer& w) {
  w.Begin(Format::kJsonLines);
  w.Put("{\"name\":\"");
  w.Put(r.Pick(kNames));
  w.Put("\"");
  const auto field = [&](std::string_view key, std::string_view type, const std::string& v) {
    w.Put(",\"");
    w.Put(key);
    w.Put("\":\"");
    w.PutLabel(type, v);
    w.Put("\"");
  };
  if (r.Chance(80)) {
    const T t = NationalIdType(r);
    field("national_id", kTypeNames[static_cast<size_t>(t)], Value(r, t));
  }
  if (r.Chance(70)) field("phone", "CN_MOBILE", CnMobile(r));
  if (r.Chance(70)) field("email", "EMAIL", Email(r));
  if (r.Chance(50)) field("card", "BANK_CARD", BankCard(r));
  if (r.Chance(40)) field("passport", "PASSPORT", Passport(r));
  if (r.Chance(60)) field("ip", "IP_ADDRESS", IpAddress(r));
  if (r.Chance(20)) field("uscc", "CN_USCC", CnUscc(r));
  static constexpr std::array<std::string_view, 3> kDiagnosisKeys = {"diagnosis", "icd10_code",
                                                                     "dx"};
  const bool health = r.Chance(30);
  if (health) field(r.Pick(kDiagnosisKeys), "HEALTH_ICD10", Icd10(r));
  if (r.Chance(60)) {
    w.Put(",\"order\":\"");
    w.PutDecoy(MakeDecoy(r, false, !health));
    w.Put("\"");
  }
  if (r.Chance(30)) w.Put(",\"amount\":1250.5");
  w.Put("}");
  w.End();
}

// Free-text phrases per language: an opening, and the words before a value of
// each type (in T order). Every phrase ends in a separator, so the value is
// never glued to a letter. The PASSPORT phrase carries the passport word
// within 32 bytes of the value (Thai adds "passport": the Thai word alone is
// 42 bytes, longer than the detector's 32-byte passport window). The
// HEALTH_ICD10 phrase holds a diagnosis/disease word ("kod penyakit" in Malay).
struct Language {
  std::array<std::string_view, 3> openings;
  std::array<std::string_view, kNumTypes> before;
  std::string_view decoy_before;
  std::string_view joiner;
};

const std::array<Language, 6>& Languages() {
  static const std::array<Language, 6> kLangs = {{
      {{"Customer update: ", "Please verify the following. ", "Ticket 4471 notes: "},
       {"ID card no. ", "company credit code ", "NRIC ", "Thai ID ", "card number ", "mobile ",
        "MyKad ", "CCCD ", "NIK ", "email ", "logged in from ", "passport no. ", "diagnosis "},
       "order reference ",
       "; "},
      {{"客户资料更新：", "请核对以下信息。", "工单备注："},
       {"身份证号码：", "统一社会信用代码：", "新加坡证件：", "泰国证件：", "银行卡号：", "手机：",
        "马来西亚证件：", "越南证件：", "印尼证件：", "邮箱：", "登录地址：", "护照号码：",
        "诊断："},
       "订单编号：",
       "，"},
      {{"Cập nhật khách hàng: ", "Vui lòng kiểm tra. ", "Ghi chú: "},
       {"số giấy tờ Trung Quốc ", "mã số doanh nghiệp ", "NRIC ", "số thẻ Thái Lan ",
        "số thẻ ngân hàng ", "điện thoại ", "MyKad ", "số căn cước ", "NIK ", "thư điện tử ",
        "truy cập từ ", "hộ chiếu số ", "chẩn đoán "},
       "mã đơn hàng ",
       "; "},
      {{"อัปเดตข้อมูลลูกค้า: ", "โปรดตรวจสอบ ", "บันทึก: "},
       {"เลขบัตรจีน ", "รหัสบริษัท ", "NRIC ", "เลขบัตรประชาชน ", "เลขบัตร ", "โทร ", "MyKad ", "CCCD ",
        "NIK ", "อีเมล ", "ไอพี ", "หนังสือเดินทาง (passport) ", "การวินิจฉัย "},
       "เลขที่คำสั่งซื้อ ",
       " "},
      {{"Kemas kini pelanggan: ", "Sila semak. ", "Nota: "},
       {"kad pengenalan China ", "kod syarikat ", "NRIC ", "ID Thai ", "nombor kad ", "telefon ",
        "No. K/P ", "CCCD ", "NIK ", "emel ", "alamat IP ", "pasport ", "kod penyakit "},
       "nombor pesanan ",
       "; "},
      {{"Pembaruan pelanggan: ", "Mohon diperiksa. ", "Catatan: "},
       {"KTP Tiongkok ", "kode perusahaan ", "NRIC ", "ID Thailand ", "nomor kartu ", "telepon ",
        "MyKad ", "CCCD ", "NIK ", "surel ", "alamat IP ", "paspor ", "diagnosa "},
       "nomor pesanan ",
       "; "},
  }};
  return kLangs;
}

void TextRecord(Rng& r, Writer& w) {
  w.Begin(Format::kText);
  const Language& lang = Languages()[static_cast<size_t>(r.Below(6))];
  w.Put(lang.openings[static_cast<size_t>(r.Below(3))]);
  const int values = r.Range(1, 3);
  bool has_passport = false;
  bool has_health = false;
  for (int i = 0; i < values; ++i) {
    if (i > 0) w.Put(lang.joiner);
    const T t = static_cast<T>(r.Below(kNumTypes));
    has_passport = has_passport || t == T::kPassport;
    has_health = has_health || t == T::kHealth;
    w.Put(lang.before[static_cast<size_t>(t)]);
    w.PutLabel(kTypeNames[static_cast<size_t>(t)], Value(r, t));
  }
  const int decoys = r.Range(0, 2);
  for (int i = 0; i < decoys; ++i) {
    w.Put(lang.joiner);
    w.Put(lang.decoy_before);
    w.PutDecoy(MakeDecoy(r, !has_passport, !has_health));
  }
  w.Put(r.Chance(50) ? "." : "");
  w.End();
}

// ---------------------------------------------------------------------------
// Business records: no identifier at all, only the numbers and words that
// surround identifiers in real exchange traffic (all written as decoys, so a
// finding in them is a false positive).

constexpr std::array<std::string_view, 8> kPorts = {
    "Qinzhou",      "Beihai",     "Fangchenggang", "Hai Phong",
    "Laem Chabang", "Port Klang", "Tanjung Priok", "Singapore"};
constexpr std::array<std::string_view, 6> kEvents = {"gate_in", "loaded",          "departed",
                                                     "arrived", "customs_cleared", "delivered"};
constexpr std::array<std::string_view, 5> kCompanies = {
    "Guangxi Beibu Gulf Trading Co.", "钦州港物流有限公司", "Công ty TNHH Hải Phòng Logistics",
    "บริษัท แหลมฉบัง ชิปปิ้ง จำกัด", "PT Priok Samudra"};
// Per language (Languages() order): a shipment note before the port name.
constexpr std::array<std::string_view, 6> kShipmentNotes = {"Shipment status update at ",
                                                            "货物状态更新，港口：",
                                                            "Cập nhật lô hàng tại cảng ",
                                                            "อัปเดตสถานะสินค้าที่ท่าเรือ ",
                                                            "Kemas kini penghantaran di pelabuhan ",
                                                            "Pembaruan pengiriman di pelabuhan "};

// Decoy kinds a business record is made of (see DecoyOnce).
constexpr int kOrderNumber = 5, kAmount = 10, kTracking = 11, kDateTime = 19;

DecoyValue DecoyOf(Rng& r, int kind) {
  while (true) {
    DecoyValue d = DecoyOnce(r, kind);
    if (Clean(d.text)) return d;
  }
}

// "8471.30": a 6-digit HS code written with its dot.
std::string HsCode(Rng& r) {
  return Pad(r.Range(1, 97), 2) + Pad(r.Range(1, 99), 2) + "." + r.Digits(2);
}

void PlainCsvRecord(Rng& r, Writer& w, size_t id) {
  w.Begin(Format::kCsv);
  w.Put(std::to_string(id));
  w.Put(",");
  CsvField(w, r.Pick(kCompanies));
  w.Put(",,,,,,,,\"");  // identifier columns empty; the note is quoted
  w.Put(r.Pick(kEvents));
  w.Put(" at ");
  w.Put(r.Pick(kPorts));
  w.Put("; tracking ");
  w.PutDecoy(DecoyOf(r, kTracking));
  w.Put("; HS ");
  w.Put(HsCode(r));
  w.Put("; ");
  w.Put(std::to_string(r.Range(1, 30000)));
  w.Put(" kg; ");
  w.PutDecoy(DecoyOf(r, kAmount));
  w.Put("; ");
  w.PutDecoy(DecoyOf(r, kDateTime));
  w.Put("\"");
  w.End();
}

void PlainJsonRecord(Rng& r, Writer& w) {
  w.Begin(Format::kJsonLines);
  w.Put("{\"event\":\"");
  w.Put(r.Pick(kEvents));
  w.Put("\",\"port\":\"");
  w.Put(r.Pick(kPorts));
  w.Put("\",\"tracking\":\"");
  w.PutDecoy(DecoyOf(r, kTracking));
  w.Put("\",\"ts\":\"");
  w.PutDecoy(DecoyOf(r, kDateTime));
  w.Put("\",\"hs_code\":\"");
  w.Put(HsCode(r));
  w.Put("\",\"weight_kg\":");
  w.Put(std::to_string(r.Range(1, 30000)));
  w.Put(",\"order\":\"");
  w.PutDecoy(DecoyOf(r, kOrderNumber));
  w.Put("\",\"amount\":\"");
  w.PutDecoy(DecoyOf(r, kAmount));
  w.Put("\",\"shipper\":\"");
  w.Put(r.Pick(kCompanies));
  w.Put("\"}");
  w.End();
}

void PlainTextRecord(Rng& r, Writer& w) {
  w.Begin(Format::kText);
  const size_t li = static_cast<size_t>(r.Below(6));
  const Language& lang = Languages()[li];
  w.Put(kShipmentNotes[li]);
  w.Put(r.Pick(kPorts));
  w.Put(lang.joiner);
  w.PutDecoy(DecoyOf(r, kDateTime));
  w.Put(lang.joiner);
  w.Put(lang.decoy_before);
  w.PutDecoy(DecoyOf(r, kOrderNumber));
  w.Put(lang.joiner);
  w.PutDecoy(DecoyOf(r, kTracking));
  w.Put(lang.joiner);
  w.Put("HS ");
  w.Put(HsCode(r));
  w.Put(lang.joiner);
  w.PutDecoy(DecoyOf(r, kAmount));
  w.Put(r.Chance(50) ? "." : "");
  w.End();
}

// True when the next record should be a business record. Draws nothing at
// the default fraction 1.0, so existing seeds give the same corpus.
bool PlainNext(Rng& r, const CorpusOptions& o) {
  if (o.identifier_record_fraction >= 1.0) return false;
  const double u = static_cast<double>(r.Next() >> 11) * 0x1.0p-53;  // [0, 1)
  return u >= o.identifier_record_fraction;
}

void WriteHeader(Corpus& c) {
  c.text += c.csv_header;
  c.text += '\n';
}

Corpus Empty() {
  Corpus c;
  c.csv_header = kCsvHeader;
  c.csv_columns = {"id",   "name",        "national_id", "phone",      "email",
                   "card", "passport_no", "ip",          "primary_dx", "note"};
  return c;
}

bool Done(const Corpus& c, const CorpusOptions& o) {
  return c.records.size() >= o.records && c.text.size() >= o.min_bytes;
}

}  // namespace

Corpus GenerateDocument(Format format, const CorpusOptions& options) {
  Corpus c = Empty();
  Rng r(options.seed);
  Writer w(&c);
  if (format == Format::kCsv) WriteHeader(c);
  while (!Done(c, options)) {
    switch (format) {
      case Format::kCsv:
        if (PlainNext(r, options)) {
          PlainCsvRecord(r, w, c.records.size() + 1);
        } else {
          CsvRecord(r, w, c.records.size() + 1);
        }
        break;
      case Format::kJsonLines:
        if (PlainNext(r, options)) {
          PlainJsonRecord(r, w);
        } else {
          JsonRecord(r, w);
        }
        break;
      default:
        if (PlainNext(r, options)) {
          PlainTextRecord(r, w);
        } else {
          TextRecord(r, w);
        }
    }
  }
  return c;
}

Corpus GenerateMixed(const CorpusOptions& options) {
  Corpus c = Empty();
  Rng r(options.seed);
  Writer w(&c);
  const size_t block = options.block_records == 0 ? 1 : options.block_records;
  for (int turn = 0; !Done(c, options); turn = (turn + 1) % 3) {
    if (turn == 0) WriteHeader(c);
    for (size_t i = 0; i < block && !Done(c, options); ++i) {
      const bool plain = PlainNext(r, options);
      if (turn == 0) plain ? PlainCsvRecord(r, w, i + 1) : CsvRecord(r, w, i + 1);
      if (turn == 1) plain ? PlainJsonRecord(r, w) : JsonRecord(r, w);
      if (turn == 2) plain ? PlainTextRecord(r, w) : TextRecord(r, w);
    }
  }
  return c;
}

}  // namespace beibu::policy::corpus
