// Differential fuzzing of the identifier scanner: kFast and kRe2 must report
// identical findings for every input and format, and findings must be in
// range, sorted and non-overlapping. Any difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "beibu/policy/detector.h"

namespace {

using beibu::policy::Detector;
using beibu::policy::Engine;
using beibu::policy::Finding;
using beibu::policy::Format;

void Check(std::string_view text, const std::vector<Finding>& a, const std::vector<Finding>& b,
           const char* what) {
  bool same = a.size() == b.size();
  for (size_t i = 0; same && i < a.size(); ++i) {
    same = a[i].type == b[i].type && a[i].start == b[i].start && a[i].end == b[i].end &&
           a[i].score == b[i].score;
  }
  if (!same) {
    std::fprintf(stderr, "%s: engines differ (%zu vs %zu findings)\n", what, a.size(), b.size());
    for (const Finding& f : a)
      std::fprintf(stderr, " fast %s %zu-%zu %f\n", f.type.c_str(), f.start, f.end, f.score);
    for (const Finding& f : b)
      std::fprintf(stderr, " re2  %s %zu-%zu %f\n", f.type.c_str(), f.start, f.end, f.score);
    std::abort();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].start >= a[i].end || a[i].end > text.size()) {
      std::fprintf(stderr, "%s: finding %zu out of range\n", what, i);
      std::abort();
    }
    if (i > 0 && a[i - 1].end > a[i].start) {
      std::fprintf(stderr, "%s: findings %zu and %zu overlap or are unsorted\n", what, i - 1, i);
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Detector* fast = new Detector(Engine::kFast);
  static const Detector* re2 = new Detector(Engine::kRe2);
  if (size > 1 << 16) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(text, fast->Scan(text), re2->Scan(text), "text");
  for (Format f : {Format::kCsv, Format::kJsonLines, Format::kAuto}) {
    Check(text, fast->Scan(text, f), re2->Scan(text, f), "format");
  }
  static const std::vector<std::string> kHeader = {"id", "passport_no", "mobile_phone", "email",
                                                   "client_ip"};
  Check(text, fast->ScanCsvRecord(text, kHeader), re2->ScanCsvRecord(text, kHeader), "record");
  return 0;
}
