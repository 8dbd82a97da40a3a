// Differential fuzzing of the identifier scanner: kFast and kRe2 must report
// identical findings for every input and format, and findings must be in
// range, sorted and non-overlapping. Any difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beibu/policy/detector.h"

namespace {

using beibu::policy::Detector;
using beibu::policy::Engine;
using beibu::policy::Finding;
using beibu::policy::Format;

void Check(std::string_view text, const std::vector<Finding>& a, const std::vector<Finding>& b,
           const char* what) {
  if (a != b) {
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

// Seeds (BEIBU_FUZZ_SEED_DIR, docs/fuzzing.md): every type valid and glued,
// with separators and context, as text, CSV and JSON lines, so the fuzzer
// starts where the validators and context rules are.
void MaybeWriteSeeds() {
  const char* dir = std::getenv("BEIBU_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  const std::pair<const char*, const char*> seeds[] = {
      {"text",
       "身份证 11010519491231002X, USCC 91350100M000100Y43, card 6222 0212 3456 7890 128, "
       "call +86 138-0013-8000 or +8613800138000, mail a.b@example.com, NRIC S1234567D, "
       "thai 1-1017-00230-70-5, mykad 880101-14-5678, nik 3171234501900001, cccd "
       "001090000123, passport E12345678, ip 192.168.1.10 fe80::1:2, glued X11010519491231002X9, "
       "tel 138 0013 8000, diagnosis E11.9 (ICD-10), 诊断 C50.912\n"},
      {"csv",
       "id,name,passport_no,mobile_phone,email,client_ip,primary_dx\n1,\"Tran, Van\",E12345678,13800138000,"
       "t@example.vn,10.0.0.1,J45\n2,5\" pipe,\"K765\n4321\",+86 139 1234 5678,x@y.com,::1,O09.A1\n"},
      {"jsonl",
       "{\"passport\":\"E1234567\",\"phone\":\"13800138000\",\"card\":\"4111111111111111\"}\n"
       "{\"nested\":{\"passport_no\":\"K7654321\",\"ip\":\"2001:db8::1\"}}\n"},
  };
  for (const auto& [name, text] : seeds) {
    std::FILE* f = std::fopen((std::string(dir) + "/" + name).c_str(), "wb");
    if (f == nullptr) continue;
    std::fputs(text, f);
    std::fclose(f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  MaybeWriteSeeds();
  return 0;
}

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
