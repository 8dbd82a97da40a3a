// Identifier detection over UTF-8 text (plain, CSV lines, JSON records).
//
// How it works (see detector.cc):
//  1. One RE2::Set holding every recognizer's candidate pattern answers, in a
//     single pass over the text, which types can occur at all.
//  2. For each type the set reported, that type's own RE2 is run in a loop
//     with RE2::Match(startpos) to get byte positions of every candidate.
//  3. A candidate whose byte before or after is [0-9A-Za-z] is glued into a
//     longer run and dropped; the scan then resumes after that run.
//  4. The type's validator runs on the candidate with separators removed.
//     Near-misses (wrong checksum, impossible date, ...) are NOT findings.
//  5. Context words in the 64 bytes before the candidate (same line; for JSON
//     and key=value text that includes the field name) raise the score by
//     0.15 (capped at 1.0). PASSPORT and HEALTH_ICD10 are reported only when
//     one of their context words is within the 48 bytes before them (or names
//     their CSV column). A candidate right after a '+' is
//     a phone number's digits: only CN_MOBILE may start there.
//  6. Overlapping findings: the higher score wins; ties go to the type listed
//     first in kTypes order (checksum-backed types first).
//
// Two engines sit behind this interface and must report identical findings
// (differential tests and the scan fuzz target check it):
//  - kRe2: the reference, steps 1-2 above with RE2;
//  - kFast (default): one hand-written pass over the bytes that cuts the text
//    into candidate tokens by shape (maximal alphanumeric runs, grouped digit
//    runs, e-mail and IP shapes), then steps 3-6. It exists because profiling
//    showed kRe2 at ~50 MB/s on mixed records (docs/performance.md).
//
// Structured input: in kCsv format the first line is the header and a
// finding's column name counts as context (a passport number in a
// "passport_no" column is found); in kJsonLines the key of the value holds
// (it precedes the value on the same line, so the window covers it).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace beibu::policy {

enum class Format { kAuto, kText, kCsv, kJsonLines };

// How far before a candidate (same line) the detector looks for context
// words: wide enough for the longest one in UTF-8 (Thai
// "เลขประจำตัวประชาชน" is 54 bytes) plus a separator. Text further back
// cannot change a finding (the masker relies on this for JSON keys).
inline constexpr size_t kContextWindowBytes = 64;
enum class Engine { kFast, kRe2 };

// kAuto: '{' or '[' as the first non-blank byte -> kJsonLines; a first line
// with at least one comma, no digit-only field and no '@' -> kCsv; else kText.
Format SniffFormat(std::string_view text);

struct Finding {
  std::string type;
  size_t start = 0;  // byte offset in the input
  size_t end = 0;    // exclusive
  double score = 0;

  bool operator==(const Finding&) const = default;
};

class Detector {
 public:
  explicit Detector(Engine engine = Engine::kFast);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Findings sorted by start offset, non-overlapping; offsets are bytes of
  // `utf8_text`, end exclusive. Never fails: invalid UTF-8 is scanned as bytes.
  std::vector<Finding> Scan(std::string_view utf8_text) const;  // kText
  std::vector<Finding> Scan(std::string_view utf8_text, Format format) const;
  // One CSV record (no trailing newline needed) whose columns are named by
  // `header` (lower-case); offsets relative to `record`.
  std::vector<Finding> ScanCsvRecord(std::string_view record,
                                     const std::vector<std::string>& header) const;

  // Every type this detector can report, in tie-break order.
  static const std::vector<std::string>& Types();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::policy
