// Masker::MaskRecord per format, and the property that no identifier of a
// masked type survives (the output is re-scanned with the detector).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "beibu/policy/mask.h"
#include "nlohmann/json.hpp"
#include "test_data.h"

namespace beibu::policy {
namespace {

using testing::MakeBankCard;
using testing::MakeEmail;
using testing::MakeFiller;
using testing::MakeMobile;
using testing::MakeResidentId;

const std::string kKey = "0123456789abcdef0123456789abcdef";

MaskOp Kind(MaskOp::Kind k) {
  MaskOp op;
  op.kind = k;
  return op;
}
MaskOp Mask(int first, int last) {
  MaskOp op = Kind(MaskOp::Kind::kMask);
  op.keep_first = first;
  op.keep_last = last;
  return op;
}

// Every type the detector reports, with a mix of operators.
MaskProfile AllTypesProfile() {
  MaskProfile p;
  p.id = "test-all";
  const std::vector<MaskOp> ops = {Mask(3, 4), Kind(MaskOp::Kind::kRedact),
                                   Kind(MaskOp::Kind::kPseudonym),
                                   Kind(MaskOp::Kind::kReplaceWithType)};
  size_t i = 0;
  for (const std::string& t : Detector::Types()) p.by_type[t] = ops[i++ % ops.size()];
  p.by_type["EMAIL"] = Mask(1, 0);
  p.by_type["CN_MOBILE"] = Mask(3, 4);
  p.by_type["BANK_CARD"] = Mask(0, 4);
  p.by_type["CN_RESIDENT_ID"] = Kind(MaskOp::Kind::kPseudonym);
  return p;
}

// An independent RFC 4180 reader for one record, to check the masker's CSV.
std::vector<std::string> ParseCsv(const std::string& rec) {
  std::vector<std::string> out(1);
  bool in_q = false;
  for (size_t i = 0; i < rec.size(); ++i) {
    const char c = rec[i];
    if (in_q) {
      if (c == '"' && i + 1 < rec.size() && rec[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        in_q = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      in_q = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\n") == std::string::npos) return v;
  std::string o = "\"";
  for (char c : v) {
    if (c == '"') o.push_back('"');
    o.push_back(c);
  }
  return o + "\"";
}

class MaskerTest : public ::testing::Test {
 protected:
  Masker Make(const MaskProfile& p, std::string key = kKey) {
    absl::StatusOr<Masker> m = Masker::Create(detector_, p, std::move(key));
    EXPECT_TRUE(m.ok()) << m.status();
    return std::move(*m);
  }
  std::string MaskOk(const Masker& m, std::string_view rec, Format f) {
    absl::StatusOr<std::string> r = m.MaskRecord(rec, f);
    EXPECT_TRUE(r.ok()) << r.status() << " for " << rec;
    return r.ok() ? *r : "";
  }
  // Findings of a type the profile masks.
  int MaskedFindings(const MaskProfile& p, const std::string& text) {
    int n = 0;
    for (const Finding& f : detector_.Scan(text)) n += p.by_type.count(f.type) ? 1 : 0;
    return n;
  }
  Detector detector_;
};

TEST_F(MaskerTest, CreateNeedsAKeyOnlyForPseudonyms) {
  MaskProfile p;
  p.id = "p";
  p.by_type["EMAIL"] = Kind(MaskOp::Kind::kRedact);
  EXPECT_TRUE(Masker::Create(detector_, p, "").ok());
  p.by_field["customer_id"] = Kind(MaskOp::Kind::kPseudonym);
  absl::StatusOr<Masker> m = Masker::Create(detector_, p, "too short");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("openssl rand"), std::string::npos);
  EXPECT_TRUE(Masker::Create(detector_, p, kKey).ok());
}

TEST_F(MaskerTest, CreateRejectsBadOperatorParameters) {
  MaskProfile p;
  p.id = "bad";
  MaskOp op = Kind(MaskOp::Kind::kGeneralizeNumber);
  op.bucket = 0;
  p.by_field["age"] = op;
  absl::StatusOr<Masker> m = Masker::Create(detector_, p, "");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("age"), std::string::npos);
}

TEST_F(MaskerTest, TextReplacesFindingsOfProfileTypesOnly) {
  MaskProfile p;
  p.by_type["CN_MOBILE"] = Mask(3, 4);
  p.by_type["EMAIL"] = Kind(MaskOp::Kind::kReplaceWithType);
  Masker m = Make(p);
  EXPECT_EQ(
      MaskOk(m, "阮文安 call 13812345678 or mail an.nguyen@example.vn, ip 10.1.2.3", Format::kText),
      "阮文安 call 138****5678 or mail <EMAIL>, ip 10.1.2.3");
  EXPECT_EQ(MaskOk(m, "nothing here", Format::kText), "nothing here");
  EXPECT_EQ(MaskOk(m, "", Format::kText), "");
  EXPECT_EQ(MaskOk(m, "tel 13812345678\r", Format::kText), "tel 138****5678\r");
  EXPECT_EQ(MaskOk(m, "tel 13812345678\r\n", Format::kText), "tel 138****5678\r\n");
}

TEST_F(MaskerTest, CsvNamedColumnsAndFindings) {
  MaskProfile p;
  p.by_type["CN_MOBILE"] = Kind(MaskOp::Kind::kRedact);
  p.by_field["name"] = Mask(1, 0);
  p.by_field["dob"] = Kind(MaskOp::Kind::kGeneralizeDate);
  p.by_field["age"] = Kind(MaskOp::Kind::kGeneralizeNumber);
  p.by_field["note"] = Kind(MaskOp::Kind::kReplaceWithType);
  Masker m = Make(p);
  m.SetCsvHeader("ID, Name ,DOB,Age,Comment,Note");
  const std::string out = MaskOk(
      m, R"(7,"Nguyễn, Văn A",1987-06-15,37,"said ""hi"", tel 13812345678",x)", Format::kCsv);
  const std::vector<std::string> f = ParseCsv(out);
  ASSERT_EQ(f.size(), 6u) << out;
  EXPECT_EQ(f[0], "7");
  EXPECT_EQ(f[1], "N" + std::string(12, '*'));  // 13 characters, one kept
  EXPECT_EQ(f[2], "1987");
  EXPECT_EQ(f[3], "30-39");
  EXPECT_EQ(f[4], "said \"hi\", tel [REDACTED]");
  EXPECT_EQ(f[5], "<NOTE>");
  // A line end given with the record stays outside the last field.
  EXPECT_EQ(MaskOk(m, "1,An,,,,x\r\n", Format::kCsv), "1,A*,,,,<NOTE>\r\n");
  // Empty cells of named columns stay empty; a missing cell is no error.
  const std::vector<std::string> g = ParseCsv(MaskOk(m, "8,,,", Format::kCsv));
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[1], "");
  EXPECT_EQ(g[3], "");
  // Untouched records come back byte-identical, CR included.
  EXPECT_EQ(MaskOk(m, "9,,,,\"a \"\"b\"\"\",\r", Format::kCsv), "9,,,,\"a \"\"b\"\"\",\r");
}

TEST_F(MaskerTest, CsvReplacementNeedingQuotesIsQuoted) {
  // A finding in an unquoted field replaced by text with a comma gets quoted.
  MaskProfile p;
  p.by_field["amount"] = Kind(MaskOp::Kind::kGeneralizeNumber);
  p.by_type["CN_MOBILE"] = Kind(MaskOp::Kind::kRedact);
  Masker m = Make(p);
  m.SetCsvHeader("amount,phone");
  const std::string out = MaskOk(m, "\"1,5\",13812345678", Format::kCsv);
  const std::vector<std::string> f = ParseCsv(out);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], "[REDACTED]");  // "1,5" is not a number
  EXPECT_EQ(f[1], "[REDACTED]");
}

TEST_F(MaskerTest, JsonNestedKeysArraysNumbersAndEscaping) {
  MaskProfile p;
  p.by_type["CN_MOBILE"] = Mask(3, 4);
  p.by_type["EMAIL"] = Kind(MaskOp::Kind::kRedact);
  p.by_field["phone"] = Kind(MaskOp::Kind::kReplaceWithType);
  p.by_field["age"] = Kind(MaskOp::Kind::kGeneralizeNumber);
  p.by_field["address"] = Kind(MaskOp::Kind::kRedact);
  Masker m = Make(p);
  const std::string in =
      R"({"user":{"Phone":"13812345678","age":37,"Address":{"street":"12 Lê Lợi"},)"
      R"("tags":["x","an@example.vn"],"deleted":null},)"
      R"("note":"He said \"call 13912345678\"\n\ttab \u0001","n":13712345678,"ok":true})";
  const std::string out = MaskOk(m, in, Format::kJsonLines);
  const nlohmann::json j = nlohmann::json::parse(out);  // throws (fails) if invalid
  EXPECT_EQ(j["user"]["Phone"], "<PHONE>");
  EXPECT_EQ(j["user"]["age"], "30-39");
  EXPECT_EQ(j["user"]["Address"], "[REDACTED]");
  EXPECT_EQ(j["user"]["tags"][0], "x");
  EXPECT_EQ(j["user"]["tags"][1], "[REDACTED]");
  EXPECT_TRUE(j["user"]["deleted"].is_null());
  EXPECT_EQ(j["note"], "He said \"call 139****5678\"\n\ttab \x01");
  EXPECT_EQ(j["n"], "137****5678");  // a mobile stored as a number
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(out.find('\n'), std::string::npos);  // still one line
}

TEST_F(MaskerTest, JsonMalformedIsInvalidArgument) {
  Masker m = Make(AllTypesProfile());
  for (const char* bad : {"{\"a\":", "{'a':1}", "{\"a\":\"\xff\"}", "[1,2", "nul"}) {
    absl::StatusOr<std::string> r = m.MaskRecord(bad, Format::kJsonLines);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
  std::string deep(100000, '[');
  EXPECT_FALSE(m.MaskRecord(deep, Format::kJsonLines).ok());
  std::string deep_ok = std::string(600, '[') + std::string(600, ']');
  EXPECT_FALSE(m.MaskRecord(deep_ok, Format::kJsonLines).ok());  // over the depth guard
}

// Property: over seeded random records, every input identifier is found, and
// after masking no finding of a masked type remains, in each format.
TEST_F(MaskerTest, PropertyNoMaskedIdentifierSurvivesText) {
  const MaskProfile p = AllTypesProfile();
  Masker m = Make(p);
  std::mt19937_64 rng(20261127);
  int input_findings = 0;
  for (int i = 0; i < 500; ++i) {
    std::string rec = MakeFiller(rng, 3);
    const int ids = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < ids; ++k) {
      static const char* kSep[] = {" ", ", ", ": ", " (", "; ", " 阮文安 "};
      rec += kSep[rng() % 6];
      switch (rng() % 4) {
        case 0:
          rec += MakeMobile(rng);
          break;
        case 1:
          rec += MakeEmail(rng);
          break;
        case 2:
          rec += MakeResidentId(rng);
          break;
        default:
          rec += MakeBankCard(rng);
          break;
      }
      rec += " " + MakeFiller(rng, 2);
    }
    input_findings += MaskedFindings(p, rec);
    const std::string out = MaskOk(m, rec, Format::kText);
    EXPECT_EQ(MaskedFindings(p, out), 0) << "in: " << rec << "\nout: " << out;
  }
  EXPECT_GE(input_findings, 500);
}

TEST_F(MaskerTest, PropertyNoMaskedIdentifierSurvivesCsv) {
  MaskProfile p = AllTypesProfile();
  p.by_field["name"] = Mask(1, 0);
  Masker m = Make(p);
  const std::string header = "id,name,phone,note,card";
  m.SetCsvHeader(header);
  std::mt19937_64 rng(7);
  int input_findings = 0;
  for (int i = 0; i < 300; ++i) {
    const std::vector<std::string> in = {
        std::to_string(i), "阮文安", MakeMobile(rng),
        MakeFiller(rng, 2) + ", \"id\" " + MakeResidentId(rng) + "\nmail " + MakeEmail(rng),
        MakeBankCard(rng)};
    std::string rec;
    for (size_t k = 0; k < in.size(); ++k) rec += (k ? "," : "") + CsvField(in[k]);
    input_findings += MaskedFindings(p, rec);
    const std::string out = MaskOk(m, rec, Format::kCsv);
    const std::vector<std::string> f = ParseCsv(out);
    ASSERT_EQ(f.size(), in.size()) << out;
    EXPECT_EQ(f[0], in[0]);
    EXPECT_EQ(f[1], "阮**");
    for (const std::string& v : f) EXPECT_EQ(MaskedFindings(p, v), 0) << v;
    EXPECT_EQ(MaskedFindings(p, out), 0) << out;
  }
  EXPECT_GE(input_findings, 4 * 300);
}

TEST_F(MaskerTest, PropertyNoMaskedIdentifierSurvivesJson) {
  const MaskProfile p = AllTypesProfile();
  Masker m = Make(p);
  std::mt19937_64 rng(99);
  int input_findings = 0;
  for (int i = 0; i < 300; ++i) {
    nlohmann::json j;
    j["id"] = i;
    j["contact"]["mobile"] = MakeMobile(rng);
    j["contact"]["emails"] = {MakeEmail(rng), MakeFiller(rng, 2) + " " + MakeEmail(rng)};
    j["note"] = MakeFiller(rng, 3) + " \"card\"\t" + MakeBankCard(rng) + "\n" + MakeResidentId(rng);
    const std::string rec = j.dump();
    // Count on the decoded strings: in the raw line "\t6222..." glues the
    // card to the escape's 't', so a raw scan undercounts.
    const std::vector<std::string> values = {j["contact"]["mobile"], j["contact"]["emails"][0],
                                             j["contact"]["emails"][1], j["note"]};
    for (const std::string& v : values) input_findings += MaskedFindings(p, v);
    const std::string out = MaskOk(m, rec, Format::kJsonLines);
    const nlohmann::json o = nlohmann::json::parse(out);
    EXPECT_EQ(o["id"], i);
    EXPECT_EQ(MaskedFindings(p, out), 0) << out;
    const std::vector<std::string> masked = {o["contact"]["mobile"], o["contact"]["emails"][0],
                                             o["contact"]["emails"][1], o["note"]};
    for (const std::string& v : masked) EXPECT_EQ(MaskedFindings(p, v), 0) << v;
  }
  EXPECT_GE(input_findings, 5 * 300);
}

// A record of many findings: each field gets only the findings inside it (one
// cursor over the sorted findings), so ~200k IP fields are masked correctly,
// and in linear time.
TEST_F(MaskerTest, CsvRecordWithManyFindingFields) {
  MaskProfile p;
  p.by_type["IP_ADDRESS"] = Kind(MaskOp::Kind::kReplaceWithType);
  Masker m = Make(p);
  constexpr int kFields = 200000;
  std::string rec, want;
  for (int i = 0; i < kFields; ++i) {
    if (i > 0) {
      rec += ',';
      want += ',';
    }
    rec += "1.1." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
    want += "<IP_ADDRESS>";
  }
  const std::string out = MaskOk(m, rec, Format::kCsv);
  EXPECT_EQ(out.size(), want.size());
  EXPECT_TRUE(out == want)
      << "first difference at byte "
      << std::mismatch(out.begin(), out.end(), want.begin(), want.end()).first - out.begin();
}

// Named columns are skipped by the findings cursor without losing the
// findings of the columns after them (the scan happens at the first unnamed
// column, after some findings' fields were already passed).
TEST_F(MaskerTest, CsvFindingsCursorAcrossNamedColumns) {
  MaskProfile p;
  p.by_type["IP_ADDRESS"] = Kind(MaskOp::Kind::kReplaceWithType);
  p.by_type["CN_MOBILE"] = Kind(MaskOp::Kind::kRedact);
  p.by_field["secret"] = Kind(MaskOp::Kind::kRedact);
  Masker m = Make(p);
  m.SetCsvHeader("secret,a,secret2,secret,b");
  const std::string out =
      MaskOk(m, "10.0.0.1,10.0.0.2 and 13812345678,plain,10.0.0.4,x 10.0.0.5 y", Format::kCsv);
  const std::vector<std::string> f = ParseCsv(out);
  ASSERT_EQ(f.size(), 5u) << out;
  EXPECT_EQ(f[0], "[REDACTED]");
  EXPECT_EQ(f[1], "<IP_ADDRESS> and [REDACTED]");
  EXPECT_EQ(f[2], "plain");
  EXPECT_EQ(f[3], "[REDACTED]");
  EXPECT_EQ(f[4], "x <IP_ADDRESS> y");
}

// Replaces, as the masker should, the findings of the detector's scan of
// `"<key>": <value>` (the whole key in front) that lie in the value.
std::string ReferenceJsonValue(const Detector& d, const MaskProfile& p, const std::string& key,
                               const std::string& value) {
  const std::string prefix = "\"" + key + "\": ";
  std::string out;
  size_t pos = prefix.size();
  const std::string text = prefix + value;
  for (const Finding& f : d.Scan(text)) {
    if (f.start < prefix.size() || p.by_type.count(f.type) == 0) continue;
    out += text.substr(pos, f.start - pos) + "<" + f.type + ">";
    pos = f.end;
  }
  return out + text.substr(pos);
}

TEST_F(MaskerTest, JsonKeyContextSameAsWholeKey) {
  MaskProfile p;
  for (const std::string& t : Detector::Types())
    p.by_type[t] = Kind(MaskOp::Kind::kReplaceWithType);
  Masker m = Make(p);
  const std::string pad(100, 'k');
  std::vector<std::string> keys = {
      "",
      "note",
      "passport",
      "passport_no",
      pad + "passport",
      "passport" + pad,
      pad + " 护照",
      "护照" + pad,
      // Context word right at, and just past, the 64-byte tail.
      "passport" + std::string(53, 'k'),
      "passport" + std::string(56, 'k'),
      "passport" + std::string(57, 'k'),
      // A multi-byte character across the tail's first byte.
      std::string(30, 'k') + "护照" + std::string(60, 'x'),
      std::string(30, 'k') + "护照" + std::string(62, 'x'),
      pad + "ip",
      "ip" + pad,
      pad + "\nid card",
  };
  // A context word at every distance around the passport (48) and context
  // (64) windows.
  for (int n = 25; n <= 70; ++n) {
    keys.push_back("passport" + std::string(n, 'k'));
    keys.push_back("护照" + std::string(n, 'k'));
    keys.push_back(std::string(n, 'k') + "护照" + std::string(70 - n, 'x'));
  }
  const std::vector<std::string> values = {
      "E1234567",       "no: E12345678 end",  "13812345678",
      "10.1.2.3",       "11010519491231002X", "card 6222021234567890 and mail a@example.vn",
      "阮文安 G1234567"};
  int changed = 0;
  for (const std::string& key : keys) {
    for (const std::string& value : values) {
      nlohmann::json j;
      j[key] = value;
      const nlohmann::json o = nlohmann::json::parse(MaskOk(m, j.dump(), Format::kJsonLines));
      const std::string want = ReferenceJsonValue(detector_, p, key, value);
      EXPECT_EQ(o[key], want) << "key: " << key << "\nvalue: " << value;
      changed += want != value ? 1 : 0;
    }
  }
  EXPECT_GT(changed, 0);
}

TEST_F(MaskerTest, JsonLongKeyOverManyElements) {
  MaskProfile p;
  p.by_type["PASSPORT"] = Kind(MaskOp::Kind::kReplaceWithType);
  Masker m = Make(p);
  // A 200 KB key ending in a context word, over 20,000 elements: each element
  // is scanned with the key's tail only.
  const std::string key = std::string(200000, 'k') + " passport";
  nlohmann::json j;
  j[key] = nlohmann::json::array();
  for (int i = 0; i < 20000; ++i) j[key].push_back("E" + std::to_string(1000000 + i));
  const nlohmann::json o = nlohmann::json::parse(MaskOk(m, j.dump(), Format::kJsonLines));
  ASSERT_TRUE(o.contains(key));
  ASSERT_EQ(o[key].size(), 20000u);
  for (const auto& v : o[key]) ASSERT_EQ(v, "<PASSPORT>");
  // The same word at the start of the long key is out of the window.
  const std::string far_key = "passport " + std::string(200000, 'k');
  nlohmann::json f;
  f[far_key] = {"E1000000"};
  const nlohmann::json fo = nlohmann::json::parse(MaskOk(m, f.dump(), Format::kJsonLines));
  EXPECT_EQ(fo[far_key][0], "E1000000");
}

TEST_F(MaskerTest, JsonKeysWithIdentifiersAreMasked) {
  MaskProfile p;
  p.by_type["EMAIL"] = Kind(MaskOp::Kind::kReplaceWithType);
  p.by_type["CN_MOBILE"] = Mask(3, 4);
  Masker m = Make(p);
  const std::string in =
      R"({"alice@example.com":{"13812345678":1,"tel 13912345678":"x","ok":2},"name":"An"})";
  const std::string out = MaskOk(m, in, Format::kJsonLines);
  const nlohmann::ordered_json o = nlohmann::ordered_json::parse(out);
  ASSERT_EQ(o.size(), 2u) << out;
  EXPECT_EQ(o.begin().key(), "<EMAIL>");  // key order kept
  EXPECT_EQ(o["<EMAIL>"]["138****5678"], 1);
  EXPECT_EQ(o["<EMAIL>"]["tel 139****5678"], "x");
  EXPECT_EQ(o["<EMAIL>"]["ok"], 2);
  EXPECT_EQ(o["name"], "An");
  EXPECT_EQ(MaskedFindings(p, out), 0) << out;
  // Keys without identifiers leave the record as it was.
  EXPECT_EQ(MaskOk(m, R"({"a":{"b":1},"c":[2]})", Format::kJsonLines), R"({"a":{"b":1},"c":[2]})");
}

TEST_F(MaskerTest, JsonMaskedKeysThatCollideAreSuffixed) {
  MaskProfile p;
  p.by_type["EMAIL"] = Kind(MaskOp::Kind::kReplaceWithType);
  Masker m = Make(p);
  const std::string out = MaskOk(
      m, R"({"a@example.com":1,"b@example.com":2,"<EMAIL>":3,"<EMAIL>#2":4,"c@example.com":5})",
      Format::kJsonLines);
  const nlohmann::ordered_json o = nlohmann::ordered_json::parse(out);
  std::vector<std::pair<std::string, int>> got;
  for (auto it = o.begin(); it != o.end(); ++it) got.emplace_back(it.key(), it.value().get<int>());
  const std::vector<std::pair<std::string, int>> want = {
      {"<EMAIL>", 1}, {"<EMAIL>#2", 2}, {"<EMAIL>#3", 3}, {"<EMAIL>#2#2", 4}, {"<EMAIL>#4", 5}};
  EXPECT_EQ(got, want) << out;
}

}  // namespace
}  // namespace beibu::policy
