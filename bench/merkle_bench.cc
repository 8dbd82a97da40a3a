// Merkle proof latency at 1,000,000 entries (SM3), the pure algorithm of
// common/merkle over an in-memory NodeSource (one std::vector of hashes per
// level, filled by merkle::Appender). Storage-backed figures come with the
// RocksDB log.
//
// Two parts in one run:
//  * Google Benchmark cases for mean time per operation;
//  * a latency summary with p50 / p99 / p99.9 / max from individually timed
//    operations (random indexes and sizes, fixed seed), which is what the
//    goal "proof generation p99 <= 1 ms at 1,000,000 entries" is about.
//
//   ./build/bin/merkle_bench                      # both parts
//   ./build/bin/merkle_bench --benchmark_filter=- --samples=200000   # summary only
//
// Not part of the test suite (docs/merkle.md, docs/performance.md).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "beibu/crypto/bytes.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"

namespace beibu {
namespace {

constexpr uint64_t kEntries = 1'000'000;

// The log: every perfect node, level by level.
struct Log {
  std::vector<std::vector<Bytes>> levels;  // levels[0]: the leaf hashes
  double build_seconds = 0;

  merkle::NodeSource Source() const {
    return [this](uint32_t level, uint64_t index) -> absl::StatusOr<Bytes> {
      return levels[level][index];
    };
  }
};

const Log& TheLog() {
  static const Log* log = [] {
    auto* l = new Log;
    const merkle::Hasher& h = merkle::Sm3Hasher();
    merkle::Appender app(h);
    auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < kEntries; ++i) {
      std::string entry = "audit event " + std::to_string(i);
      app.Append(h.HashLeaf(AsBytes(entry)), [l](uint32_t level, uint64_t, ByteView hash) {
        if (l->levels.size() <= level) l->levels.resize(level + 1);
        l->levels[level].emplace_back(hash.begin(), hash.end());
      });
    }
    l->build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return l;
  }();
  return *log;
}

Bytes Root(uint64_t size) {
  return *merkle::RootAt(merkle::Sm3Hasher(), TheLog().Source(), size);
}

void Die(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "merkle_bench: %s: %s\n", what, std::string(s.message()).c_str());
  std::exit(3);
}

// --- Google Benchmark cases ---------------------------------------------------

void BM_BuildFromScratchPerAppend(benchmark::State& state) {
  const merkle::Hasher& h = merkle::Sm3Hasher();
  const Log& log = TheLog();
  for (auto _ : state) {
    merkle::Appender app(h);
    for (uint64_t i = 0; i < 10000; ++i) {
      app.Append(log.levels[0][i], [](uint32_t, uint64_t, ByteView hash) {
        benchmark::DoNotOptimize(hash.data());
      });
    }
  }
  state.SetItemsProcessed(state.iterations() * 10000);
}
BENCHMARK(BM_BuildFromScratchPerAppend)->Unit(benchmark::kMillisecond);

void BM_InclusionProof(benchmark::State& state) {
  const merkle::NodeSource source = TheLog().Source();
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    auto proof = merkle::InclusionProof(merkle::Sm3Hasher(), source, rng() % kEntries, kEntries);
    benchmark::DoNotOptimize(proof);
  }
}
BENCHMARK(BM_InclusionProof)->Unit(benchmark::kMicrosecond);

void BM_VerifyInclusion(benchmark::State& state) {
  const merkle::NodeSource source = TheLog().Source();
  const Bytes root = Root(kEntries);
  std::mt19937_64 rng(2);
  std::vector<std::pair<uint64_t, std::vector<Bytes>>> proofs;
  for (int i = 0; i < 1024; ++i) {
    uint64_t index = rng() % kEntries;
    proofs.emplace_back(index, *merkle::InclusionProof(merkle::Sm3Hasher(), source, index, kEntries));
  }
  size_t k = 0;
  for (auto _ : state) {
    const auto& [index, proof] = proofs[k++ % proofs.size()];
    absl::Status s = merkle::VerifyInclusion(merkle::Sm3Hasher(), index, kEntries,
                                             TheLog().levels[0][index], proof, root);
    if (!s.ok()) Die("verify inclusion", s);
  }
}
BENCHMARK(BM_VerifyInclusion)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProof(benchmark::State& state) {
  const merkle::NodeSource source = TheLog().Source();
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    auto proof =
        merkle::ConsistencyProof(merkle::Sm3Hasher(), source, 1 + rng() % kEntries, kEntries);
    benchmark::DoNotOptimize(proof);
  }
}
BENCHMARK(BM_ConsistencyProof)->Unit(benchmark::kMicrosecond);

void BM_RootAt(benchmark::State& state) {
  const merkle::NodeSource source = TheLog().Source();
  std::mt19937_64 rng(4);
  for (auto _ : state) {
    auto root = merkle::RootAt(merkle::Sm3Hasher(), source, 1 + rng() % kEntries);
    benchmark::DoNotOptimize(root);
  }
}
BENCHMARK(BM_RootAt)->Unit(benchmark::kMicrosecond);

// --- Latency summary ------------------------------------------------------------

struct Percentiles {
  double p50, p99, p999, max, mean;
};

Percentiles Summarize(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  double sum = 0;
  for (double v : us) sum += v;
  return {at(0.50), at(0.99), at(0.999), us.back(), sum / us.size()};
}

void Print(const char* name, std::vector<double>& us) {
  Percentiles p = Summarize(us);
  std::printf("%-46s %9zu %8.2f %8.2f %8.2f %8.2f %9.2f\n", name, us.size(), p.mean, p.p50, p.p99,
              p.p999, p.max);
}

// Times `op(i)` for i in [0, samples), in microseconds.
std::vector<double> Time(size_t samples, const std::function<void(size_t)>& op) {
  std::vector<double> us;
  us.reserve(samples);
  for (size_t i = 0; i < samples; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    op(i);
    auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return us;
}

void LatencySummary(size_t samples) {
  const merkle::Hasher& h = merkle::Sm3Hasher();
  const Log& log = TheLog();
  const merkle::NodeSource source = log.Source();
  const Bytes root = Root(kEntries);
  std::mt19937_64 rng(9162);

  // Inputs drawn up front so the timed region is the operation only.
  std::vector<uint64_t> index(samples), size(samples), index_in(samples), old_size(samples);
  for (size_t i = 0; i < samples; ++i) {
    index[i] = rng() % kEntries;
    size[i] = 1 + rng() % kEntries;
    index_in[i] = rng() % size[i];
    old_size[i] = 1 + rng() % (kEntries - 1);
  }
  std::vector<Bytes> roots(samples);
  for (size_t i = 0; i < samples; ++i) roots[i] = Root(size[i]);
  std::vector<Bytes> old_roots(samples);
  for (size_t i = 0; i < samples; ++i) old_roots[i] = Root(old_size[i]);

  std::printf("\nLatency at %llu entries, SM3, in-memory nodes (microseconds; tree built in %.2f s)\n",
              static_cast<unsigned long long>(kEntries), log.build_seconds);
  std::printf("%-46s %9s %8s %8s %8s %8s %9s\n", "operation", "samples", "mean", "p50", "p99",
              "p99.9", "max");

  std::vector<std::vector<Bytes>> proofs(samples);
  auto us = Time(samples, [&](size_t i) {
    auto p = merkle::InclusionProof(h, source, index[i], kEntries);
    if (!p.ok()) Die("inclusion proof", p.status());
    proofs[i] = *std::move(p);
  });
  Print("inclusion proof, size 1e6", us);
  us = Time(samples, [&](size_t i) {
    absl::Status s = merkle::VerifyInclusion(h, index[i], kEntries, log.levels[0][index[i]], proofs[i],
                                             root);
    if (!s.ok()) Die("verify inclusion", s);
  });
  Print("verify inclusion, size 1e6", us);

  us = Time(samples, [&](size_t i) {
    auto p = merkle::InclusionProof(h, source, index_in[i], size[i]);
    if (!p.ok()) Die("inclusion proof", p.status());
    proofs[i] = *std::move(p);
  });
  Print("inclusion proof, random past size <= 1e6", us);
  us = Time(samples, [&](size_t i) {
    absl::Status s = merkle::VerifyInclusion(h, index_in[i], size[i], log.levels[0][index_in[i]],
                                             proofs[i], roots[i]);
    if (!s.ok()) Die("verify inclusion", s);
  });
  Print("verify inclusion, random past size <= 1e6", us);

  us = Time(samples, [&](size_t i) {
    auto p = merkle::ConsistencyProof(h, source, old_size[i], kEntries);
    if (!p.ok()) Die("consistency proof", p.status());
    proofs[i] = *std::move(p);
  });
  Print("consistency proof, random old size -> 1e6", us);
  us = Time(samples, [&](size_t i) {
    absl::Status s =
        merkle::VerifyConsistency(h, old_size[i], kEntries, old_roots[i], root, proofs[i]);
    if (!s.ok()) Die("verify consistency", s);
  });
  Print("verify consistency, random old size -> 1e6", us);

  us = Time(samples, [&](size_t i) {
    auto r = merkle::RootAt(h, source, size[i]);
    if (!r.ok()) Die("root", r.status());
  });
  Print("root of a random past size <= 1e6", us);

  merkle::Appender app(h, kEntries, [&] {
    merkle::Appender a(h);
    for (uint64_t i = 0; i < kEntries; ++i) a.Append(log.levels[0][i], nullptr);
    return a.Frontier();
  }());
  us = Time(samples, [&](size_t i) {
    app.Append(log.levels[0][i % kEntries], [](uint32_t, uint64_t, ByteView hash) {
      benchmark::DoNotOptimize(hash.data());
    });
  });
  Print("append (hash + completed nodes), from 1e6", us);
}

}  // namespace
}  // namespace beibu

int main(int argc, char** argv) {
  size_t samples = 100000;
  // --samples=N is ours; the rest goes to Google Benchmark.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--samples=", 10) == 0) {
      samples = std::strtoull(argv[i] + 10, nullptr, 10);
      if (samples == 0) {
        std::fprintf(stderr, "merkle_bench: --samples must be a positive integer\n");
        return 2;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  beibu::TheLog();  // build outside any timing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  beibu::LatencySummary(samples);
  return 0;
}
