// Secure-channel micro-benchmarks: the raw SM4-CTR / HMAC-SM3 primitives, the
// raw encrypt-then-MAC composition a record costs, the record layer itself
// (RecordSealer::Seal + RecordOpener::Open), a full mutually authenticated
// handshake, and SM2 sign/verify for reference.
//
// Everything runs in one binary so the ratio channel / raw composition comes
// from one run on one machine state. After the run a summary prints
//   ChannelSealOpen / RawSm4CtrPlusHmacSm3 throughput at 1 KiB and 64 KiB
// (medians over repetitions when --benchmark_repetitions is given).
//
//   ./build/bin/channel_bench --benchmark_min_time=0.5 --benchmark_repetitions=3
//
// Not part of the test suite (docs/performance.md).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "beibu/channel/handshake.h"
#include "beibu/channel/record.h"
#include "beibu/crypto/crypto.h"
#include "beibu/pki/authority.h"

namespace beibu {
namespace {

using channel::kRecordHeaderSize;

constexpr size_t kTagSize = crypto::kSm3Size;

// The per-record counter block the record layer uses: IV with the sequence
// XORed into bytes 4..11, then a 32-bit block counter from 0.
void MakeCounterBlock(const Bytes& iv, uint64_t seq, uint8_t out[16]) {
  std::memset(out, 0, 16);
  std::memcpy(out, iv.data(), 12);
  for (int i = 0; i < 8; ++i) out[4 + i] ^= static_cast<uint8_t>(seq >> (56 - 8 * i));
}

void PutHeader(uint8_t* h, uint64_t seq, uint32_t len) {
  h[0] = channel::kRecordVersion;
  h[1] = static_cast<uint8_t>(channel::RecordType::kData);
  h[2] = h[3] = 0;
  for (int i = 0; i < 8; ++i) h[4 + i] = static_cast<uint8_t>(seq >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) h[12 + i] = static_cast<uint8_t>(len >> (24 - 8 * i));
}

void SetThroughput(benchmark::State& state, size_t bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes_per_iteration));
}

// --- raw primitives -----------------------------------------------------------

void BM_RawSm4Ctr(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  crypto::Sm4Ctr ctr = crypto::Sm4Ctr::Create(crypto::RandomBytes(16)).value();
  Bytes iv = crypto::RandomBytes(12);
  Bytes in = crypto::RandomBytes(n);
  Bytes out(n);
  uint8_t cb[16];
  uint64_t seq = 0;
  for (auto _ : state) {
    MakeCounterBlock(iv, seq++, cb);
    if (!ctr.Apply(ByteView(cb, 16), in, out).ok()) {
      state.SkipWithError("SM4-CTR failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetThroughput(state, n);
}
BENCHMARK(BM_RawSm4Ctr)->Arg(1024)->Arg(65536);

void BM_RawHmacSm3(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  crypto::HmacSm3 mac(crypto::RandomBytes(32));
  Bytes in = crypto::RandomBytes(n);
  for (auto _ : state) {
    crypto::Sm3Digest d = mac.Update(in).Final();
    benchmark::DoNotOptimize(d);
  }
  SetThroughput(state, n);
}
BENCHMARK(BM_RawHmacSm3)->Arg(1024)->Arg(65536);

// The baseline: exactly the cryptographic work of one seal + one open, on
// preallocated buffers with no framing code. Sender: CTR-encrypt the payload
// into the record, HMAC header + ciphertext, append the tag. Receiver: HMAC
// header + ciphertext, compare with the tag, CTR-decrypt into the output.
// Separate contexts per side, as a sealer and an opener have.
void BM_RawSm4CtrPlusHmacSm3(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Bytes key = crypto::RandomBytes(16);
  Bytes mac_key = crypto::RandomBytes(32);
  Bytes iv = crypto::RandomBytes(12);
  crypto::Sm4Ctr enc = crypto::Sm4Ctr::Create(key).value();
  crypto::Sm4Ctr dec = crypto::Sm4Ctr::Create(key).value();
  crypto::HmacSm3 seal_mac(mac_key);
  crypto::HmacSm3 open_mac(mac_key);
  Bytes payload = crypto::RandomBytes(n);
  Bytes record(kRecordHeaderSize + n + kTagSize);
  Bytes out(n);
  std::span<uint8_t> body(record.data() + kRecordHeaderSize, n);
  ByteView authenticated(record.data(), kRecordHeaderSize + n);
  ByteView tag(record.data() + kRecordHeaderSize + n, kTagSize);
  uint8_t cb[16];
  uint64_t seq = 0;
  for (auto _ : state) {
    // Seal.
    PutHeader(record.data(), seq, static_cast<uint32_t>(n));
    MakeCounterBlock(iv, seq, cb);
    bool ok = enc.Apply(ByteView(cb, 16), payload, body).ok();
    crypto::Sm3Digest t = seal_mac.Update(authenticated).Final();
    std::memcpy(record.data() + kRecordHeaderSize + n, t.data(), kTagSize);
    // Open.
    crypto::Sm3Digest check = open_mac.Update(authenticated).Final();
    ok = ok && crypto::ConstantTimeEquals(check, tag);
    MakeCounterBlock(iv, seq, cb);
    ok = ok && dec.Apply(ByteView(cb, 16), body, out).ok();
    if (!ok) {
      state.SkipWithError("raw composition failed");
      break;
    }
    ++seq;
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  if (state.error_occurred()) return;
  if (out != payload) state.SkipWithError("raw composition did not round-trip");
  SetThroughput(state, n);
}
BENCHMARK(BM_RawSm4CtrPlusHmacSm3)->Arg(1024)->Arg(65536);

// --- record layer -------------------------------------------------------------

// One sealer and its matching opener (same traffic secret), reused across
// iterations: every Seal is opened in order, so every Open succeeds. The
// limits are far beyond any run, and only a kKeyUpdate record re-keys anyway,
// so no key update happens during the benchmark.
void BM_ChannelSealOpen(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Bytes secret = crypto::RandomBytes(32);
  channel::KeyUpdateLimits limits{.max_records = UINT64_MAX, .max_bytes = UINT64_MAX};
  channel::RecordSealer sealer =
      channel::RecordSealer::Create(v1::SM4_CTR_HMAC_SM3, secret, limits).value();
  channel::RecordOpener opener =
      channel::RecordOpener::Create(v1::SM4_CTR_HMAC_SM3, secret).value();
  Bytes payload = crypto::RandomBytes(n);
  for (auto _ : state) {
    absl::StatusOr<Bytes> record = sealer.Seal(channel::RecordType::kData, payload);
    if (!record.ok()) {
      state.SkipWithError("Seal failed");
      break;
    }
    absl::StatusOr<channel::OpenedRecord> opened = opener.Open(*record);
    if (!opened.ok() || opened->payload.size() != n) {
      state.SkipWithError("Open failed");
      break;
    }
    benchmark::DoNotOptimize(opened->payload.data());
    benchmark::ClobberMemory();
  }
  if (state.error_occurred()) return;
  if (sealer.epoch() != 0 || opener.epoch() != 0) {
    state.SkipWithError("unexpected key update during the benchmark");
    return;
  }
  state.counters["records"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  SetThroughput(state, n);
}
BENCHMARK(BM_ChannelSealOpen)->Arg(1024)->Arg(65536);

// --- handshake ----------------------------------------------------------------

// A root CA, a hub and an edge credential, as tests/unit/channel/pki_fixture.h
// builds them (without gtest).
struct BenchPki {
  pki::CertificateAuthority ca = pki::CertificateAuthority::CreateRoot(
                                     crypto::Sm2PrivateKey::Generate().value(), "Bench Root", "CN")
                                     .value();

  channel::Credentials Issue(const std::string& id, pki::Role role,
                             const std::string& country) const {
    crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::Generate().value();
    pki::Identity ident{.id = id, .role = role, .country = country};
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
    c.suites = {v1::SM4_CTR_HMAC_SM3};
    return c;
  }
};

// Client start, server accept, client finish, server finish: both chains
// checked, two SM2 signatures made and checked, ECDH on both sides.
void BM_HandshakeFull(benchmark::State& state) {
  BenchPki pki;
  const channel::HandshakeConfig client_cfg =
      pki.Config(pki.Issue("edge-vn", pki::Role::kEdge, "VN"), {pki::Role::kHub});
  const channel::HandshakeConfig server_cfg =
      pki.Config(pki.Issue("hub", pki::Role::kHub, "CN"), {pki::Role::kEdge});
  for (auto _ : state) {
    absl::StatusOr<channel::ClientHandshake> client = channel::ClientHandshake::Start(client_cfg);
    if (!client.ok()) {
      state.SkipWithError("client start failed");
      break;
    }
    absl::StatusOr<channel::ServerHandshake> server =
        channel::ServerHandshake::Accept(server_cfg, client->client_hello());
    if (!server.ok()) {
      state.SkipWithError("server accept failed");
      break;
    }
    auto finished = client->Finish(server->server_flight());
    if (!finished.ok()) {
      state.SkipWithError("client finish failed");
      break;
    }
    absl::StatusOr<channel::Session> session = server->Finish(finished->first);
    if (!session.ok() || !session->peer || session->peer->id != "edge-vn") {
      state.SkipWithError("server finish failed");
      break;
    }
    benchmark::DoNotOptimize(session->id_hex.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_HandshakeFull)->Unit(benchmark::kMillisecond);

// --- SM2 reference ------------------------------------------------------------

void BM_Sm2Sign(benchmark::State& state) {
  crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::Generate().value();
  Bytes msg = crypto::RandomBytes(32);
  for (auto _ : state) {
    absl::StatusOr<Bytes> sig = key.Sign(msg);
    if (!sig.ok()) {
      state.SkipWithError("sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Sm2Sign)->Unit(benchmark::kMicrosecond);

void BM_Sm2Verify(benchmark::State& state) {
  crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::Generate().value();
  crypto::Sm2PublicKey pub = key.PublicKey();
  Bytes msg = crypto::RandomBytes(32);
  Bytes sig = key.Sign(msg).value();
  for (auto _ : state) {
    absl::Status s = pub.Verify(msg, sig);
    if (!s.ok()) {
      state.SkipWithError("verify failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Sm2Verify)->Unit(benchmark::kMicrosecond);

// --- reporting ----------------------------------------------------------------

// The console output as usual, plus, at the end, the record layer's
// throughput as a fraction of the raw composition's, per payload size.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(OutputOptions opts) : ConsoleReporter(opts) {}

  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& r : reports) {
      if (r.error_occurred) continue;
      auto it = r.counters.find("bytes_per_second");
      if (it == r.counters.end()) continue;
      std::string key = r.run_name.function_name;
      if (!r.run_name.args.empty()) key += "/" + r.run_name.args;
      // Individual runs, or (with --benchmark_report_aggregates_only) the
      // median aggregate, which is then all there is.
      if (r.run_type == Run::RT_Iteration) {
        bytes_per_second_[key].push_back(it->second.value);
      } else if (r.aggregate_name == "median") {
        median_bytes_per_second_[key] = it->second.value;
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nRecord layer vs raw SM4-CTR + HMAC-SM3, same run"
           " (median over repetitions, if any):\n";
    bool any = false;
    for (const std::string size : {"1024", "65536"}) {
      double channel = Median("BM_ChannelSealOpen/" + size);
      double raw = Median("BM_RawSm4CtrPlusHmacSm3/" + size);
      if (channel <= 0 || raw <= 0) continue;
      any = true;
      double ratio = channel / raw;
      const char* goal = size != "65536" ? ""
                         : ratio >= 0.85 ? "  (goal >= 85%: met)"
                                         : "  (goal >= 85%: NOT met)";
      char line[160];
      std::snprintf(line, sizeof line,
                    "  %-6s channel %8.1f MiB/s  raw %8.1f MiB/s  ratio %5.1f%%%s\n",
                    size == "1024" ? "1 KiB" : "64 KiB", channel / 1048576.0, raw / 1048576.0,
                    100.0 * ratio, goal);
      out << line;
    }
    if (!any)
      out << "  (not computed: select both BM_ChannelSealOpen and BM_RawSm4CtrPlusHmacSm3)\n";
    out.flush();
  }

 private:
  double Median(const std::string& key) const {
    if (auto m = median_bytes_per_second_.find(key); m != median_bytes_per_second_.end()) {
      return m->second;
    }
    auto it = bytes_per_second_.find(key);
    if (it == bytes_per_second_.end() || it->second.empty()) return 0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  std::map<std::string, std::vector<double>> bytes_per_second_;
  std::map<std::string, double> median_bytes_per_second_;
};

}  // namespace
}  // namespace beibu

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (absl::Status s = beibu::crypto::CheckProvider(); !s.ok()) {
    std::fprintf(stderr, "channel_bench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("provider: %s\n", beibu::crypto::ProviderVersion().c_str());
  auto opts = isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                    : benchmark::ConsoleReporter::OO_None;
  beibu::RatioReporter reporter(opts);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
