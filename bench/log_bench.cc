// Durable appends per second of the audit log (audit::LogStore) with many
// concurrent writers, against raw RocksDB synced writes of the same bytes in
// the same run; then proof generation and verification latency at a large
// size. A plain program (not Google Benchmark): the figures are throughput of
// a group of threads and latency percentiles, which it reports directly.
//
//   ./build/bin/log_bench                      # 64 writers, 3 rounds of 5 s, 1M-entry proofs
//   ./build/bin/log_bench --seconds 3 --rounds 1 --proof-entries 0
//   ./build/bin/log_bench --dir /data/bench    # put the databases on the disk you care about
//
// Part 1, durable appends. Each round opens fresh databases in --dir and
// alternates the runs below in slices of --slice seconds (0.5 s) until each
// has run --seconds (5 s), so that changing conditions on the machine (other
// I/O, other processes) weigh on all of them alike. Every write is synced.
//   store       --threads writers call LogStore::Append(256-byte entry) in a
//               loop; each call returns once durable. Group commit merges
//               whatever is queued into one synced WriteBatch (entries, leaf
//               and node hashes, tree state).
//   raw-batch   THE BASELINE: one thread writes the same entries (key =
//               big-endian index, value = 256 bytes) to a plain RocksDB in
//               WriteBatches of B entries with sync=true, B being the mean
//               group size the store achieved so far in that round: raw
//               RocksDB batched writes of the same entry bytes, with no
//               hashing, no queue, no threads to wake. The ratio the goal
//               refers to is store/raw-batch.
//   raw-batch+awake  raw-batch again with SCHED_IDLE spinner threads
//               keeping the CPUs busy (see KeepAwake). On a VM a lone thread
//               waiting for its fdatasync lets the vCPUs halt, and on a
//               loaded host a halted vCPU can take milliseconds to come back
//               for the I/O completion (measured here: a lone writer's batch
//               took 3.8 ms instead of 0.3 ms). The store's 64 threads never
//               leave the CPUs idle, so this is the lone writer's best case,
//               and store/raw-batch+awake the least favourable ratio for the
//               store. (The spinners are not used for the store: on a loaded
//               machine they slow 64 threads down instead.)
//   raw-threads for reference: the same --threads threads each write one
//               entry with sync=true, relying on RocksDB's own write-group
//               commit.
// A synced write costs at least one fdatasync of the WAL, so with W writers
// each waiting for its own entry no design exceeds W / fdatasync latency.
//
// Part 2, proofs (skipped with --proof-entries 0): preloads a log of N
// entries with sync=false in batches of 1000 (a bulk load, NOT durable
// appends; said so in the output), reopens it with full verification (timed),
// then times --proof-samples random inclusion proofs at size N, consistency
// proofs from random old sizes to N, and their verification; p50/p99/max.
//
// Not part of the test suite (docs/audit-log.md, "Performance").
#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "beibu/audit/log_store.h"
#include "beibu/merkle/tree.h"

namespace beibu {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Flags {
  int threads = 64;
  double seconds = 5;  // per run kind per round
  double slice = 0.5;  // runs alternate in slices of this length
  int rounds = 3;
  size_t entry_bytes = 256;
  uint64_t proof_entries = 1000000;
  int proof_samples = 10000;
  std::string dir;
};

[[noreturn]] void Usage() {
  std::fprintf(
      stderr,
      "usage: log_bench [--threads N] [--seconds S] [--slice S] [--rounds R] [--entry-bytes B]\n"
      "                 [--proof-entries N (0 skips)] [--proof-samples K] [--dir PATH]\n");
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--threads")
      f.threads = std::atoi(next().c_str());
    else if (a == "--seconds")
      f.seconds = std::atof(next().c_str());
    else if (a == "--slice")
      f.slice = std::atof(next().c_str());
    else if (a == "--rounds")
      f.rounds = std::atoi(next().c_str());
    else if (a == "--entry-bytes")
      f.entry_bytes = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--proof-entries")
      f.proof_entries = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--proof-samples")
      f.proof_samples = std::atoi(next().c_str());
    else if (a == "--dir")
      f.dir = next();
    else
      Usage();
  }
  if (f.threads < 1 || f.seconds <= 0 || f.slice <= 0 || f.rounds < 1 || f.proof_samples < 1)
    Usage();
  return f;
}

// An audit-event-sized entry, distinct per (thread, sequence).
std::string MakeEntry(size_t bytes, uint64_t thread, uint64_t seq) {
  std::string e(bytes, 'x');
  std::snprintf(e.data(), std::min<size_t>(bytes, 48), "{\"who\":\"t%llu\",\"seq\":%llu,",
                static_cast<unsigned long long>(thread), static_cast<unsigned long long>(seq));
  e[std::min<size_t>(bytes, 48) - 1] = ' ';
  return e;
}

std::string Be64(uint64_t v) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(v >> (56 - 8 * i));
  return k;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "log_bench: %s\n", what.c_str());
  std::exit(1);
}

// fdatasync latency of 4 KiB appends to a preallocated file in `dir`.
double FsyncMillis(const std::string& dir) {
  std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) Die("cannot create " + path);
  if (posix_fallocate(fd, 0, 4 << 20) != 0) Die("fallocate failed");
  fsync(fd);
  std::string block(4096, 'f');
  constexpr int kN = 200;
  auto t0 = Clock::now();
  for (int i = 0; i < kN; ++i) {
    if (pwrite(fd, block.data(), block.size(), off_t(i) * 4096) != 4096) Die("pwrite failed");
    fdatasync(fd);
  }
  double ms = Seconds(Clock::now() - t0) * 1000 / kN;
  ::close(fd);
  ::unlink(path.c_str());
  return ms;
}

// One SCHED_IDLE busy loop per CPU while it lives. They only get CPU time
// nobody else wants, but they keep the virtual CPUs from halting: on a
// loaded VM host a halted vCPU can take milliseconds to come back for an I/O
// completion, which made a lone thread's synced writes up to 10x slower than
// the same writes made while other threads kept the CPUs busy (measured:
// 3.8 ms vs 0.3 ms per batch). Used for the "+awake" runs.
class KeepAwake {
 public:
  explicit KeepAwake(bool on) {
    if (!on) return;
    unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) {
      spinners_.emplace_back([this] {
        sched_param p{};
        p.sched_priority = 0;
        if (sched_setscheduler(0, SCHED_IDLE, &p) != 0) return;  // this thread only
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
    }
  }
  ~KeepAwake() {
    stop_ = true;
    for (auto& t : spinners_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> spinners_;
};

struct RunResult {
  uint64_t ops = 0;
  double seconds = 0;
  double batches = 0;  // synced writes (store and raw-batch)
  double rate() const { return ops / seconds; }
  void Add(const RunResult& o) {
    ops += o.ops;
    seconds += o.seconds;
    batches += o.batches;
  }
};

// Runs `body(thread)` on `threads` threads for `seconds`; body returns false to stop early.
template <typename Body>
RunResult RunThreads(int threads, double seconds, Body body) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::vector<std::thread> pool;
  auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        body(t);
        ++n;
      }
      ops += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  RunResult r;
  r.seconds = Seconds(Clock::now() - t0);
  r.ops = ops.load();
  return r;
}

RunResult RunStore(const Flags& f, audit::LogStore& store, double seconds) {
  std::vector<uint64_t> seq(f.threads, 0);
  uint64_t batches_before = store.stats().batches;
  uint64_t size_before = store.size();
  RunResult r = RunThreads(f.threads, seconds, [&](int t) {
    std::string e = MakeEntry(f.entry_bytes, t, seq[t]++);
    auto idx = store.Append(AsBytes(e));
    if (!idx.ok()) Die(std::string(idx.status().message()));
  });
  r.batches = static_cast<double>(store.stats().batches - batches_before);
  if (store.size() - size_before != r.ops) Die("store size disagrees with acknowledged appends");
  return r;
}

std::unique_ptr<rocksdb::DB> OpenRaw(const std::string& path) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.keep_log_file_num = 3;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, path, &raw);
  if (!s.ok()) Die(s.ToString());
  return std::unique_ptr<rocksdb::DB>(raw);
}

RunResult RunRawBatch(const Flags& f, rocksdb::DB& db, uint64_t& index, size_t batch,
                      double seconds) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RunResult r;
  auto t0 = Clock::now();
  auto end =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  uint64_t first = index;
  while (Clock::now() < end) {
    rocksdb::WriteBatch wb;
    for (size_t i = 0; i < batch; ++i, ++index) {
      std::string e = MakeEntry(f.entry_bytes, index % f.threads, index / f.threads);
      wb.Put(Be64(index), e);
    }
    rocksdb::Status s = db.Write(wo, &wb);
    if (!s.ok()) Die(s.ToString());
    r.batches += 1;
  }
  r.seconds = Seconds(Clock::now() - t0);
  r.ops = index - first;
  return r;
}

RunResult RunRawThreads(const Flags& f, rocksdb::DB& db, std::atomic<uint64_t>& next,
                        double seconds) {
  std::vector<uint64_t> seq(f.threads, 0);
  return RunThreads(f.threads, seconds, [&](int t) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    std::string e = MakeEntry(f.entry_bytes, t, seq[t]++);
    rocksdb::WriteBatch wb;
    wb.Put(Be64(next.fetch_add(1)), e);
    rocksdb::Status s = db.Write(wo, &wb);
    if (!s.ok()) Die(s.ToString());
  });
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Percentiles {
  double p50, p99, max;
};

Percentiles Summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, size_t(q * us.size()))]; };
  return {at(0.50), at(0.99), us.back()};
}

void ProofPart(const Flags& f, const std::string& base) {
  const uint64_t n = f.proof_entries;
  std::string path = base + "/proofs";
  std::printf("\nProofs at %llu entries of %zu bytes\n", static_cast<unsigned long long>(n),
              f.entry_bytes);
  {
    audit::OpenOptions o;
    o.sync = false;  // bulk preload only; the appends measured above are all synced
    auto store = audit::LogStore::Open(path, o);
    if (!store.ok()) Die(std::string(store.status().message()));
    auto t0 = Clock::now();
    constexpr uint64_t kBatch = 1000;
    std::vector<std::string> texts(kBatch);
    std::vector<ByteView> views(kBatch);
    for (uint64_t i = 0; i < n; i += kBatch) {
      uint64_t k = std::min(kBatch, n - i);
      for (uint64_t j = 0; j < k; ++j) {
        texts[j] = MakeEntry(f.entry_bytes, (i + j) % 64, (i + j) / 64);
        views[j] = AsBytes(texts[j]);
      }
      auto first = (*store)->AppendBatch(std::span(views).first(k));
      if (!first.ok()) Die(std::string(first.status().message()));
    }
    std::printf("  preload (sync=false, batches of 1000, NOT durable appends): %.1f s\n",
                Seconds(Clock::now() - t0));
  }
  auto t0 = Clock::now();
  auto opened = audit::LogStore::Open(path);  // verify_on_open = true
  if (!opened.ok()) Die(std::string(opened.status().message()));
  std::printf("  reopen with full verification (every leaf, node and the root): %.2f s\n",
              Seconds(Clock::now() - t0));
  auto store = std::move(*opened);
  const merkle::Hasher& h = store->hasher();
  audit::TreeHead head = store->Head();
  std::mt19937_64 rng(42);

  // Warm-up pass over a few proofs, then the measured ones.
  for (int i = 0; i < 200; ++i) (void)store->InclusionProof(rng() % n, n);

  std::vector<double> inc_gen, inc_ver, con_gen, con_ver, root_past;
  uint64_t reads_before = store->stats().node_reads;
  for (int i = 0; i < f.proof_samples; ++i) {
    uint64_t m = rng() % n;
    auto a = Clock::now();
    auto proof = store->InclusionProof(m, n);
    auto b = Clock::now();
    if (!proof.ok()) Die(std::string(proof.status().message()));
    auto leaf = store->LeafHash(m);
    auto c = Clock::now();
    absl::Status v = merkle::VerifyInclusion(h, m, n, *leaf, *proof, head.root);
    auto d = Clock::now();
    if (!v.ok()) Die(std::string(v.message()));
    inc_gen.push_back(Seconds(b - a) * 1e6);
    inc_ver.push_back(Seconds(d - c) * 1e6);
  }
  double inc_reads = double(store->stats().node_reads - reads_before) / f.proof_samples;
  reads_before = store->stats().node_reads;
  std::vector<std::pair<uint64_t, Bytes>> olds;
  for (int i = 0; i < f.proof_samples; ++i) {
    uint64_t m = 1 + rng() % n;
    auto a = Clock::now();
    auto root = store->Root(m);
    auto b = Clock::now();
    if (!root.ok()) Die(std::string(root.status().message()));
    root_past.push_back(Seconds(b - a) * 1e6);
    olds.emplace_back(m, std::move(*root));
  }
  double root_reads = double(store->stats().node_reads - reads_before) / f.proof_samples;
  reads_before = store->stats().node_reads;
  for (auto& [m, old_root] : olds) {
    auto a = Clock::now();
    auto proof = store->ConsistencyProof(m, n);
    auto b = Clock::now();
    if (!proof.ok()) Die(std::string(proof.status().message()));
    absl::Status v = merkle::VerifyConsistency(h, m, n, old_root, head.root, *proof);
    auto c = Clock::now();
    if (!v.ok()) Die(std::string(v.message()));
    con_gen.push_back(Seconds(b - a) * 1e6);
    con_ver.push_back(Seconds(c - b) * 1e6);
  }
  double con_reads = double(store->stats().node_reads - reads_before) / f.proof_samples;
  auto line = [](const char* what, const std::vector<double>& us, double reads) {
    Percentiles p = Summarize(us);
    std::printf("  %-34s p50 %7.1f us  p99 %7.1f us  max %8.1f us", what, p.p50, p.p99, p.max);
    if (reads >= 0) std::printf("  (%.1f node reads)", reads);
    std::printf("\n");
  };
  std::printf("  %d samples each, warm caches:\n", f.proof_samples);
  line("inclusion proof generation", inc_gen, inc_reads);
  line("inclusion proof verification", inc_ver, -1);
  line("root of a random past size", root_past, root_reads);
  line("consistency proof generation", con_gen, con_reads);
  line("consistency proof verification", con_ver, -1);
  Percentiles g = Summarize(inc_gen), c = Summarize(con_gen);
  std::printf("  goal p99 <= 1 ms for generation: %s\n",
              g.p99 <= 1000 && c.p99 <= 1000 ? "met" : "NOT met");
}

int Main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  std::string base = f.dir.empty() ? (std::filesystem::temp_directory_path() /
                                      ("beibu-log-bench-" + std::to_string(getpid())))
                                         .string()
                                   : f.dir + "/beibu-log-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(base);
  double fsync_ms = FsyncMillis(base), fsync_awake_ms;
  {
    KeepAwake awake(true);
    fsync_awake_ms = FsyncMillis(base);
  }
  std::printf("log_bench: %d writers, %zu-byte entries, %d round(s) of %.1f s, data in %s\n",
              f.threads, f.entry_bytes, f.rounds, f.seconds, base.c_str());
  {
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) > 0) std::printf("load average at the start: %.2f\n", load[0]);
  }
  std::printf(
      "fdatasync of a 4 KiB append to a preallocated file: %.2f ms (%.2f ms with CPUs kept "
      "awake)\n  -> at most %.0f durable appends/s for %d writers waiting one entry each\n\n",
      fsync_ms, fsync_awake_ms, f.threads * 1000.0 / std::min(fsync_ms, fsync_awake_ms), f.threads);
  std::printf("%-6s %-16s %12s %10s %10s\n", "round", "run", "appends/s", "ops", "per sync");
  std::vector<double> store_rates, batch_rates, awake_rates, thread_rates, ratios, ratios_awake;
  for (int round = 0; round < f.rounds; ++round) {
    std::string d = base + "/r" + std::to_string(round);
    const std::vector<std::string> dirs = {d + "-store", d + "-raw-batch", d + "-raw-awake",
                                           d + "-raw-threads"};
    RunResult s, b, ba, t;
    {
      auto opened = audit::LogStore::Open(dirs[0]);
      if (!opened.ok()) Die(std::string(opened.status().message()));
      auto store = std::move(*opened);
      auto raw_batch = OpenRaw(dirs[1]);
      auto raw_awake = OpenRaw(dirs[2]);
      auto raw_threads = OpenRaw(dirs[3]);
      uint64_t batch_index = 0, awake_index = 0;
      std::atomic<uint64_t> thread_index{0};
      int slices = std::max(1, static_cast<int>(f.seconds / f.slice + 0.5));
      for (int k = 0; k < slices; ++k) {
        s.Add(RunStore(f, *store, f.slice));
        size_t group = std::max<size_t>(1, size_t(s.ops / std::max(1.0, s.batches) + 0.5));
        b.Add(RunRawBatch(f, *raw_batch, batch_index, group, f.slice));
        {
          KeepAwake awake(true);
          ba.Add(RunRawBatch(f, *raw_awake, awake_index, group, f.slice));
        }
        t.Add(RunRawThreads(f, *raw_threads, thread_index, f.slice));
      }
      raw_batch->Close().PermitUncheckedError();
      raw_awake->Close().PermitUncheckedError();
      raw_threads->Close().PermitUncheckedError();
    }
    auto row = [&](const char* name, const RunResult& r, bool batches) {
      std::printf("%-6d %-16s %12.0f %10llu", round, name, r.rate(),
                  static_cast<unsigned long long>(r.ops));
      if (batches) std::printf(" %10.1f", r.ops / std::max(1.0, r.batches));
      std::printf("\n");
    };
    row("store", s, true);
    row("raw-batch", b, true);
    row("raw-batch+awake", ba, true);
    row("raw-threads", t, false);
    store_rates.push_back(s.rate());
    batch_rates.push_back(b.rate());
    awake_rates.push_back(ba.rate());
    thread_rates.push_back(t.rate());
    ratios.push_back(s.rate() / b.rate());
    ratios_awake.push_back(s.rate() / ba.rate());
    for (const auto& dir : dirs) std::filesystem::remove_all(dir);
  }
  double sr = Median(store_rates), r = Median(ratios), ra = Median(ratios_awake);
  std::printf("\nDurable appends, median over %d round(s):\n", f.rounds);
  std::printf("  store %.0f/s   raw-batch %.0f/s   raw-batch+awake %.0f/s   raw-threads %.0f/s\n",
              sr, Median(batch_rates), Median(awake_rates), Median(thread_rates));
  std::printf("  ratio store/raw-batch %.2f (goal >= 0.5: %s)\n", r, r >= 0.5 ? "met" : "NOT met");
  std::printf("  ratio store/raw-batch+awake %.2f (least favourable)   store/raw-threads %.2f\n",
              ra, sr / Median(thread_rates));
  std::printf("  goal >= 50000 appends/s: %s\n", sr >= 50000 ? "met" : "NOT met");
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) std::printf("  load average at the end: %.2f\n", load[0]);
  std::printf("  fdatasync probe after the runs: %.2f ms\n", FsyncMillis(base));

  if (f.proof_entries > 0) ProofPart(f, base);
  std::filesystem::remove_all(base);
  return 0;
}

}  // namespace
}  // namespace beibu

int main(int argc, char** argv) { return beibu::Main(argc, argv); }
