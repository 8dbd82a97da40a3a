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
//  5. Context words in the 48 bytes before the candidate (same line; for JSON
//     and key=value text that includes the field name) raise the score by
//     0.15 (capped at 1.0). PASSPORT is reported only when a passport context
//     word is within the 32 bytes before it.
//  6. Overlapping findings: the higher score wins; ties go to the type listed
//     first in kTypes order (checksum-backed types first).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace beibu::policy {

struct Finding {
  std::string type;
  size_t start = 0;  // byte offset in the input
  size_t end = 0;    // exclusive
  double score = 0;
};

class Detector {
 public:
  Detector();
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Findings sorted by start offset, non-overlapping.
  std::vector<Finding> Scan(std::string_view utf8_text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::policy
