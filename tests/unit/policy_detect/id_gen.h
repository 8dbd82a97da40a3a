// Test-only generators of identifiers with independently computed check
// characters (the reference formulas are written out here, not taken from
// the library), shared by the engine and structured-format tests.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

namespace beibu::policy::testing {

class IdGen {
 public:
  explicit IdGen(uint32_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Coin() { return Int(0, 1) == 1; }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + Int(0, 9)));
    return s;
  }
  std::string Two(int v) {
    return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
  }
  // A date (year in [lo, hi]) as YYYY, MM, DD with a day valid in any year.
  void Date(int lo, int hi, int* y, int* m, int* d) {
    *y = Int(lo, hi);
    *m = Int(1, 12);
    *d = Int(1, 28);
  }

  static char CnCheck(std::string_view s17) {
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int t = 0;
    for (int i = 0; i < 17; ++i) t += (s17[i] - '0') * w[i];
    return "10X98765432"[t % 11];
  }
  static char UsccCheck(std::string_view s17) {
    const std::string_view a = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    int t = 0, w = 1;
    for (int i = 0; i < 17; ++i) {
      t += static_cast<int>(a.find(s17[i])) * w;
      w = w * 3 % 31;
    }
    return a[(31 - t % 31) % 31];
  }
  static char LuhnCheck(std::string_view body) {  // digit to append
    int t = 0;
    for (size_t i = 0; i < body.size(); ++i) {
      int d = body[body.size() - 1 - i] - '0';
      if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      t += d;
    }
    return static_cast<char>('0' + (10 - t % 10) % 10);
  }
  static char SgCheck(std::string_view s8) {
    static const int w[7] = {2, 7, 6, 5, 4, 3, 2};
    int t = 0;
    for (int i = 0; i < 7; ++i) t += (s8[1 + i] - '0') * w[i];
    if (s8[0] == 'T' || s8[0] == 'G') t += 4;
    if (s8[0] == 'M') t += 3;
    const int r = t % 11;
    if (s8[0] == 'S' || s8[0] == 'T') return "JZIHGFEDCBA"[r];
    if (s8[0] == 'F' || s8[0] == 'G') return "XWUTRQPNMLK"[r];
    return "KLJNPQRTUWX"[10 - r];
  }
  static char ThCheck(std::string_view s12) {
    int t = 0;
    for (int i = 0; i < 12; ++i) t += (s12[i] - '0') * (13 - i);
    return static_cast<char>('0' + (11 - t % 11) % 10);
  }
  // Another digit than `c` (a wrong check digit).
  char OtherDigit(char c) { return static_cast<char>('0' + ((c - '0') + Int(1, 9)) % 10); }

  std::string CnId() {
    int y, m, d;
    Date(1940, 2005, &y, &m, &d);
    std::string s = "110105" + std::to_string(y) + Two(m) + Two(d) + Digits(3);
    return s + CnCheck(s);
  }
  std::string Uscc() {
    const std::string_view a = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    std::string s = "91" + Digits(6);
    for (int i = 0; i < 9; ++i) s.push_back(a[static_cast<size_t>(Int(0, 30))]);
    return s + UsccCheck(s);
  }
  std::string Sg() {
    std::string s(1, "STFGM"[Int(0, 4)]);
    s += Digits(7);
    return s + SgCheck(s);
  }
  std::string Th(bool dashed) {
    std::string s = std::to_string(Int(1, 8)) + Digits(11);
    s += ThCheck(s);
    if (!dashed) return s;
    return s.substr(0, 1) + "-" + s.substr(1, 4) + "-" + s.substr(5, 5) + "-" + s.substr(10, 2) +
           "-" + s.substr(12, 1);
  }
  std::string Card(int len) {
    std::string s = std::to_string(Int(1, 9)) + Digits(len - 2);
    return s + LuhnCheck(s);
  }
  std::string GroupedCard(char sep) {
    const std::string c = Card(16);
    return c.substr(0, 4) + sep + c.substr(4, 4) + sep + c.substr(8, 4) + sep + c.substr(12, 4);
  }
  std::string Mobile() { return "1" + std::to_string(Int(3, 9)) + Digits(9); }
  std::string Mykad(bool dashed) {
    static const int kPb[] = {1, 10, 14, 16, 21, 59, 60, 66, 71, 74, 82, 93, 98};
    int y, m, d;
    Date(1950, 2005, &y, &m, &d);
    const std::string date = Two(y % 100) + Two(m) + Two(d);
    const std::string pb = Two(kPb[Int(0, 12)]);
    const std::string tail = Digits(4);
    return dashed ? date + "-" + pb + "-" + tail : date + pb + tail;
  }
  std::string Cccd() {
    static const char* kProv[] = {"001", "079", "036", "096", "048"};
    const bool c21 = Coin();
    return std::string(kProv[Int(0, 4)]) + (c21 ? "2" : "0") + Two(c21 ? Int(0, 20) : Int(30, 99)) +
           Digits(6);
  }
  std::string Nik() {
    int y, m, d;
    Date(1950, 2005, &y, &m, &d);
    if (Coin()) d += 40;
    return std::to_string(Int(31, 35)) + Digits(4) + Two(d) + Two(m) + Two(y % 100) +
           std::to_string(Int(1000, 9999));
  }
  std::string Email() {
    static const char* kUsers[] = {"alice", "bob.smith", "x_y", "user+tag", "li.wei"};
    static const char* kDomains[] = {"example.com", "mail.co.uk", "qq.com", "sub-d.example.org"};
    return std::string(kUsers[Int(0, 4)]) + std::to_string(Int(0, 99)) + "@" + kDomains[Int(0, 3)];
  }
  std::string Ipv4() {
    return std::to_string(Int(0, 255)) + "." + std::to_string(Int(0, 255)) + "." +
           std::to_string(Int(0, 255)) + "." + std::to_string(Int(1, 254));
  }
  std::string Ipv6() {
    static const char* kForms[] = {"2001:db8::", "fe80::1:", "::", "2001:db8:0:0:1:2:3:"};
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%x", Int(1, 0xffff));
    return std::string(kForms[Int(0, 3)]) + buf;
  }
  std::string Passport() {
    std::string s(1, static_cast<char>('A' + Int(0, 25)));
    if (Coin()) s.push_back(static_cast<char>('A' + Int(0, 25)));
    return s + Digits(Int(7, 8));
  }

  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
};

}  // namespace beibu::policy::testing
