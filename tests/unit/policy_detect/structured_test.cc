// Structured input: format sniffing, CSV column names as context, JSON keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "beibu/policy/detector.h"
#include "id_gen.h"

namespace beibu::policy {
namespace {

using testing::IdGen;

int Count(const std::vector<Finding>& fs, std::string_view type) {
  return static_cast<int>(
      std::count_if(fs.begin(), fs.end(), [&](const Finding& f) { return f.type == type; }));
}

const Finding* Find(const std::vector<Finding>& fs, std::string_view type) {
  for (const Finding& f : fs) {
    if (f.type == type) return &f;
  }
  return nullptr;
}

TEST(SniffFormat, Cases) {
  EXPECT_EQ(SniffFormat(R"({"a":1})"), Format::kJsonLines);
  EXPECT_EQ(SniffFormat("  \n[1,2]"), Format::kJsonLines);
  EXPECT_EQ(SniffFormat("id,name,phone\n1,a,13812345678\n"), Format::kCsv);
  EXPECT_EQ(SniffFormat("\"full name\",email\r\nx,y\r\n"), Format::kCsv);
  EXPECT_EQ(SniffFormat("1,2,3\n"), Format::kText);      // digit-only field: data row
  EXPECT_EQ(SniffFormat("a@b.com,x\n"), Format::kText);  // '@': data row
  EXPECT_EQ(SniffFormat("hello world\nid,name\n"), Format::kText);
  EXPECT_EQ(SniffFormat(""), Format::kText);
}

TEST(Types, ThirteenInTieBreakOrder) {
  const auto& t = Detector::Types();
  ASSERT_EQ(t.size(), 13u);
  EXPECT_EQ(t.front(), "CN_RESIDENT_ID");
  EXPECT_EQ(t.back(), "HEALTH_ICD10");
  EXPECT_EQ(t[t.size() - 2], "PASSPORT");
  EXPECT_NE(std::find(t.begin(), t.end(), "VN_CCCD"), t.end());
  std::vector<std::string> sorted = t;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
}

class Structured : public ::testing::TestWithParam<Engine> {
 protected:
  Detector d_{GetParam()};
};

TEST_P(Structured, CsvPassportColumnIsContext) {
  const std::string csv = "id,name,passport_no\n1,Tran,E12345678\n2,Le,\"K7654321\"\n";
  const auto fs = d_.Scan(csv, Format::kCsv);
  ASSERT_EQ(Count(fs, "PASSPORT"), 2);
  EXPECT_EQ(csv.substr(fs[0].start, fs[0].end - fs[0].start), "E12345678");
  EXPECT_EQ(fs[0].start, csv.find("E12345678"));  // offsets in the whole text
  EXPECT_EQ(csv.substr(fs[1].start, fs[1].end - fs[1].start), "K7654321");
  // As plain text there is no context on those lines.
  EXPECT_EQ(Count(d_.Scan(csv), "PASSPORT"), 0);
  EXPECT_EQ(Count(d_.Scan(csv, Format::kAuto), "PASSPORT"), 2);
}

// A quote inside an unquoted field ("5\" pipe") opens nothing: the next
// line is still its own record with its own columns.
TEST_P(Structured, StrayQuoteDoesNotGlueRecords) {
  const std::string csv =
      "id,item,passport_no\n1,5\" pipe,E12345678\n2,bolt,K7654321\n3,nut,A1234567\n";
  const auto fs = d_.Scan(csv, Format::kCsv);
  ASSERT_EQ(Count(fs, "PASSPORT"), 3);
  EXPECT_EQ(fs[1].start, csv.find("K7654321"));
}

TEST_P(Structured, CsvColumnBoostsScore) {
  IdGen g(5);
  const std::string m = g.Mobile();
  const std::string boosted = "id,mobile_phone\n1," + m + "\n";
  const std::string plain = "id,remark\n1," + m + "\n";
  const auto boosted_fs = d_.Scan(boosted, Format::kCsv);
  const auto plain_fs = d_.Scan(plain, Format::kCsv);
  const Finding* a = Find(boosted_fs, "CN_MOBILE");
  const Finding* b = Find(plain_fs, "CN_MOBILE");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_GT(a->score, b->score);
  // Column variants of context words.
  for (const char* col : {"Email", "e_mail", "user email", "EMAIL_ADDRESS"}) {
    const std::string csv = std::string("id,") + col + "\n1,li@example.com\n";
    const auto fs = d_.Scan(csv, Format::kCsv);
    const Finding* f = Find(fs, "EMAIL");
    ASSERT_NE(f, nullptr) << col;
    EXPECT_DOUBLE_EQ(f->score, 1.0) << col;  // 0.9 + 0.15, capped
  }
  const std::string id = g.CnId();
  const auto id_fs = d_.Scan("x,ID_Card\n1," + id + "\n", Format::kCsv);
  const Finding* c = Find(id_fs, "CN_RESIDENT_ID");
  ASSERT_NE(c, nullptr);
  EXPECT_DOUBLE_EQ(c->score, 1.0);
}

TEST_P(Structured, ShortContextWordsMatchWholeWordsOnly) {
  // "zip" contains "ip" but is not an IP column; "client_ip" is.
  const auto zip = d_.Scan("zip,x\n10.0.0.1,y\n", Format::kCsv);
  const auto ip = d_.Scan("client_ip,x\n10.0.0.1,y\n", Format::kCsv);
  const Finding* a = Find(zip, "IP_ADDRESS");
  const Finding* b = Find(ip, "IP_ADDRESS");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_GT(b->score, a->score);
}

TEST_P(Structured, CsvRecordSpanningLines) {
  const std::string csv =
      "note,passport\n\"line one\nline two, still note\",E1234567\n3,\"G7654321\"\n";
  const auto fs = d_.Scan(csv, Format::kCsv);
  ASSERT_EQ(Count(fs, "PASSPORT"), 2);
  EXPECT_EQ(fs[0].start, csv.find("E1234567"));
  EXPECT_EQ(fs[1].start, csv.find("G7654321"));
  // The note column is not a passport column: a passport-shaped value there
  // has no context.
  EXPECT_EQ(Count(d_.Scan("note,passport\nE1234567,x\n", Format::kCsv), "PASSPORT"), 0);
}

TEST_P(Structured, ScanCsvRecordUsesHeader) {
  const std::vector<std::string> header = {"id", "passport_number", "tel"};
  const std::string rec = "7,EA1234567,13812345678";
  const auto fs = d_.ScanCsvRecord(rec, header);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].type, "PASSPORT");
  EXPECT_EQ(fs[0].start, 2u);
  EXPECT_EQ(fs[0].end, 11u);
  EXPECT_EQ(fs[1].type, "CN_MOBILE");
  EXPECT_DOUBLE_EQ(fs[1].score, 0.75);  // 0.6 + 0.15 from the "tel" column
  // Without the header: no passport, unboosted phone.
  const auto plain = d_.ScanCsvRecord(rec, {});
  EXPECT_EQ(Count(plain, "PASSPORT"), 0);
  ASSERT_EQ(Count(plain, "CN_MOBILE"), 1);
  EXPECT_DOUBLE_EQ(Find(plain, "CN_MOBILE")->score, 0.6);
}

TEST_P(Structured, JsonKeysAreContext) {
  for (const std::string& json : {std::string(R"({"passport": "E1234567", "x": 1})"),
                                  std::string(R"({"passport_no":"E1234567"})")}) {
    for (Format f : {Format::kJsonLines, Format::kAuto}) {
      const auto fs = d_.Scan(json, f);
      ASSERT_EQ(Count(fs, "PASSPORT"), 1) << json;
      const Finding* p = Find(fs, "PASSPORT");
      EXPECT_EQ(json.substr(p->start, p->end - p->start), "E1234567");
    }
  }
  // Another line's key does not count.
  EXPECT_EQ(
      Count(d_.Scan("{\"passport\": 1}\n{\"x\": \"E1234567\"}", Format::kJsonLines), "PASSPORT"),
      0);
}

// Diagnosis columns: "dx" counts only as a whole word of a column name.
TEST_P(Structured, HealthIcd10ColumnsAndKeys) {
  const std::string csv =
      "id,primary_dx,diagnosis_code,icd10,idx,note\n1,E11.9,J45.909,C50.912,I10,K21.9\n";
  const auto fs = d_.Scan(csv, Format::kCsv);
  ASSERT_EQ(Count(fs, "HEALTH_ICD10"), 3);
  std::vector<std::string> got;
  for (const Finding& f : fs) got.push_back(csv.substr(f.start, f.end - f.start));
  EXPECT_EQ(got, (std::vector<std::string>{"E11.9", "J45.909", "C50.912"}));
  // As plain text the header is another line: no context.
  EXPECT_EQ(Count(d_.Scan(csv), "HEALTH_ICD10"), 0);
  const std::vector<std::string> header = {"sdx", "dx", "dx_2"};
  const auto rec = d_.ScanCsvRecord("A01,B02.1,C03", header);
  ASSERT_EQ(Count(rec, "HEALTH_ICD10"), 2);
  EXPECT_EQ(rec[0].start, 4u);
  for (const std::string& json :
       {std::string(R"({"diagnosis": "E11.9"})"), std::string(R"({"icd10_code":"E11.9"})"),
        std::string(R"({"dx":"E11.9"})")}) {
    const auto j = d_.Scan(json, Format::kJsonLines);
    ASSERT_EQ(Count(j, "HEALTH_ICD10"), 1) << json;
    EXPECT_EQ(json.substr(j[0].start, j[0].end - j[0].start), "E11.9");
  }
  EXPECT_EQ(Count(d_.Scan(R"({"idx":"E11.9"})", Format::kJsonLines), "HEALTH_ICD10"), 0);
}

TEST_P(Structured, CsvHeaderIsScannedAsText) {
  // A header-less file: the first line is data and must not be skipped.
  const auto fs = d_.Scan("alice,li@example.com\n", Format::kCsv);
  EXPECT_EQ(Count(fs, "EMAIL"), 1);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, Structured, ::testing::Values(Engine::kFast, Engine::kRe2));

}  // namespace
}  // namespace beibu::policy
