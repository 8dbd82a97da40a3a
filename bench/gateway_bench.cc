// Cost per request of the gateway's checks on the accept path
// (docs/gateway.md §1), as EdgeGateway makes them: BreakerBoard::Admit +
// Finish, RateLimiter::Admit, AnomalyDetector::Observe, and all three, each
// with the real clock (as the edge calls them) and with 1, 100 and 10,000
// distinct enterprises taking turns. BM_Baseline does nothing but build the
// Observation each of the others builds too, so "check / baseline" is the
// gateway's price. Limits and detector thresholds are set so that nothing is
// refused and nothing alarms: this is the cost of the common path.
// BM_BreakerAdmitFinishOneOpen has one unrelated breaker open (the board's
// slow path: lock and three lookups). The combined path also runs on 2
// threads sharing one gateway.
//
//   build/bin/gateway_bench [--benchmark_min_time=0.1]
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "beibu/gateway/anomaly_detector.h"
#include "beibu/gateway/breaker_board.h"
#include "beibu/gateway/rate_limiter.h"

namespace beibu::gateway {
namespace {

struct World {
  std::vector<std::string> enterprises;
  std::unique_ptr<BreakerBoard> board;
  std::unique_ptr<BreakerBoard> board_one_open;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<AnomalyDetector> detector;
};

// Built before any benchmark runs, so threads share them without races.
std::map<int, World>& Worlds() {
  static std::map<int, World> worlds;
  return worlds;
}

void BuildWorld(int n) {
  World& w = Worlds()[n];
  for (int i = 0; i < n; ++i) w.enterprises.push_back("enterprise-" + std::to_string(i));
  w.board = std::make_unique<BreakerBoard>(BreakerConfig{}, nullptr, std::vector<v1::Breaker>{});
  w.board_one_open =
      std::make_unique<BreakerBoard>(BreakerConfig{}, nullptr, std::vector<v1::Breaker>{});
  (void)w.board_one_open->Trip(Scope::Enterprise("someone-else"), "bench", "operator:bench");
  RateLimitConfig limits;
  limits.classes["default"] = RateClass{1e12, 1e12, 1e15, 1e15};  // never refuses
  w.limiter = std::make_unique<RateLimiter>(limits);
  DetectorConfig detectors;
  detectors.min_requests = 1e18;  // computed as usual, never raised
  detectors.min_bytes = 1e18;
  w.detector = std::make_unique<AnomalyDetector>(detectors);
}

Observation Build(const World& w, int64_t i) {
  Observation o;
  o.enterprise = w.enterprises[static_cast<size_t>(i) % w.enterprises.size()];
  o.from_country = "VN";
  o.to_country = "CN";
  o.recipient = "cn-buyer";
  o.category = "logistics";
  o.bytes = 4096;
  return o;
}

int64_t Start(const benchmark::State& state) { return int64_t{state.thread_index()} * 7919; }

void BM_Baseline(benchmark::State& state) {
  const World& w = Worlds().at(static_cast<int>(state.range(0)));
  int64_t i = Start(state);
  for (auto _ : state) {
    Observation o = Build(w, i++);
    benchmark::DoNotOptimize(o);
  }
}

void BM_BreakerAdmitFinish(benchmark::State& state) {
  World& w = Worlds().at(static_cast<int>(state.range(0)));
  int64_t i = Start(state);
  for (auto _ : state) {
    Observation o = Build(w, i++);
    auto a = w.board->Admit(o.enterprise, o.from_country, o.to_country);
    w.board->Finish(*a);
    benchmark::DoNotOptimize(o);
  }
}

void BM_BreakerAdmitFinishOneOpen(benchmark::State& state) {
  World& w = Worlds().at(static_cast<int>(state.range(0)));
  int64_t i = Start(state);
  for (auto _ : state) {
    Observation o = Build(w, i++);
    auto a = w.board_one_open->Admit(o.enterprise, o.from_country, o.to_country);
    w.board_one_open->Finish(*a);
    benchmark::DoNotOptimize(o);
  }
}

void BM_RateLimiterAdmit(benchmark::State& state) {
  World& w = Worlds().at(static_cast<int>(state.range(0)));
  int64_t i = Start(state);
  for (auto _ : state) {
    Observation o = Build(w, i++);
    absl::Status s = w.limiter->Admit(o.enterprise, o.bytes);
    benchmark::DoNotOptimize(s);
  }
}

void BM_DetectorObserve(benchmark::State& state) {
  World& w = Worlds().at(static_cast<int>(state.range(0)));
  int64_t i = Start(state);
  for (auto _ : state) {
    Observation o = Build(w, i++);
    std::vector<Alarm> alarms = w.detector->Observe(o);
    benchmark::DoNotOptimize(alarms);
  }
}

// What EdgeGateway does per request: breakers, rate limit, (the decision),
// detectors (tripping on alarms), finish.
void BM_AllThree(benchmark::State& state) {
  World& w = Worlds().at(static_cast<int>(state.range(0)));
  int64_t i = Start(state);
  for (auto _ : state) {
    Observation o = Build(w, i++);
    auto a = w.board->Admit(o.enterprise, o.from_country, o.to_country);
    absl::Status s = w.limiter->Admit(o.enterprise, o.bytes);
    for (const Alarm& alarm : w.detector->Observe(o)) w.board->TripByAlarm(alarm);
    w.board->Finish(*a);
    benchmark::DoNotOptimize(s);
  }
}

BENCHMARK(BM_Baseline)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK(BM_BreakerAdmitFinish)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK(BM_BreakerAdmitFinishOneOpen)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK(BM_RateLimiterAdmit)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK(BM_DetectorObserve)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK(BM_AllThree)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK(BM_Baseline)->Arg(1)->Arg(100)->Arg(10000)->Threads(2)->UseRealTime();
BENCHMARK(BM_AllThree)->Arg(1)->Arg(100)->Arg(10000)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace beibu::gateway

int main(int argc, char** argv) {
  for (int n : {1, 100, 10000}) beibu::gateway::BuildWorld(n);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
