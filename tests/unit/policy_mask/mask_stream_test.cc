// Masker::MaskStream: record framing, CSV header and multi-line records, CRLF,
// errors naming the record, and bounded buffering over a large generated input.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "beibu/policy/mask.h"
#include "nlohmann/json.hpp"
#include "test_data.h"

namespace beibu::policy {
namespace {

MaskProfile ContactProfile() {
  MaskProfile p;
  p.id = "contact-test";
  MaskOp mask;
  mask.kind = MaskOp::Kind::kMask;
  mask.keep_first = 3;
  mask.keep_last = 4;
  p.by_type["CN_MOBILE"] = mask;
  MaskOp email = mask;
  email.keep_first = 1;
  email.keep_last = 0;
  p.by_type["EMAIL"] = email;
  MaskOp redact;
  redact.kind = MaskOp::Kind::kRedact;
  p.by_field["name"] = redact;
  return p;
}

class MaskStreamTest : public ::testing::Test {
 protected:
  MaskStreamTest() : masker_(*Masker::Create(detector_, ContactProfile(), "")) {}
  absl::StatusOr<MaskStats> Run(const std::string& in, Format f, std::string* out,
                                size_t max = 16 << 20) {
    std::istringstream is(in);
    std::ostringstream os;
    absl::StatusOr<MaskStats> s = masker_.MaskStream(is, os, f, max);
    *out = os.str();
    return s;
  }
  Detector detector_;
  Masker masker_;
};

TEST_F(MaskStreamTest, TextLinesAndStats) {
  std::string out;
  const std::string in = "a 13812345678\nno id\r\nb x@example.com 13912345678";
  absl::StatusOr<MaskStats> s = Run(in, Format::kText, &out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(out, "a 138****5678\nno id\r\nb *@example.com 139****5678");
  EXPECT_EQ(s->records, 3u);
  EXPECT_EQ(s->replaced, 3u);
  EXPECT_EQ(s->bytes_in, in.size());
}

TEST_F(MaskStreamTest, CsvHeaderPassesThroughAndMultiLineRecords) {
  const std::string in =
      "id,Name,note\r\n"
      "1,\"Trần\nThị\",\"line one\r\ncall 13812345678\n\"\"quoted\"\"\"\r\n"
      "2,An,plain 13912345678\r\n";
  std::string out;
  absl::StatusOr<MaskStats> s = Run(in, Format::kCsv, &out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(out,
            "id,Name,note\r\n"
            "1,[REDACTED],\"line one\r\ncall 138****5678\n\"\"quoted\"\"\"\r\n"
            "2,[REDACTED],plain 139****5678\r\n");
  EXPECT_EQ(s->records, 2u);  // the header is not counted
  EXPECT_EQ(s->replaced, 4u);
}

TEST_F(MaskStreamTest, CsvHeaderWithByteOrderMark) {
  // Excel writes a BOM; the first column must still be matched by name.
  std::string out;
  absl::StatusOr<MaskStats> s = Run("\xEF\xBB\xBFName,id\nAn,1\n", Format::kCsv, &out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(out, "\xEF\xBB\xBFName,id\n[REDACTED],1\n");
}

// Findings of a type `p` masks.
int MaskedFindings(const Detector& d, const MaskProfile& p, std::string_view text) {
  int n = 0;
  for (const Finding& f : d.Scan(text)) n += p.by_type.count(f.type) ? 1 : 0;
  return n;
}

TEST_F(MaskStreamTest, CsvWithoutHeaderMasksTheFirstLine) {
  MaskProfile p = ContactProfile();
  MaskOp redact;
  redact.kind = MaskOp::Kind::kRedact;
  p.by_type["CN_RESIDENT_ID"] = redact;
  const std::string first = "Zhang San,11010519491231002X,+86 13800138000";
  ASSERT_GE(MaskedFindings(detector_, p, first), 2);  // the identifiers are real
  const std::string in = first + "\r\nLi Si,x,13912345678\n";
  for (Format f : {Format::kCsv, Format::kAuto}) {
    absl::StatusOr<Masker> m = Masker::Create(detector_, p, "");
    ASSERT_TRUE(m.ok()) << m.status();
    std::istringstream is(in);
    std::ostringstream os;
    absl::StatusOr<MaskStats> s = m->MaskStream(is, os, f);
    ASSERT_TRUE(s.ok()) << s.status();
    const std::string out = os.str();
    EXPECT_EQ(MaskedFindings(detector_, p, out), 0) << out;
    EXPECT_EQ(out.find("11010519491231002X"), std::string::npos) << out;
    // Both lines are records; the text masking keeps the commas and line ends.
    EXPECT_EQ(s->records, 2u);
    EXPECT_EQ(s->replaced, static_cast<uint64_t>(MaskedFindings(detector_, p, first)) + 1);
    EXPECT_EQ(std::count(out.begin(), out.end(), ','), 4) << out;
    EXPECT_EQ(out.substr(0, 21), "Zhang San,[REDACTED],") << out;
    EXPECT_NE(out.find("\r\nLi Si,x,139****5678\n"), std::string::npos) << out;
    // No column names, so the `name` rule could not apply: said once.
    ASSERT_EQ(s->warnings.size(), 1u);
    EXPECT_NE(s->warnings[0].find("no header"), std::string::npos) << s->warnings[0];
    EXPECT_NE(s->warnings[0].find("by_field"), std::string::npos) << s->warnings[0];
  }
}

TEST_F(MaskStreamTest, CsvHeaderWithoutIdentifiersHasNoWarning) {
  std::string out;
  absl::StatusOr<MaskStats> s = Run("name,phone,email\nAn,13912345678,x\n", Format::kCsv, &out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(out, "name,phone,email\n[REDACTED],139****5678,x\n");
  EXPECT_EQ(s->records, 1u);
  EXPECT_TRUE(s->warnings.empty());
}

TEST_F(MaskStreamTest, StrayQuoteInsideAFieldDoesNotJoinRecords) {
  // `5" pipe` is an unquoted field holding a quote (lenient CSV): the record
  // ends at its newline, so the next rows keep their columns and names.
  std::string out;
  absl::StatusOr<MaskStats> s =
      Run("name,size\nAn,5\" pipe\nBinh,ok\n\"Chi\",\"a \"\"b\"\" c\"\n", Format::kCsv, &out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(out, "name,size\n[REDACTED],5\" pipe\n[REDACTED],ok\n[REDACTED],\"a \"\"b\"\" c\"\n");
  EXPECT_EQ(s->records, 3u);
}

TEST_F(MaskStreamTest, UnterminatedQuoteRunsToTheEnd) {
  std::string out;
  absl::StatusOr<MaskStats> s = Run("name,x\n\"open 13812345678\nmore", Format::kCsv, &out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->records, 1u);
  EXPECT_EQ(out.find("13812345678"), std::string::npos) << out;
}

TEST_F(MaskStreamTest, JsonLines) {
  std::string out;
  absl::StatusOr<MaskStats> s =
      Run("{\"name\":\"阮文安\",\"tel\":\"13812345678\"}\n\n{\"a\":[\"x@example.com\"]}\n",
          Format::kJsonLines, &out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(out,
            "{\"name\":\"[REDACTED]\",\"tel\":\"138****5678\"}\n\n{\"a\":[\"*@example.com\"]}\n");
  EXPECT_EQ(s->records, 3u);
}

TEST_F(MaskStreamTest, AutoUsesSniffFormatOfTheFirstRecord) {
  // Whatever SniffFormat says about the first line, kAuto must behave exactly
  // like that explicit format.
  for (const std::string& in :
       {std::string("{\"tel\":\"13812345678\"}\n{\"name\":\"x\"}\n"),
        std::string("name,tel\nAn,13812345678\n"), std::string("hello 13812345678\nname,x\n")}) {
    const Format f = SniffFormat(in.substr(0, in.find('\n')));
    std::string auto_out, explicit_out;
    ASSERT_TRUE(Run(in, Format::kAuto, &auto_out).ok());
    ASSERT_TRUE(Run(in, f == Format::kAuto ? Format::kText : f, &explicit_out).ok());
    EXPECT_EQ(auto_out, explicit_out) << in;
    EXPECT_EQ(auto_out.find("13812345678"), std::string::npos);
  }
}

TEST_F(MaskStreamTest, MalformedJsonNamesTheRecord) {
  std::string out;
  absl::StatusOr<MaskStats> s = Run("{\"a\":1}\n{\"b\":2}\n{\"c\":\n", Format::kJsonLines, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("record 3 (line 3)"), std::string::npos) << s.status();
}

TEST_F(MaskStreamTest, OversizeRecordNamesItsNumber) {
  std::string out;
  const std::string in = "short\nalso short\n" + std::string(5000, 'x') + "\nafter\n";
  absl::StatusOr<MaskStats> s = Run(in, Format::kText, &out, 4096);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("record 3"), std::string::npos) << s.status();
  EXPECT_NE(s.status().message().find("over 4096 bytes"), std::string::npos) << s.status();
  // A record of exactly the limit passes.
  ASSERT_TRUE(Run(std::string(4096, 'y') + "\n", Format::kText, &out, 4096).ok());
  // A multi-line CSV record counts all its lines.
  const std::string csv =
      "a,b\n\"" + std::string(3000, 'z') + "\n" + std::string(3000, 'z') + "\"\n";
  s = Run(csv, Format::kCsv, &out, 4096);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("record 2"), std::string::npos) << s.status();
}

TEST_F(MaskStreamTest, RandomBytesNeverCrash) {
  // Untrusted input: any bytes give a masked output or INVALID_ARGUMENT.
  std::mt19937_64 rng(5);
  const std::string alphabet = "\",\n\r{}[]:\\ 0123456789abc@.-\xe4\xbd\xa0\xff";
  for (int i = 0; i < 300; ++i) {
    std::string in(rng() % 2048, ' ');
    for (char& c : in) c = alphabet[rng() % alphabet.size()];
    if (i % 3 == 0) in += " 13812345678 x@example.com\n";
    for (Format f : {Format::kText, Format::kCsv, Format::kJsonLines, Format::kAuto}) {
      std::string out;
      absl::StatusOr<MaskStats> s = Run(in, f, &out, 1024);
      if (!s.ok()) {
        EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
        continue;
      }
      EXPECT_EQ(s->bytes_in, in.size());
      if (f == Format::kText) {
        // Framing is kept: replacements never add or remove line ends.
        EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), std::count(in.begin(), in.end(), '\n'));
        EXPECT_EQ(out.find("13812345678"), std::string::npos);
      }
    }
  }
}

TEST_F(MaskStreamTest, ReadErrorIsReportedNotThrown) {
  // libstdc++'s filebuf throws std::ios_base::failure on a read error.
  class Failing : public std::streambuf {
   protected:
    int_type underflow() override {
      if (served_) throw std::ios_base::failure("disk on fire");
      served_ = true;
      buf_ = "a 13812345678\nb";
      setg(buf_.data(), buf_.data(), buf_.data() + buf_.size());
      return traits_type::to_int_type(buf_[0]);
    }

   private:
    bool served_ = false;
    std::string buf_;
  } failing;
  std::istream in(&failing);
  std::ostringstream out;
  absl::StatusOr<MaskStats> s = masker_.MaskStream(in, out, Format::kText);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.status().message().find("disk on fire"), std::string::npos) << s.status();
  EXPECT_TRUE(in.bad());
  EXPECT_EQ(out.str(), "a 138****5678\n");  // the complete record only, not the cut "b"
}

// Hands out `total` bytes of generated CSV, a small buffer at a time, and
// records where each line ends so the reader's look-ahead can be measured.
class CsvGenerator : public std::streambuf {
 public:
  explicit CsvGenerator(uint64_t total) : total_(total), rng_(42) {
    Append("id,name,phone,email,note\n");
  }
  // Input bytes the masker has taken so far (the end of the handed-out buffer).
  uint64_t handed_out() const { return handed_out_; }
  // Where the i-th (0-based) physical input line ends.
  uint64_t LineEnd(uint64_t i) const { return line_ends_[i]; }
  uint64_t lines() const { return line_ends_.size(); }
  uint64_t records() const { return records_; }  // data records, the header excluded

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    while (pending_.size() - pending_pos_ < kBuf && produced_ < total_) NextRecord();
    const size_t n = std::min(kBuf, pending_.size() - pending_pos_);
    if (n == 0) return traits_type::eof();
    buf_.assign(pending_, pending_pos_, n);
    pending_pos_ += n;
    if (pending_pos_ > (1 << 16)) {
      pending_.erase(0, pending_pos_);
      pending_pos_ = 0;
    }
    handed_out_ += n;
    setg(buf_.data(), buf_.data(), buf_.data() + n);
    if (on_read) on_read();
    return traits_type::to_int_type(*gptr());
  }

 public:
  std::function<void()> on_read;

 private:
  static constexpr size_t kBuf = 4096;
  void Append(const std::string& line) {
    pending_ += line;
    for (char c : line) {
      ++produced_;
      if (c == '\n') line_ends_.push_back(produced_);
    }
  }
  void NextRecord() {
    const uint64_t i = ++records_;
    std::string note = testing::MakeFiller(rng_, 4);
    if (i % 7 == 0) note = "\"" + note + ",\n tel " + testing::MakeMobile(rng_) + "\"";
    Append(std::to_string(i) + ",阮文安," + testing::MakeMobile(rng_) + "," +
           testing::MakeEmail(rng_) + "," + note + "\n");
  }
  uint64_t total_;
  std::mt19937_64 rng_;
  std::string pending_;
  size_t pending_pos_ = 0;
  std::string buf_;
  uint64_t produced_ = 0;
  uint64_t handed_out_ = 0;
  uint64_t records_ = 0;
  std::vector<uint64_t> line_ends_;  // the test's bookkeeping, not the masker's
};

// Counts output records as they are written and re-scans a sample of them.
class CountingSink : public std::streambuf {
 public:
  explicit CountingSink(const Detector& d) : detector_(d) {}
  uint64_t newlines = 0, bytes = 0, sampled = 0, leaked = 0;

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) Put(s[i]);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) Put(static_cast<char>(c));
    return c;
  }

 private:
  void Put(char c) {
    ++bytes;
    line_.push_back(c);
    if (c != '\n') return;
    ++newlines;
    if (newlines % 499 == 0) {
      ++sampled;
      for (const Finding& f : detector_.Scan(line_))
        leaked += f.type == "CN_MOBILE" || f.type == "EMAIL";
    }
    line_.clear();
  }
  const Detector& detector_;
  std::string line_;
};

TEST_F(MaskStreamTest, LargeInputIsStreamedWithBoundedLookAhead) {
  constexpr uint64_t kTotal = 50ull << 20;
  CsvGenerator gen(kTotal);
  CountingSink sink(detector_);
  // Each time the masker asks for input, the bytes it has taken but not yet
  // written out as records are what it buffers.
  uint64_t max_lag = 0;
  gen.on_read = [&] {
    const uint64_t done = sink.newlines == 0 ? 0 : gen.LineEnd(sink.newlines - 1);
    max_lag = std::max(max_lag, gen.handed_out() - done);
  };
  std::istream in(&gen);
  std::ostream out(&sink);
  absl::StatusOr<MaskStats> s = masker_.MaskStream(in, out, Format::kCsv);
  ASSERT_TRUE(s.ok()) << s.status();
  // Multi-line records: one output newline per input newline.
  EXPECT_EQ(sink.newlines, gen.lines());
  const uint64_t multi = gen.records() / 7;  // records with an embedded newline
  EXPECT_EQ(gen.lines(), 1 + gen.records() + multi);
  EXPECT_EQ(s->records, gen.records());
  EXPECT_GE(s->bytes_in, kTotal);
  EXPECT_GE(s->replaced, 3 * s->records);  // name, phone, email each record
  EXPECT_GT(sink.sampled, 100u);
  EXPECT_EQ(sink.leaked, 0u);
  // 50 MB went through; the masker held at most a read chunk plus a record
  // (records here are < 200 bytes). 1 MiB leaves room for any sane chunk.
  EXPECT_GT(max_lag, 0u);
  EXPECT_LT(max_lag, 1u << 20);
}

TEST_F(MaskStreamTest, OversizeStopsReadingEarly) {
  // An endless line: the masker must give up after about the limit, not read it all.
  class Endless : public std::streambuf {
   public:
    uint64_t handed_out = 0;

   protected:
    int_type underflow() override {
      if (handed_out > (256u << 20)) return traits_type::eof();  // safety stop for the test
      buf_.assign(4096, 'a');
      handed_out += buf_.size();
      setg(buf_.data(), buf_.data(), buf_.data() + buf_.size());
      return 'a';
    }

   private:
    std::string buf_;
  } endless;
  std::istream in(&endless);
  std::ostringstream out;
  absl::StatusOr<MaskStats> s = masker_.MaskStream(in, out, Format::kText, 1 << 20);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("record 1"), std::string::npos);
  EXPECT_LT(endless.handed_out, 2u << 20);
}

}  // namespace
}  // namespace beibu::policy
