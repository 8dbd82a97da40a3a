// Route decisions per second (issue 4) on the embedded baseline database
// (BaselineFiles() through LoadDatabase), single thread.
//
//  * Baseline/Lookups: the map lookups every decision needs (category, source
//    and destination jurisdictions), nothing else: the floor a decision
//    cannot go below;
//  * Decide/Mix: a fixed mix of realistic requests (trade data, PI at every CN
//    threshold, ASEAN PI with and without mechanisms, health, FTZ origin, MM);
//  * Decide/GeneralNoPi: the common case, general data without PI;
//  * Decide/ManyRules: CN human genetic data from the Guangxi FTZ (three
//    rules fire, the longest reason).
// items_per_second is decisions (or lookup triples) per second; compare a
// Decide case with Baseline/Lookups from the same run.
//
//   ./build/bin/route_bench
//
// Not part of the test suite (docs/performance.md).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "beibu/policy/database.h"
#include "beibu/policy/route.h"

namespace {

using beibu::policy::Database;
using beibu::policy::Decide;
using beibu::policy::RouteRequest;

const Database& Baseline() {
  static const Database* db = [] {
    absl::StatusOr<Database> loaded = beibu::policy::LoadDatabase(beibu::policy::BaselineFiles());
    if (!loaded.ok()) {
      std::fprintf(stderr, "the embedded baseline does not load: %s\n",
                   std::string(loaded.status().message()).c_str());
      std::exit(1);
    }
    return new Database(*std::move(loaded));
  }();
  return *db;
}

RouteRequest Req(std::string from, std::string to, std::string category, int64_t persons = 0,
                 std::vector<std::string> attested = {}, std::string ftz = "") {
  RouteRequest r;
  r.from = std::move(from);
  r.to = std::move(to);
  r.category = std::move(category);
  r.persons = persons;
  r.attested = std::move(attested);
  r.ftz = std::move(ftz);
  return r;
}

const std::vector<RouteRequest>& Mix() {
  static const auto* mix = [] {
    auto* m = new std::vector<RouteRequest>{
        Req("CN", "VN", "trade.contract"),
        Req("VN", "CN", "trade.customs_declaration"),
        Req("SG", "CN", "logistics.track"),
        Req("CN", "SG", "customer.contact", 50000),
        Req("CN", "MY", "hr.employee", 150000, {"cn-standard-contract"}),
        Req("CN", "TH", "hr.employee", 1200000),
        Req("CN", "SG", "finance.payment", 9000, {"cn-certification"}),
        Req("SG", "CN", "finance.payment", 0, {"asean-mcc"}),
        Req("TH", "CN", "customer.contact", 0, {"consent"}),
        Req("VN", "CN", "hr.employee", 0, {"vn-impact-assessment"}),
        Req("CN", "SG", "health.record", 200),
        Req("MM", "TH", "customer.contact"),
        Req("CN", "SG", "customer.contact", 300000, {}, "gx"),
        Req("CN", "VN", "geo.survey", 0, {"cn-security-assessment"}),
        Req("KH", "TH", "tourism.flow"),
        Req("CN", "SG", "infrastructure.critical"),
    };
    (*m)[0].finding_types = {"EMAIL", "CN_MOBILE"};  // a contract with contact details in it
    return m;
  }();
  return *mix;
}

void BM_Baseline_Lookups(benchmark::State& state) {
  const Database& db = Baseline();
  const std::vector<RouteRequest>& mix = Mix();
  size_t i = 0;
  size_t found = 0;
  for (auto _ : state) {
    const RouteRequest& r = mix[i++ % mix.size()];
    found += db.categories.count(r.category) + db.jurisdictions.count(r.from) +
             db.jurisdictions.count(r.to);
    benchmark::DoNotOptimize(found);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Decide(benchmark::State& state, const std::vector<RouteRequest>* requests) {
  const Database& db = Baseline();
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<beibu::policy::RouteDecision> d =
        Decide(db, (*requests)[i++ % requests->size()]);
    if (!d.ok()) {
      state.SkipWithError(std::string(d.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(d->decision);
  }
  state.SetItemsProcessed(state.iterations());
}

const std::vector<RouteRequest>* One(RouteRequest r) {
  return new std::vector<RouteRequest>{std::move(r)};
}

BENCHMARK(BM_Baseline_Lookups)->Name("Baseline/Lookups");
BENCHMARK_CAPTURE(BM_Decide, Mix, &Mix())->Name("Decide/Mix");
BENCHMARK_CAPTURE(BM_Decide, GeneralNoPi, One(Req("CN", "VN", "trade.contract")))
    ->Name("Decide/GeneralNoPi");
BENCHMARK_CAPTURE(BM_Decide, ManyRules, One(Req("CN", "SG", "genomics.human", 20000, {}, "gx")))
    ->Name("Decide/ManyRules");

}  // namespace

BENCHMARK_MAIN();
