// Precision and recall of the detector on a labelled, seeded corpus
// (tests/support/policy_corpus.h): 1,000 CSV + 1,000 JSON + 1,000 free-text
// records, each scanned on its own in its format and also as whole documents.
// A finding counts only with the exact span and type of a label.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "beibu/policy/detector.h"
#include "beibu/policy/validators.h"
#include "policy_corpus.h"

namespace beibu::policy {
namespace {

using corpus::Corpus;
using corpus::CorpusOptions;
using corpus::Label;
using corpus::Record;

constexpr size_t kRecordsPerFormat = 1000;
constexpr double kChecksumFloor = 0.97;
// Structure-only types (no checksum) and shape-based ones: a lower floor.
constexpr double kStructureFloor = 0.90;

const std::set<std::string>& ChecksumTypes() {
  static const auto* k = new std::set<std::string>{"CN_RESIDENT_ID", "CN_USCC", "BANK_CARD",
                                                   "SG_NRIC_FIN", "TH_NATIONAL_ID"};
  return *k;
}

using Key = std::tuple<std::string, size_t, size_t>;  // type, start, end

struct Tally {
  size_t tp = 0, fp = 0, fn = 0;
  std::vector<std::string> fp_examples, fn_examples;
};

class Scorer {
 public:
  explicit Scorer(std::string name) : name_(std::move(name)) {}

  // `found` and `expected` in the same offsets; `text` for the examples.
  void Add(std::string_view text, const std::vector<Finding>& found,
           const std::vector<Key>& expected) {
    std::set<Key> want(expected.begin(), expected.end());
    std::set<Key> got;
    for (const Finding& f : found) got.insert({f.type, f.start, f.end});
    for (const Key& k : got) {
      Tally& t = tallies_[std::get<0>(k)];
      if (want.count(k)) {
        ++t.tp;
      } else {
        ++t.fp;
        Example(&t.fp_examples, text, k);
      }
    }
    for (const Key& k : want) {
      if (!got.count(k)) {
        Tally& t = tallies_[std::get<0>(k)];
        ++t.fn;
        Example(&t.fn_examples, text, k);
      }
    }
  }

  static double Precision(const Tally& t) {
    return t.tp + t.fp == 0 ? 1.0 : static_cast<double>(t.tp) / static_cast<double>(t.tp + t.fp);
  }
  static double Recall(const Tally& t) {
    return t.tp + t.fn == 0 ? 1.0 : static_cast<double>(t.tp) / static_cast<double>(t.tp + t.fn);
  }

  // Prints the table and a few misses per type, then checks the floors.
  void ReportAndCheck() const {
    std::printf("\n[%s]\n%-16s %6s %6s %6s %9s %9s\n", name_.c_str(), "type", "TP", "FP", "FN",
                "precision", "recall");
    for (const std::string& type : Detector::Types()) {
      auto it = tallies_.find(type);
      const Tally t = it == tallies_.end() ? Tally{} : it->second;
      std::printf("%-16s %6zu %6zu %6zu %9.4f %9.4f\n", type.c_str(), t.tp, t.fp, t.fn,
                  Precision(t), Recall(t));
      for (const auto& e : t.fp_examples) std::printf("    FP %s\n", e.c_str());
      for (const auto& e : t.fn_examples) std::printf("    FN %s\n", e.c_str());
    }
    for (const auto& [type, t] : tallies_) {
      const bool known = std::find(Detector::Types().begin(), Detector::Types().end(), type) !=
                         Detector::Types().end();
      EXPECT_TRUE(known) << name_ << ": label or finding of unknown type " << type;
    }
    for (const std::string& type : Detector::Types()) {
      auto it = tallies_.find(type);
      ASSERT_NE(it, tallies_.end()) << name_ << ": the corpus has no " << type;
      const double floor = ChecksumTypes().count(type) ? kChecksumFloor : kStructureFloor;
      EXPECT_GE(Precision(it->second), floor) << name_ << " precision of " << type;
      EXPECT_GE(Recall(it->second), floor) << name_ << " recall of " << type;
    }
  }

 private:
  static void Example(std::vector<std::string>* out, std::string_view text, const Key& k) {
    if (out->size() >= 4) return;
    const size_t s = std::get<1>(k), e = std::get<2>(k);
    const size_t from = s > 40 ? s - 40 : 0;
    const size_t to = std::min(text.size(), e + 20);
    std::string ctx(text.substr(from, to - from));
    for (char& c : ctx) {
      if (c == '\n') c = '|';
    }
    out->push_back("[" + std::to_string(s) + "," + std::to_string(e) + ") '" +
                   std::string(text.substr(s, e - s)) + "' in: " + ctx);
  }

  std::string name_;
  std::map<std::string, Tally> tallies_;
};

struct Docs {
  Corpus csv, json, text;
};

const Docs& TheDocs() {
  static const Docs* d = [] {
    auto* docs = new Docs;
    CorpusOptions o;
    o.records = kRecordsPerFormat;
    o.seed = 20261127;
    docs->csv = corpus::GenerateDocument(Format::kCsv, o);
    o.seed += 1;
    docs->json = corpus::GenerateDocument(Format::kJsonLines, o);
    o.seed += 1;
    docs->text = corpus::GenerateDocument(Format::kText, o);
    return docs;
  }();
  return *d;
}

std::vector<Key> Expected(const std::vector<Label>& labels, size_t base, bool with_columns) {
  std::vector<Key> out;
  for (const Label& l : labels) {
    if (l.needs_column_context && !with_columns) continue;
    out.push_back({l.type, l.start - base, l.end - base});
  }
  return out;
}

std::vector<Key> AllExpected(const Corpus& c, bool with_columns) {
  std::vector<Key> out;
  for (const Record& r : c.records) {
    for (const Key& k : Expected(r.labels, 0, with_columns)) out.push_back(k);
  }
  return out;
}

std::vector<Finding> ScanRecord(const Detector& d, const Corpus& c, const Record& r) {
  const std::string_view line = std::string_view(c.text).substr(r.start, r.end - r.start);
  if (r.format == Format::kCsv) return d.ScanCsvRecord(line, c.csv_columns);
  return d.Scan(line, r.format);
}

std::string StripSeparators(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '-') out += c;
  }
  if (out.rfind("+86", 0) == 0) out.erase(0, 3);
  return out;
}

bool Validates(const std::string& type, std::string_view value) {
  const std::string v = StripSeparators(value);
  if (type == "CN_RESIDENT_ID") return IsValidCnResidentId(v);
  if (type == "CN_USCC") return IsValidCnUscc(v);
  if (type == "BANK_CARD") return IsValidBankCard(v);
  if (type == "SG_NRIC_FIN") return IsValidSgNricFin(v);
  if (type == "TH_NATIONAL_ID") return IsValidThNationalId(v);
  if (type == "MY_MYKAD") return IsValidMyMykad(v);
  if (type == "ID_NIK") return IsValidIdNik(v);
  if (type == "VN_CCCD") return IsValidVnCccd(v);
  if (type == "CN_MOBILE") return IsValidCnMobile(v);
  if (type == "EMAIL") return IsValidEmail(value);
  if (type == "IP_ADDRESS") return IsValidIpAddress(value);
  if (type == "HEALTH_ICD10") return IsValidHealthIcd10(value);
  return type == "PASSPORT";
}

TEST(PolicyCorpusTest, GeneratorIsDeterministicPerSeed) {
  CorpusOptions o;
  o.records = 200;
  o.seed = 7;
  const Corpus a = corpus::GenerateMixed(o);
  const Corpus b = corpus::GenerateMixed(o);
  o.seed = 8;
  const Corpus c = corpus::GenerateMixed(o);
  EXPECT_EQ(a.text, b.text);
  EXPECT_NE(a.text, c.text);
  EXPECT_EQ(a.records.size(), 200u);
}

TEST(PolicyCorpusTest, MinBytesGrowsTheCorpus) {
  CorpusOptions o;
  o.records = 1;
  o.min_bytes = 64 * 1024;
  const Corpus c = corpus::GenerateMixed(o);
  EXPECT_GE(c.text.size(), o.min_bytes);
  EXPECT_GT(c.records.size(), 1u);
}

// The generator is independent of the validators; here they must agree, and
// labels must sit inside their records without overlapping.
TEST(PolicyCorpusTest, LabelsAreValidAndWellPlaced) {
  for (const Corpus* c : {&TheDocs().csv, &TheDocs().json, &TheDocs().text}) {
    ASSERT_GE(c->records.size(), kRecordsPerFormat);
    for (const Record& r : c->records) {
      ASSERT_LE(r.end, c->text.size());
      EXPECT_EQ(c->text[r.end], '\n');
      size_t last_end = r.start;
      for (const Label& l : r.labels) {
        EXPECT_GE(l.start, last_end);
        EXPECT_LT(l.start, l.end);
        EXPECT_LE(l.end, r.end);
        last_end = l.end;
        const std::string_view v = std::string_view(c->text).substr(l.start, l.end - l.start);
        EXPECT_TRUE(Validates(l.type, v)) << l.type << " '" << v << "'";
      }
    }
  }
}

// Every labelled type and at least one of each decoy kind occurs.
TEST(PolicyCorpusTest, CorpusCoversEveryTypeAndDecoyKind) {
  std::map<std::string, int> types, decoys;
  for (const Corpus* c : {&TheDocs().csv, &TheDocs().json, &TheDocs().text}) {
    for (const Record& r : c->records) {
      for (const Label& l : r.labels) ++types[l.type];
      for (const auto& d : r.decoys) ++decoys[d.kind];
    }
  }
  for (const std::string& t : Detector::Types()) EXPECT_GE(types[t], 50) << t;
  for (const char* k :
       {"cn_id_bad_check",  "cn_id_bad_date", "card_bad_luhn",       "sg_bad_letter",
        "th_bad_check",     "order_number",   "order_id_18",         "unix_ts_10",
        "unix_ts_13",       "amount",         "tracking_number",     "glued",
        "version_string",   "ip_like",        "passport_no_context", "icd_no_context",
        "email_bad_domain", "mykad_bad_date", "nik_bad_month",       "date_time"}) {
    EXPECT_GE(decoys[k], 5) << k;
  }
  std::printf("labels:");
  for (const auto& [t, n] : types) std::printf(" %s=%d", t.c_str(), n);
  std::printf("\ndecoys:");
  for (const auto& [k, n] : decoys) std::printf(" %s=%d", k.c_str(), n);
  std::printf("\n");
}

TEST(PolicyCorpusTest, PerRecordPrecisionRecall) {
  const Detector d;
  Scorer s("per record, default engine");
  for (const Corpus* c : {&TheDocs().csv, &TheDocs().json, &TheDocs().text}) {
    for (const Record& r : c->records) {
      const std::string_view line = std::string_view(c->text).substr(r.start, r.end - r.start);
      s.Add(line, ScanRecord(d, *c, r), Expected(r.labels, r.start, /*with_columns=*/true));
    }
  }
  s.ReportAndCheck();
}

TEST(PolicyCorpusTest, WholeDocumentPrecisionRecall) {
  const Detector d;
  Scorer s("whole documents (kCsv, kJsonLines, kText), default engine");
  s.Add(TheDocs().csv.text, d.Scan(TheDocs().csv.text, Format::kCsv),
        AllExpected(TheDocs().csv, true));
  s.Add(TheDocs().json.text, d.Scan(TheDocs().json.text, Format::kJsonLines),
        AllExpected(TheDocs().json, true));
  s.Add(TheDocs().text.text, d.Scan(TheDocs().text.text, Format::kText),
        AllExpected(TheDocs().text, true));
  s.ReportAndCheck();
}

// A mixed document scanned as plain text: CSV passports lose their column
// context (and are not expected); everything else must be found the same way.
TEST(PolicyCorpusTest, MixedDocumentAsTextPrecisionRecall) {
  const Detector d;
  CorpusOptions o;
  o.records = 3 * kRecordsPerFormat;
  o.seed = 99;
  const Corpus c = corpus::GenerateMixed(o);
  Scorer s("mixed document as kText, default engine");
  s.Add(c.text, d.Scan(c.text), AllExpected(c, /*with_columns=*/false));
  s.ReportAndCheck();
}

TEST(PolicyCorpusTest, SniffFormatRecognizesTheDocuments) {
  EXPECT_EQ(SniffFormat(TheDocs().csv.text), Format::kCsv);
  EXPECT_EQ(SniffFormat(TheDocs().json.text), Format::kJsonLines);
}

std::string Describe(const std::vector<Finding>& fs, std::string_view text) {
  std::string out;
  for (const Finding& f : fs) {
    out += f.type + "[" + std::to_string(f.start) + "," + std::to_string(f.end) + ")'" +
           std::string(text.substr(f.start, f.end - f.start)) + "' ";
  }
  return out;
}

// The two engines must report identical findings (type, span and score).
TEST(PolicyCorpusTest, EnginesAgreeOnTheCorpus) {
  const Detector fast(Engine::kFast), re2(Engine::kRe2);
  int mismatches = 0;
  for (const Corpus* c : {&TheDocs().csv, &TheDocs().json, &TheDocs().text}) {
    for (const Record& r : c->records) {
      const std::string_view line = std::string_view(c->text).substr(r.start, r.end - r.start);
      const auto a = ScanRecord(fast, *c, r), b = ScanRecord(re2, *c, r);
      if (a != b && ++mismatches <= 5) {
        ADD_FAILURE() << "engines differ on: " << line << "\n  kFast: " << Describe(a, line)
                      << "\n  kRe2:  " << Describe(b, line);
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  for (const auto& [c, f] :
       {std::pair{&TheDocs().csv, Format::kCsv}, std::pair{&TheDocs().json, Format::kJsonLines},
        std::pair{&TheDocs().text, Format::kText}}) {
    EXPECT_TRUE(fast.Scan(c->text, f) == re2.Scan(c->text, f))
        << "whole document, format " << static_cast<int>(f);
  }
}

}  // namespace
}  // namespace beibu::policy
