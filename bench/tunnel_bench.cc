// Unary calls per second through the secure channel on real loopback gRPC
// (TunnelClient -> TunnelService -> in-process inner server -> service)
// against the same service called directly over plain insecure gRPC, in one
// run. The service is beibu.v1.Node/Info (daemon::NodeInfoService), a tiny
// request and a ~100-byte response, so this measures per-call overhead, not
// bulk throughput. Calls are sequential (one outstanding call): latency-bound.
//
//   ./build/bin/tunnel_bench --benchmark_min_time=1
//
// Not part of the test suite (docs/performance.md).
#include <benchmark/benchmark.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "beibu/channel/handshake.h"
#include "beibu/crypto/crypto.h"
#include "beibu/daemon/node_info_service.h"
#include "beibu/daemon/server_host.h"
#include "beibu/pki/authority.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/registry.grpc.pb.h"

namespace beibu {
namespace {

constexpr char kInfoMethod[] = "/beibu.v1.Node/Info";

// TunnelCall::Read waits without a client-side deadline, so a call whose
// answer never comes blocks forever. The watchdog turns that into a clear
// failure: no completed call for kStallSeconds while a benchmark runs ends the
// process with exit code 3.
constexpr int kStallSeconds = 20;
std::atomic<uint64_t> g_progress{0};
std::atomic<bool> g_running{false};
std::atomic<const char*> g_current{""};

void StartWatchdog() {
  std::thread([] {
    uint64_t last = g_progress.load();
    int stalled = 0;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      uint64_t now = g_progress.load();
      stalled = (now != last || !g_running.load()) ? 0 : stalled + 1;
      last = now;
      if (stalled >= kStallSeconds) {
        std::fprintf(stderr,
                     "\ntunnel_bench: %s made no progress for %d s: a call never completed "
                     "(see docs/performance.md, \"Tunnel\"). Aborting.\n",
                     g_current.load(), kStallSeconds);
        std::fflush(stdout);
        _exit(3);
      }
    }
  }).detach();
}

// Marks a benchmark function as running for the watchdog.
struct Running {
  explicit Running(const char* name) {
    g_current = name;
    g_running = true;
  }
  ~Running() { g_running = false; }
};

// A root CA and credentials for the server ("edge-sg") and client ("acme").
struct BenchPki {
  pki::CertificateAuthority ca = pki::CertificateAuthority::CreateRoot(
                                     crypto::Sm2PrivateKey::Generate().value(), "Bench Root", "CN")
                                     .value();

  channel::Credentials Issue(const std::string& id, pki::Role role) const {
    crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::Generate().value();
    pki::Identity ident{.id = id, .role = role, .country = "SG"};
    pki::Certificate cert = ca.Issue(key.PublicKey(), ident).value();
    return channel::Credentials{key, {cert, ca.certificate()}};
  }

  channel::HandshakeConfig Config(channel::Credentials creds,
                                  std::set<pki::Role> peer_roles) const {
    auto bundle = std::make_shared<pki::TrustBundle>();
    if (!bundle->AddRoot(ca.certificate()).ok()) std::abort();
    channel::HandshakeConfig c;
    c.credentials = std::move(creds);
    c.trust = std::move(bundle);
    c.allowed_peer_roles = std::move(peer_roles);
    return c;
  }
};

// Both servers, started once for the whole run.
struct Servers {
  BenchPki pki;
  channel::Credentials server_creds = pki.Issue("edge-sg", pki::Role::kEdge);
  channel::Credentials client_creds = pki.Issue("acme", pki::Role::kEnterprise);
  daemon::NodeInfoService plain_service{
      {.id = "edge-sg", .role = pki::Role::kEdge, .country = "SG"},
      [] { return std::string("bench"); }};
  daemon::NodeInfoService tunnel_service{
      {.id = "edge-sg", .role = pki::Role::kEdge, .country = "SG"},
      [] { return std::string("bench"); }};
  std::unique_ptr<grpc::Server> plain;
  std::string plain_address;
  std::unique_ptr<daemon::ServerHost> host;
  std::string tunnel_address;

  Servers() {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&plain_service);
    plain = b.BuildAndStart();
    if (!plain || port == 0) {
      std::fprintf(stderr, "tunnel_bench: cannot start the plain gRPC server\n");
      std::abort();
    }
    plain_address = "127.0.0.1:" + std::to_string(port);

    auto started = daemon::ServerHost::Start({
        .listen_address = "127.0.0.1:0",
        .handshake = [this] { return pki.Config(server_creds, {pki::Role::kEnterprise}); },
        .services = {&tunnel_service},
    });
    if (!started.ok()) {
      std::fprintf(stderr, "tunnel_bench: %s\n", started.status().ToString().c_str());
      std::abort();
    }
    host = *std::move(started);
    tunnel_address = "127.0.0.1:" + std::to_string(host->port());
  }

  channel::HandshakeConfig ClientConfig() const {
    channel::HandshakeConfig c = pki.Config(client_creds, {pki::Role::kEdge});
    return c;
  }

  static Servers& Get() {
    static Servers* s = new Servers();  // lives until exit; servers shut down with the process
    return *s;
  }
};

void BM_PlainGrpcUnary(benchmark::State& state) {
  Running running("BM_PlainGrpcUnary");
  Servers& s = Servers::Get();
  auto stub =
      v1::Node::NewStub(grpc::CreateChannel(s.plain_address, grpc::InsecureChannelCredentials()));
  v1::NodeInfoRequest req;
  for (auto _ : state) {
    g_progress.fetch_add(1, std::memory_order_relaxed);
    grpc::ClientContext ctx;
    v1::NodeInfoResponse resp;
    grpc::Status st = stub->Info(&ctx, req, &resp);
    if (!st.ok() || resp.node_id() != "edge-sg") {
      state.SkipWithError("plain call failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_PlainGrpcUnary)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_TunnelUnary(benchmark::State& state) {
  Running running("BM_TunnelUnary");
  Servers& s = Servers::Get();
  auto client =
      rpc::TunnelClient::Connect({.address = s.tunnel_address, .handshake = s.ClientConfig()});
  if (!client.ok()) {
    state.SkipWithError(client.status().ToString().c_str());
    return;
  }
  v1::NodeInfoRequest req;
  for (auto _ : state) {
    g_progress.fetch_add(1, std::memory_order_relaxed);
    v1::NodeInfoResponse resp;
    absl::Status st = (*client)->Call(kInfoMethod, req, &resp);
    if (!st.ok() || resp.peer_id() != "acme") {
      std::string why = st.ok() ? "tunnel call answered for peer '" + resp.peer_id() + "'"
                                : "tunnel call failed: " + st.ToString();
      state.SkipWithError(why.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TunnelUnary)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Connect + handshake + first call + close: what a client pays per session.
void BM_TunnelConnect(benchmark::State& state) {
  Running running("BM_TunnelConnect");
  Servers& s = Servers::Get();
  v1::NodeInfoRequest req;
  for (auto _ : state) {
    g_progress.fetch_add(1, std::memory_order_relaxed);
    auto client =
        rpc::TunnelClient::Connect({.address = s.tunnel_address, .handshake = s.ClientConfig()});
    v1::NodeInfoResponse resp;
    absl::Status st = client.ok() ? (*client)->Call(kInfoMethod, req, &resp) : client.status();
    if (!st.ok()) {
      state.SkipWithError(("connect or first call failed: " + st.ToString()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TunnelConnect)->Unit(benchmark::kMillisecond)->UseRealTime();

// Console output plus the tunnel / plain calls-per-second ratio.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(OutputOptions opts) : ConsoleReporter(opts) {}

  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& r : reports) {
      if (r.error_occurred) continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      if (r.run_type == Run::RT_Iteration) {
        runs_[r.run_name.function_name].push_back(it->second.value);
      } else if (r.aggregate_name == "median") {
        medians_[r.run_name.function_name] = it->second.value;
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    double plain = Median("BM_PlainGrpcUnary"), tunnel = Median("BM_TunnelUnary");
    std::ostream& out = GetOutputStream();
    if (plain <= 0 || tunnel <= 0) {
      out << "\n(tunnel/plain ratio not computed: select both BM_PlainGrpcUnary and "
             "BM_TunnelUnary)\n";
      return;
    }
    char line[200];
    std::snprintf(line, sizeof line,
                  "\nUnary calls/s, same run: plain gRPC %.0f, tunnel %.0f, ratio %.1f%%\n", plain,
                  tunnel, 100.0 * tunnel / plain);
    out << line;
    out.flush();
  }

 private:
  double Median(const std::string& key) const {
    if (auto m = medians_.find(key); m != medians_.end()) return m->second;
    auto it = runs_.find(key);
    if (it == runs_.end() || it->second.empty()) return 0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  std::map<std::string, std::vector<double>> runs_;
  std::map<std::string, double> medians_;
};

}  // namespace
}  // namespace beibu

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!getenv("BENCH_VERBOSE"))
    spdlog::set_level(spdlog::level::warn);  // no per-session info lines in the table
  auto opts = isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                    : benchmark::ConsoleReporter::OO_None;
  beibu::RatioReporter reporter(opts);
  beibu::StartWatchdog();
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  // The servers are still running; leave without tearing gRPC down.
  std::fflush(stdout);
  _exit(0);
}
