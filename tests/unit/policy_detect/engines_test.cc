// kFast against kRe2: both engines must report identical findings. Random
// texts (seeded) mix valid and corrupted identifiers with separators, glue,
// UTF-8, CSV and JSON lines; every type is also checked one by one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "beibu/policy/detector.h"
#include "id_gen.h"

namespace beibu::policy {
namespace {

using testing::IdGen;

const Detector& Fast() {
  static const Detector* d = new Detector(Engine::kFast);
  return *d;
}
const Detector& Re2() {
  static const Detector* d = new Detector(Engine::kRe2);
  return *d;
}

std::string Describe(std::string_view text, const std::vector<Finding>& fs) {
  std::string out;
  for (const Finding& f : fs) {
    out += f.type + "@" + std::to_string(f.start) + "-" + std::to_string(f.end) + "(" +
           std::string(text.substr(f.start, f.end - f.start)) + "," + std::to_string(f.score) +
           ") ";
  }
  return out;
}

void ExpectWellFormed(std::string_view text, const std::vector<Finding>& fs) {
  for (size_t i = 0; i < fs.size(); ++i) {
    EXPECT_LT(fs[i].start, fs[i].end);
    EXPECT_LE(fs[i].end, text.size());
    if (i > 0) {
      EXPECT_LE(fs[i - 1].end, fs[i].start);
    }
  }
}

// An ICD-10-like token, well-formed or not: any capital (U included), digits
// and letters of either case around an optional dot.
std::string IcdLike(IdGen& g) {
  static const char kChars[] = "0123456789ABCDXYZaxU";
  std::string s(1, static_cast<char>('A' + g.Int(0, 25)));
  for (int i = g.Int(1, 3); i > 0; --i) s += kChars[g.Int(0, sizeof(kChars) - 2)];
  if (g.Coin()) {
    s += '.';
    for (int i = g.Int(0, 6); i > 0; --i) s += kChars[g.Int(0, sizeof(kChars) - 2)];
  }
  return s;
}

// One random piece: an identifier (valid or corrupted), a word, a separator...
std::string Piece(IdGen& g) {
  auto corrupt = [&](std::string s) {
    if (s.empty()) return s;
    const size_t i = static_cast<size_t>(g.Int(0, static_cast<int>(s.size()) - 1));
    if (s[i] >= '0' && s[i] <= '9') s[i] = g.OtherDigit(s[i]);
    return s;
  };
  static const char* kWords[] = {
      "card",      "passport", "护照",  "身份证号", "mobile",   "phone",    "NRIC",    "ip",
      "email:",    "Thai ID",  "MyKad", "CCCD",     "NIK",      "account",  "host",    "tel",
      "hello",     "order",    "港口",  "ที่อยู่",      "hộ chiếu", "căn cước", "id_card", "uscc",
      "v1.2.3",    "12:30:45", "x",     "ABC",      "db8",      "face",     "+",       "::",
      "diagnosis", "icd",      "诊断",  "\"dx\":",  "bệnh",     "E11.9",    "J45",     "sdxc"};
  static const char* kSeps[] = {" ",  " ",  " ", "-", ",", ".",  ":",  "@", "+", "\n", "\r\n",
                                "\t", "\"", "=", "(", ")", "，", "：", "_", "/", "..", "--"};
  switch (g.Int(0, 29)) {
    case 0:
      return g.CnId();
    case 1:
      return g.Uscc();
    case 2:
      return g.Sg();
    case 3:
      return g.Th(g.Coin());
    case 4:
      return g.Card(g.Int(16, 19));
    case 5:
      return g.GroupedCard(g.Coin() ? ' ' : '-') + (g.Coin() ? " " + g.Digits(g.Int(1, 3)) : "");
    case 6:
      return (g.Coin() ? std::string("+86") + (g.Coin() ? " " : "") : "") + g.Mobile();
    case 7:
      return g.Mykad(g.Coin());
    case 8:
      return g.Cccd();
    case 9:
      return g.Nik();
    case 10:
      return g.Email();
    case 11:
      return g.Ipv4();
    case 12:
      return g.Ipv6();
    case 13:
      return "passport " + g.Passport();
    case 14:
      return g.Passport();
    case 15:
      return corrupt(g.CnId());
    case 16:
      return corrupt(g.Card(16));
    case 17:
      return corrupt(g.Th(true));
    case 18:
      return corrupt(g.Mykad(true));
    case 19:
      return g.Digits(g.Int(1, 24));
    case 20: {  // digit groups joined by separators
      std::string s = g.Digits(g.Int(1, 6));
      for (int i = g.Int(1, 5); i > 0; --i)
        s += std::string(g.Coin() ? " " : "-") + g.Digits(g.Int(1, 6));
      return s;
    }
    case 21:
      return std::string(1, static_cast<char>('A' + g.Int(0, 25))) + g.Digits(g.Int(5, 10));
    case 22: {  // hex and colons
      std::string s;
      for (int i = g.Int(1, 9); i > 0; --i)
        s += (g.Coin() ? "a1" : std::to_string(g.Int(0, 999))) + (g.Coin() ? ":" : "::");
      return s;
    }
    case 23:
      return g.Email().insert(0, g.Coin() ? "." : "x.");
    case 24:
      return R"({"passport": ")" + g.Passport() + R"(", "phone":")" + g.Mobile() + "\"}";
    case 25:
      return "id,name,phone\n1,张三," + g.Mobile() + "\n";
    case 26:
      return kSeps[g.Int(0, 21)];
    case 27:
      return (g.Coin() ? "diagnosis " : "") + IcdLike(g);
    case 28:
      return R"({"dx": ")" + IcdLike(g) + R"(", "note":")" + IcdLike(g) + "\"}";
    default:
      return kWords[g.Int(0, 39)];
  }
}

std::string RandomText(IdGen& g) {
  std::string text;
  for (int i = g.Int(1, 14); i > 0; --i) {
    text += Piece(g);
    // Glue: sometimes no separator at all, sometimes a letter or digit.
    const int r = g.Int(0, 9);
    if (r < 5) {
      text += " ";
    } else if (r == 5) {
      text += static_cast<char>('a' + g.Int(0, 25));
    } else if (r == 6) {
      text += static_cast<char>('0' + g.Int(0, 9));
    } else if (r == 7) {
      text += "\n";
    }
  }
  return text;
}

TEST(Engines, RandomTextsIdentical) {
  IdGen g(20261127);
  int with_findings = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::string text = RandomText(g);
    const auto a = Fast().Scan(text);
    const auto b = Re2().Scan(text);
    ASSERT_TRUE(a == b) << "text: " << text << "\nfast: " << Describe(text, a)
                        << "\nre2:  " << Describe(text, b);
    ExpectWellFormed(text, a);
    with_findings += !a.empty();
    for (Format f : {Format::kCsv, Format::kJsonLines, Format::kAuto}) {
      const auto c = Fast().Scan(text, f);
      const auto d = Re2().Scan(text, f);
      ASSERT_TRUE(c == d) << "format " << static_cast<int>(f) << " text: " << text
                          << "\nfast: " << Describe(text, c) << "\nre2:  " << Describe(text, d);
      ExpectWellFormed(text, c);
    }
  }
  // The generator must exercise the accepting paths, not only rejections.
  EXPECT_GT(with_findings, 3000);
}

TEST(Engines, RandomBytesIdentical) {
  IdGen g(7);
  static const char kAlphabet[] = "0123456789 -.:@+\nAaXxSE,\"_%f";
  for (int i = 0; i < 4000; ++i) {
    std::string text;
    for (int n = g.Int(0, 80); n > 0; --n) {
      text.push_back(g.Int(0, 20) == 0 ? static_cast<char>(g.Int(0, 255))
                                       : kAlphabet[g.Int(0, sizeof(kAlphabet) - 2)]);
    }
    const auto a = Fast().Scan(text);
    const auto b = Re2().Scan(text);
    ASSERT_TRUE(a == b) << "text: " << text << "\nfast: " << Describe(text, a)
                        << "\nre2:  " << Describe(text, b);
    ExpectWellFormed(text, a);
  }
}

// A large text scanned in one call gives exactly the findings of scanning it
// line by line (offsets shifted), in both engines.
TEST(Engines, WholeTextEqualsLineByLine) {
  IdGen g(42);
  std::string text;
  while (text.size() < 400000) text += RandomText(g) + "\n";
  for (const Detector* d : {&Fast(), &Re2()}) {
    const auto whole = d->Scan(text);
    std::vector<Finding> lines;
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      for (Finding f : d->Scan(std::string_view(text).substr(start, nl - start))) {
        f.start += start;
        f.end += start;
        lines.push_back(f);
      }
      start = nl + 1;
    }
    EXPECT_GT(whole.size(), 1000u);
    EXPECT_TRUE(whole == lines) << whole.size() << " vs " << lines.size();
  }
}

// Texts dense in ICD-10-like tokens, health words and the bytes that end or
// glue them: the dot-spanning candidate is where the engines could part.
TEST(Engines, RandomIcdTextsIdentical) {
  IdGen g(1010);
  static const char* kParts[] = {"diagnosis ", "dx", "\"dx\":\"", "icd10 ", "bệnh ", " ", ".",
                                 "..",         "-",  "+",         "\n",     ",",     "a", "7"};
  int found = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string text;
    for (int n = g.Int(1, 10); n > 0; --n) {
      text += kParts[g.Int(0, 13)];
      text += IcdLike(g);
    }
    const auto a = Fast().Scan(text);
    const auto b = Re2().Scan(text);
    ASSERT_TRUE(a == b) << "text: " << text << "\nfast: " << Describe(text, a)
                        << "\nre2:  " << Describe(text, b);
    ExpectWellFormed(text, a);
    for (const Finding& f : a) found += f.type == "HEALTH_ICD10";
  }
  EXPECT_GT(found, 500);
}

// Findings of `type` in `text`, as slices, from one engine; both must agree.
std::vector<std::string> Slices(const std::string& text, std::string_view type) {
  const auto a = Fast().Scan(text);
  const auto b = Re2().Scan(text);
  EXPECT_TRUE(a == b) << text << "\nfast: " << Describe(text, a) << "\nre2:  " << Describe(text, b);
  std::vector<std::string> out;
  for (const Finding& f : a) {
    if (f.type == type) out.emplace_back(text.substr(f.start, f.end - f.start));
  }
  return out;
}

struct Case {
  std::string type;
  std::string context;  // text before the identifier
  std::string valid;
  std::string wrong;      // wrong check character / invalid field
  std::string near_miss;  // right shape nearby: one digit short or glued
};

std::vector<Case> Cases(IdGen& g) {
  std::vector<Case> cs;
  auto wrong_last = [&](std::string s) {
    s.back() = s.back() >= '0' && s.back() <= '9' ? g.OtherDigit(s.back()) : '0';
    return s;
  };
  const std::string id = g.CnId();
  cs.push_back({"CN_RESIDENT_ID", "身份证 ", id, wrong_last(id), id.substr(1)});
  std::string uscc = g.Uscc();
  std::string uscc_bad = uscc;
  uscc_bad.back() = uscc.back() == '0' ? '1' : '0';
  cs.push_back({"CN_USCC", "USCC ", uscc, uscc_bad, uscc + "1"});
  const std::string sg = g.Sg();
  std::string sg_bad = sg;
  sg_bad.back() = sg.back() == 'A' ? 'B' : 'A';
  if (sg_bad.back() == sg.back()) sg_bad.back() = 'C';
  cs.push_back({"SG_NRIC_FIN", "NRIC ", sg, sg_bad, "X" + sg});
  const std::string th = g.Th(false);
  cs.push_back({"TH_NATIONAL_ID", "Thai ID ", th, wrong_last(th), th + "0"});
  const std::string thd = g.Th(true);
  cs.push_back({"TH_NATIONAL_ID", "Thai ID ", thd, wrong_last(thd), thd.substr(0, thd.size() - 2)});
  const std::string card = g.Card(16);
  cs.push_back({"BANK_CARD", "card ", card, wrong_last(card), card.substr(1)});
  const std::string gc = g.GroupedCard(' ');
  cs.push_back({"BANK_CARD", "card ", gc, wrong_last(gc), gc + "9999"});
  const std::string mob = g.Mobile();
  cs.push_back({"CN_MOBILE", "手机 ", "+86 " + mob, "+86 12" + mob.substr(2), mob + "0"});
  const std::string mk = g.Mykad(true);
  cs.push_back({"MY_MYKAD", "MyKad ", mk, mk.substr(0, 7) + "00" + mk.substr(9), mk.substr(1)});
  const std::string cccd = g.Cccd();
  cs.push_back({"VN_CCCD", "CCCD ", cccd, "003" + cccd.substr(3), "x" + cccd});
  // A Luhn-valid NIK is also a BANK_CARD, which outscores it: avoid those.
  std::string nik = g.Nik();
  while (IdGen::LuhnCheck(nik.substr(0, 15)) == nik[15]) nik = g.Nik();
  cs.push_back({"ID_NIK", "NIK ", nik, "10" + nik.substr(2), nik.substr(0, 15)});
  cs.push_back(
      {"EMAIL", "email ", "li.wei@example.com", "li.wei@example.c0m", "li..wei@example.com"});
  cs.push_back({"IP_ADDRESS", "host ", "192.168.10.1", "192.168.10.256", "192.168.10.1.5"});
  cs.push_back(
      {"IP_ADDRESS", "host ", "2001:db8::8a2e:370", "2001:db8:::1", "2001:db8::8a2e:370.5"});
  const std::string pp = g.Passport();
  cs.push_back({"PASSPORT", "passport ", pp, pp.substr(0, 1) + "12345", pp + "123"});
  // ICD-10: the U block is excluded; a dot-less 4-character code is glued.
  cs.push_back({"HEALTH_ICD10", "diagnosis ", "E11.9", "U07.1", "E119"});
  cs.push_back({"HEALTH_ICD10", "诊断：", "S82.61XA", "S82.61xA", "S82.61XA1"});
  cs.push_back({"HEALTH_ICD10", "\"dx\":\"", "C4A", "4CA", "C4AB"});
  return cs;
}

TEST(Engines, EveryTypeValidWrongAndNearMiss) {
  IdGen g(99);
  for (int round = 0; round < 20; ++round) {
    for (const Case& c : Cases(g)) {
      SCOPED_TRACE(c.type + " " + c.valid);
      // Valid: found, exactly those bytes, with and without context (PASSPORT
      // and HEALTH_ICD10 need it).
      EXPECT_EQ(Slices(c.context + c.valid + " end", c.type), std::vector<std::string>{c.valid});
      // Without context a 12-digit CCCD may also read as a (higher-scoring)
      // MyKad; PASSPORT and HEALTH_ICD10 need context.
      if (c.type != "PASSPORT" && c.type != "VN_CCCD" && c.type != "HEALTH_ICD10") {
        EXPECT_EQ(Slices("x " + c.valid + ".", c.type), std::vector<std::string>{c.valid});
      }
      if (c.type == "PASSPORT" || c.type == "HEALTH_ICD10") {
        EXPECT_TRUE(Slices("x " + c.valid + ".", c.type).empty()) << c.valid;
      }
      EXPECT_TRUE(Slices(c.context + c.wrong + " end", c.type).empty()) << c.wrong;
      EXPECT_TRUE(Slices(c.context + c.near_miss + " end", c.type).empty()) << c.near_miss;
      // Glue on either side: the identifier is not reported as such (a
      // shorter or longer neighbour may be valid on its own, e.g. the
      // 17-digit card or the IP 192.168.10.17 that the glued '7' makes).
      const auto glued_a = Slices(c.context + "a" + c.valid + " end", c.type);
      const auto glued_b = Slices(c.context + c.valid + "7 end", c.type);
      EXPECT_EQ(std::count(glued_a.begin(), glued_a.end(), c.valid), 0);
      EXPECT_EQ(std::count(glued_b.begin(), glued_b.end(), c.valid), 0);
    }
  }
}

TEST(Engines, GluedInBothEngines) {
  for (const char* text :
       {"order 911010519491231002X7 shipped", "ref A11010519491231002X", "ts 45395787636214861234",
        "code XS1234567D", "x 138123456789 y", "v1.2.3.4.5", "a+8613812345678",
        "x.alice@example.com", "id:2001:db8::1:", "card 4111 1111 1111 1111 12345"}) {
    const auto a = Fast().Scan(text);
    EXPECT_TRUE(a == Re2().Scan(text)) << text;
    for (const Finding& f : a) {
      // Whatever is found must not touch an alphanumeric byte.
      const std::string_view t(text);
      EXPECT_TRUE(f.start == 0 || !std::isalnum(static_cast<unsigned char>(t[f.start - 1])))
          << text;
      EXPECT_TRUE(f.end == t.size() || !std::isalnum(static_cast<unsigned char>(t[f.end]))) << text;
    }
  }
  EXPECT_TRUE(Fast().Scan("order 911010519491231002X7 shipped").empty());
  EXPECT_TRUE(Fast().Scan("v1.2.3.4.5").empty());
  EXPECT_TRUE(Fast().Scan("code XS1234567D").empty());
}

}  // namespace
}  // namespace beibu::policy
