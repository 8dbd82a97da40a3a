// Identifier scanning throughput (issue 4) on two ~100 MB mixed corpora: CSV
// blocks, JSON lines and free text in six languages, with valid identifiers
// of every type and decoys (tests/support/policy_corpus.h, fixed seed):
//  * "dense": every record carries identifiers (~3.4 each), the worst case;
//  * "typical": 20% of records carry identifiers, the rest are business
//    records (logistics events, amounts, HS codes, order ids, notes).
//
// In one run, for each corpus, each case one pass over the whole corpus:
//  * Baseline/Re2Alternation: one RE2 alternation of the candidate patterns,
//    RE2::FindAndConsume-style loop (RE2::Match from the last end) over the
//    whole text, counting matches, no validation;
//  * Baseline/Re2SetPerLine: RE2::Set of the same patterns, one Match per line;
//  * Detector/Scan: Detector (default engine) per record, in its format;
//  * Detector/ScanClassify: the same plus PI/SPI flags from the finding types;
//  * Detector/ScanRe2Engine: Engine::kRe2 per record;
//  * Detector/ScanWholeDocument: one kFast Scan call (kText) on the whole text.
// bytes_per_second is Google Benchmark's (corpus bytes over the pass's CPU
// time); MB_per_cpu_s is the same from process CPU time measured here, and
// "x_baseline" is that rate divided by Re2Alternation's rate on the same
// corpus in the same run (each corpus's baseline is registered first).
// "findings" of the per-record Detector cases can be compared with the
// corpus's labelled identifiers printed at start. Cases are named
// Dense/<case> and Typical/<case>; the whole run takes ~20-30 s at 100 MB.
//
//   ./build/bin/scan_bench                    # 2 x ~100 MB, all cases
//   BEIBU_SCAN_BENCH_MB=20 ./build/bin/scan_bench
//   ./build/bin/scan_bench --benchmark_filter=Typical/
//
// Not part of the test suite (docs/performance.md).
#include <benchmark/benchmark.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "beibu/policy/detector.h"
#include "policy_corpus.h"

namespace {

using beibu::policy::Detector;
using beibu::policy::Engine;
using beibu::policy::Finding;
using beibu::policy::Format;
using beibu::policy::corpus::Corpus;

// BASELINE: the candidate patterns of detector.cc's RE2 table (as of issue 4),
// copied so the baseline measures raw RE2 candidate scanning without any of
// the detector's validation, context or overlap work.
const std::vector<std::string>& CandidatePatterns() {
  static const auto* k = new std::vector<std::string>{
      R"(\d{17}[\dXx])",                                         // CN_RESIDENT_ID
      R"([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})",   // CN_USCC
      R"([STFGM]\d{7}[A-Z])",                                    // SG_NRIC_FIN
      R"(\d{13}|\d-\d{4}-\d{5}-\d{2}-\d)",                       // TH_NATIONAL_ID
      R"(\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{16,19})",     // BANK_CARD
      R"((?:\+86[ -]?)?1[3-9]\d{9})",                            // CN_MOBILE
      R"(\d{6}-\d{2}-\d{4}|\d{12})",                             // MY_MYKAD
      R"(\d{12})",                                               // VN_CCCD
      R"(\d{16})",                                               // ID_NIK
      R"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)",  // EMAIL
      R"(\d{1,3}(?:\.\d{1,3}){3}|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|)"
      R"((?:[0-9A-Fa-f]{1,4}:){0,6}:?(?::[0-9A-Fa-f]{1,4}){1,7}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|::)",
      R"([A-Z]{1,2}\d{6,8})",  // PASSPORT
  };
  return *k;
}

RE2::Options Opts() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(256 << 20);
  return o;
}

enum CorpusKind { kDense = 0, kTypical = 1 };

Corpus MakeCorpus(CorpusKind kind) {
  size_t mb = 100;
  if (const char* env = std::getenv("BEIBU_SCAN_BENCH_MB")) mb = std::strtoul(env, nullptr, 10);
  beibu::policy::corpus::CorpusOptions o;
  o.seed = 4;
  o.records = 1;
  o.min_bytes = mb << 20;
  if (kind == kTypical) o.identifier_record_fraction = 0.2;
  const auto t0 = std::chrono::steady_clock::now();
  Corpus corpus = beibu::policy::corpus::GenerateMixed(o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t labels = 0;
  for (const auto& r : corpus.records) labels += r.labels.size();
  std::fprintf(stderr, "corpus %s: %zu bytes, %zu records, %zu labelled identifiers (%.1f s)\n",
               kind == kDense ? "dense" : "typical", corpus.text.size(), corpus.records.size(),
               labels, s);
  return corpus;
}

const Corpus* const* Corpora() {
  static const Corpus* c[2] = {new Corpus(MakeCorpus(kDense)), new Corpus(MakeCorpus(kTypical))};
  return c;
}

const Corpus& TheCorpus(CorpusKind kind) { return *Corpora()[kind]; }

double g_baseline_bps[2] = {0, 0};  // set by each corpus's baseline case

void Report(benchmark::State& state, CorpusKind k, double seconds, bool is_baseline = false) {
  const Corpus& corpus = TheCorpus(k);
  const double bytes = static_cast<double>(corpus.text.size());
  state.SetBytesProcessed(static_cast<int64_t>(corpus.text.size()) * state.iterations());
  const double bps = bytes * static_cast<double>(state.iterations()) / seconds;
  if (is_baseline) g_baseline_bps[k] = bps;
  state.counters["MB_per_cpu_s"] = bps / 1e6;
  if (g_baseline_bps[k] > 0) state.counters["x_baseline"] = bps / g_baseline_bps[k];
}

// Process CPU time: the machine is shared, and every case is single-threaded,
// so CPU seconds compare cases more fairly than wall time.
double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Since(double t0) { return CpuNow() - t0; }

void BM_Baseline_Re2Alternation(benchmark::State& state, CorpusKind kind) {
  std::string alt;
  for (const std::string& p : CandidatePatterns()) alt += (alt.empty() ? "(?:" : "|(?:") + p + ")";
  const RE2 re(alt, Opts());
  if (!re.ok()) {
    state.SkipWithError("baseline pattern does not compile");
    return;
  }
  const std::string& text = TheCorpus(kind).text;
  const re2::StringPiece sp(text.data(), text.size());
  size_t matches = 0;
  const double t0 = CpuNow();
  for (auto _ : state) {
    size_t pos = 0;
    re2::StringPiece m;
    while (pos < text.size() && re.Match(sp, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
      ++matches;
      const size_t end = static_cast<size_t>(m.data() - text.data()) + m.size();
      pos = m.empty() ? end + 1 : end;
    }
  }
  Report(state, kind, Since(t0), /*is_baseline=*/true);
  state.counters["matches"] = static_cast<double>(matches);
}

void BM_Baseline_Re2SetPerLine(benchmark::State& state, CorpusKind kind) {
  RE2::Set set(Opts(), RE2::UNANCHORED);
  for (const std::string& p : CandidatePatterns()) set.Add(p, nullptr);
  if (!set.Compile()) {
    state.SkipWithError("baseline set does not compile");
    return;
  }
  const Corpus& c = TheCorpus(kind);
  size_t hits = 0;
  std::vector<int> v;
  const double t0 = CpuNow();
  for (auto _ : state) {
    for (const auto& r : c.records) {
      v.clear();
      if (set.Match(re2::StringPiece(c.text.data() + r.start, r.end - r.start), &v))
        hits += v.size();
    }
  }
  Report(state, kind, Since(t0));
  state.counters["type_hits"] = static_cast<double>(hits);
}

std::vector<Finding> ScanRecord(const Detector& d, const Corpus& c,
                                const beibu::policy::corpus::Record& r) {
  const std::string_view line = std::string_view(c.text).substr(r.start, r.end - r.start);
  if (r.format == Format::kCsv) return d.ScanCsvRecord(line, c.csv_columns);
  return d.Scan(line, r.format);
}

void ScanAll(benchmark::State& state, CorpusKind kind, Engine engine) {
  const Detector d(engine);
  const Corpus& c = TheCorpus(kind);
  size_t findings = 0;
  const double t0 = CpuNow();
  for (auto _ : state) {
    for (const auto& r : c.records) findings += ScanRecord(d, c, r).size();
  }
  Report(state, kind, Since(t0));
  state.counters["findings"] = static_cast<double>(findings);
}

void BM_Detector_Scan(benchmark::State& state, CorpusKind kind) {
  ScanAll(state, kind, Engine::kFast);
}
void BM_Detector_ScanRe2Engine(benchmark::State& state, CorpusKind kind) {
  ScanAll(state, kind, Engine::kRe2);
}

// Scan + classify: a record is PI if any finding is personal information and
// SPI if any is sensitive (GB/T 35273 style; fixed here, the real mapping
// comes from the policy database).
void BM_Detector_ScanClassify(benchmark::State& state, CorpusKind kind) {
  static const std::set<std::string, std::less<>> kSensitive = {
      "CN_RESIDENT_ID", "BANK_CARD", "SG_NRIC_FIN", "TH_NATIONAL_ID",
      "MY_MYKAD",       "ID_NIK",    "VN_CCCD",     "PASSPORT"};
  const Detector d;
  const Corpus& c = TheCorpus(kind);
  size_t pi = 0, spi = 0;
  const double t0 = CpuNow();
  for (auto _ : state) {
    for (const auto& r : c.records) {
      bool is_pi = false, is_spi = false;
      for (const Finding& f : ScanRecord(d, c, r)) {
        is_pi = is_pi || f.type != "CN_USCC";  // a company code is not personal
        is_spi = is_spi || kSensitive.count(f.type) > 0;
      }
      pi += is_pi;
      spi += is_spi;
    }
  }
  Report(state, kind, Since(t0));
  state.counters["pi_records"] = static_cast<double>(pi);
  state.counters["spi_records"] = static_cast<double>(spi);
}

// The whole corpus in one kText call: no per-call costs at all, and JSON and
// CSV lines are scanned as text (CSV column names then do not count as
// context, so "findings" differs from the per-record cases).
void BM_Detector_ScanWholeDocument(benchmark::State& state, CorpusKind kind) {
  const Detector d;
  const Corpus& c = TheCorpus(kind);
  size_t findings = 0;
  const double t0 = CpuNow();
  for (auto _ : state) findings += d.Scan(c.text).size();
  Report(state, kind, Since(t0));
  state.counters["findings"] = static_cast<double>(findings);
}

// One pass each: the corpora are large enough for stable MB/s, and the whole
// run stays around two minutes. Cases run in registration order: every case
// of the dense corpus (baseline first), then every case of the typical one.
void RegisterAll() {
  for (CorpusKind kind : {kDense, kTypical}) {
    const auto add = [&](const char* name, void (*fn)(benchmark::State&, CorpusKind)) {
      const std::string full = std::string(kind == kDense ? "Dense/" : "Typical/") + name;
      benchmark::RegisterBenchmark(full.c_str(), fn, kind)
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    };
    add("Baseline_Re2Alternation", BM_Baseline_Re2Alternation);
    add("Baseline_Re2SetPerLine", BM_Baseline_Re2SetPerLine);
    add("Detector_Scan", BM_Detector_Scan);
    add("Detector_ScanClassify", BM_Detector_ScanClassify);
    add("Detector_ScanWholeDocument", BM_Detector_ScanWholeDocument);
    add("Detector_ScanRe2Engine", BM_Detector_ScanRe2Engine);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Corpora();  // build both corpora before any timing
  RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
