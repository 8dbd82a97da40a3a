// The gateway's defences end to end (docs/gateway.md) with real daemons on
// loopback: an anomaly alarm trips only the misbehaving enterprise and its
// breaker closes by itself after the cool-down and probes; a hub-wide route
// breaker reaches every edge, survives an edge restart while the hub is down
// and is lifted at the hub; outbound data queued before a trip is held and
// leaves in order on reset; only operators drive breakers. Short intervals
// and cool-downs in the edges' `gateway:` sections keep each test to seconds.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "beibu/v1/exchange.pb.h"
#include "cluster.h"
#include "exchange_client.h"

namespace beibu::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Detectors that react within a second or two, and a short cool-down. Rate
// spikes are kept out of the way (min_requests) so that each test sees only
// the detector it is about.
std::string GatewayYaml(uint32_t distinct_recipients, uint64_t min_bytes) {
  return absl::StrCat(
      "gateway:\n"
      "  enabled: true\n"
      "  detectors:\n"
      "    enabled: true\n"
      "    interval_ms: 200\n"
      "    warmup_intervals: 5\n"
      "    z_threshold: 6\n"
      "    min_requests: 100000\n"
      "    min_bytes: ",
      min_bytes,
      "\n"
      "    distinct_recipients: ",
      distinct_recipients,
      "\n"
      "    scraping_window_ms: 60000\n"
      "  breaker:\n"
      "    cool_down_ms: 1500\n"
      "    probe_budget: 3\n");
}

std::string NewId(const std::string& what) {
  return absl::StrCat("e2e-", what, "-", absl::ToUnixNanos(absl::Now()));
}

// Bytes the scanner finds nothing in (no ASCII): a large payload stays FAST.
std::string OpaquePayload(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>(0x80 | ((i * 2654435761u) >> 13 & 0x7f));
  }
  return s;
}

// Whether `s` is a breaker's refusal naming `scope`.
bool RefusedBy(const absl::Status& s, const std::string& scope) {
  return absl::IsFailedPrecondition(s) && std::string(s.message()).find(scope) != std::string::npos;
}

// Any breaker's refusal (the message names a scope or the breaker).
bool BreakerRefusal(const absl::Status& s) {
  std::string m = absl::AsciiStrToLower(std::string(s.message()));
  return absl::IsFailedPrecondition(s) &&
         (m.find("breaker") != std::string::npos || m.find("route:") != std::string::npos ||
          m.find("enterprise:") != std::string::npos);
}

// One enterprise sending through one edge with the raw Exchange API (exact
// status codes), reconnecting after any error and re-reading the edge's
// address (it changes when the edge restarts).
class Sender {
 public:
  Sender(Cluster& c, std::string edge, fs::path identity)
      : c_(c), edge_(std::move(edge)), identity_(std::move(identity)) {}

  absl::StatusOr<v1::TransferStatus> Send(const std::string& to_country,
                                          const std::string& to_enterprise,
                                          const std::string& payload, const std::string& id = "") {
    if (!client_) {
      if (!c_.WaitForEdgePort(edge_)) return absl::UnavailableError("no port file of " + edge_);
      auto client = ConnectAs(identity_, c_.EdgeAddress(edge_));
      if (!client.ok()) return client.status();
      client_ = *std::move(client);
    }
    v1::SendRequest req;
    *req.mutable_header() =
        Header(id.empty() ? NewId("msg") : id, to_country, to_enterprise, "logistics.track");
    req.mutable_header()->set_content_type(payload.size() > 1024 ? "application/octet-stream"
                                                                 : "text/plain");
    req.set_payload(payload);
    v1::TransferStatus resp;
    absl::Status st = client_->Call("/beibu.v1.Exchange/Send", req, &resp);
    if (!st.ok()) {
      client_.reset();
      return st;
    }
    return resp;
  }

  // Retries while the destination is not reachable yet (epoch keys unknown,
  // edge restarting); returns the first answer that is not such a wait.
  absl::StatusOr<v1::TransferStatus> SendWhenReady(
      const std::string& to_country, const std::string& to_enterprise, const std::string& payload,
      const std::string& id = "", std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const std::string tid = id.empty() ? NewId("ready") : id;
    auto deadline = Clock::now() + timeout;
    for (;;) {
      absl::StatusOr<v1::TransferStatus> r = Send(to_country, to_enterprise, payload, tid);
      if (r.ok() || Clock::now() > deadline) return r;
      if (!absl::IsUnavailable(r.status()) || BreakerRefusal(r.status())) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

 private:
  Cluster& c_;
  std::string edge_;
  fs::path identity_;
  std::unique_ptr<rpc::TunnelClient> client_;
};

// Open/half-open breakers from `beibu breaker list --json` (the
// ListBreakersResponse): scope -> the Breaker as JSON, its "state" lower case
// without the prefix ("open", "half_open"). Empty on error, with the output
// in *out. `edges`: on the hub, what each edge reported (node id -> scopes).
std::map<std::string, json> ListBreakers(
    const Cluster& c, const std::string& server, std::string* out = nullptr,
    std::map<std::string, std::set<std::string>>* edges = nullptr) {
  std::map<std::string, json> breakers;
  RunResult r = c.Breaker(server, {"list", "--json"});
  if (out) *out = r.out + r.err;
  if (r.exit_code != 0) return breakers;
  json doc = json::parse(r.out, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return breakers;
  for (const json& b : doc.value("breakers", json::array())) {
    json copy = b;
    std::string state = absl::AsciiStrToLower(b.value("state", ""));
    if (state.rfind("breaker_", 0) == 0) state = state.substr(8);
    copy["state"] = state;
    breakers[b.value("scope", "")] = copy;
  }
  if (edges) {
    for (const json& e : doc.value("edges", json::array())) {
      std::set<std::string>& scopes = (*edges)[e.value("node_id", "")];
      for (const json& b : e.value("breakers", json::array())) scopes.insert(b.value("scope", ""));
    }
  }
  return breakers;
}

std::string Dump(const std::map<std::string, json>& m) {
  std::string s;
  for (const auto& [k, v] : m) absl::StrAppend(&s, v.dump(), " ");
  return s.empty() ? "(none)" : s;
}

// Wall-clock time of the first line of `log` from `offset` on that contains
// `needle` ("2026-11-28T02:57:36.651Z info node=... event=..."), if any.
std::optional<absl::Time> LoggedAt(const std::string& log, size_t offset,
                                   const std::string& needle) {
  size_t at = log.find(needle, offset);
  if (at == std::string::npos) return std::nullopt;
  size_t begin = log.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::string stamp = log.substr(begin, log.find(' ', begin) - begin);
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, stamp, &t, &err)) return std::nullopt;
  return t;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

size_t Count(const std::vector<std::string>& v, const std::string& x) {
  return std::count(v.begin(), v.end(), x);
}

// --- a. Scraping trips the scraper only; its breaker closes by itself ---

TEST(Gateway, ScrapingTripsOnlyTheScraper) {
  Cluster c;
  c.StartHub();
  c.AddEdge("edge-vn", "VN", GatewayYaml(/*distinct_recipients=*/5, /*min_bytes=*/64 << 20));
  c.AddEdge("edge-cn", "CN");
  ASSERT_TRUE(c.WaitForHealth("edge-vn", "online")) << c.EdgeLog("edge-vn");
  ASSERT_TRUE(c.WaitForHealth("edge-cn", "online")) << c.EdgeLog("edge-cn");
  fs::path scraper_id = c.Enroll("vn-scraper", "enterprise", "VN");
  fs::path honest_id = c.Enroll("vn-honest", "enterprise", "VN");
  fs::path cn_id = c.Enroll("cn-a", "enterprise", "CN");
  InboxDrain inbox([&] { return c.EdgeAddress("edge-cn"); }, cn_id);
  inbox.Start();
  Sender scraper(c, "edge-vn", scraper_id);
  Sender honest(c, "edge-vn", honest_id);

  // The honest enterprise's first send waits for edge-cn's epoch keys.
  const std::string first = NewId("honest-first");
  auto r = honest.SendWhenReady("CN", "cn-a", "container MSKU 1234567 left Hai Phong", first);
  ASSERT_TRUE(r.ok()) << r.status() << "\n" << c.EdgeLog("edge-vn");

  // The scraper writes to a new recipient each time until refused.
  const std::string scope = "enterprise:vn-scraper";
  absl::Status refused = absl::OkStatus();
  int accepted = 0;
  for (int i = 0; i < 30 && refused.ok(); ++i) {
    auto s = scraper.Send("CN", absl::StrCat("cn-recipient-", i), "price list, please");
    if (s.ok()) {
      ++accepted;
    } else {
      refused = s.status();
    }
  }
  ASSERT_TRUE(RefusedBy(refused, scope))
      << "after " << accepted << " accepted sends: " << refused << "\n"
      << c.EdgeLog("edge-vn");
  EXPECT_GE(accepted, 5) << "refused before the scraping threshold: " << refused;
  EXPECT_TRUE(c.WaitForLog([&] { return c.EdgeLog("edge-vn"); }, "event=gateway_alarm"))
      << c.EdgeLog("edge-vn");
  {
    std::string log = c.EdgeLog("edge-vn");
    size_t at = log.find("event=gateway_alarm");
    std::string line = at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(line.find("detector=scraping"), std::string::npos) << line;
  }
  // Listed as open on the edge (it may have half-opened if listing was slow,
  // but not with a 1.5 s cool-down right after the refusal: still open).
  std::string err;
  std::map<std::string, json> listed = ListBreakers(c, c.EdgeAddress("edge-vn"), &err);
  ASSERT_TRUE(listed.count(scope)) << Dump(listed) << "\n" << err;
  const json& b = listed[scope];
  EXPECT_TRUE(b.value("state", "") == "open" || b.value("state", "") == "half_open") << b.dump();
  EXPECT_EQ(b.value("tripped_by", ""), "detector:scraping") << b.dump();
  EXPECT_NE(b.value("reason", "").find("vn-scraper"), std::string::npos) << b.dump();
  EXPECT_EQ(listed.size(), 1u) << "only the scraper's breaker: " << Dump(listed);

  // The other enterprise is not affected: accepted and delivered.
  const std::string during = NewId("honest-during");
  r = honest.Send("CN", "cn-a", "container MSKU 7654321 cleared customs", during);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(inbox.WaitForDistinct(2, std::chrono::seconds(20)));
  std::vector<std::string> got = inbox.received();
  EXPECT_EQ(Count(got, first), 1u);
  EXPECT_EQ(Count(got, during), 1u);

  // After the cool-down, the scraper's ordinary sends pass as probes and the
  // breaker closes after probe_budget (3) of them.
  auto t = Clock::now() + std::chrono::seconds(15);
  absl::StatusOr<v1::TransferStatus> probe = absl::UnknownError("not sent");
  while (Clock::now() < t) {
    probe = scraper.Send("CN", "cn-a", "one ordinary message");
    if (probe.ok()) break;
    ASSERT_TRUE(RefusedBy(probe.status(), scope)) << probe.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(probe.ok()) << "still refused after the cool-down: " << probe.status();
  for (int i = 0; i < 2; ++i) {
    probe = scraper.SendWhenReady("CN", "cn-a", "another ordinary message", "",
                                  std::chrono::seconds(5));
    EXPECT_TRUE(probe.ok()) << "probe " << i + 2 << ": " << probe.status();
  }
  EXPECT_TRUE(WaitUntil([&] { return ListBreakers(c, c.EdgeAddress("edge-vn")).empty(); },
                        std::chrono::seconds(10)))
      << Dump(ListBreakers(c, c.EdgeAddress("edge-vn")));
  EXPECT_TRUE(c.WaitForLog([&] { return c.EdgeLog("edge-vn"); }, "event=breaker_closed"))
      << c.EdgeLog("edge-vn");
  r = scraper.Send("CN", "cn-a", "business as usual");
  EXPECT_TRUE(r.ok()) << r.status();
}

// --- b. A volume spike trips the spiking enterprise's breaker ---

TEST(Gateway, VolumeSpikeTripsItsBreaker) {
  Cluster c;
  c.StartHub();
  // 256 KiB in one 200 ms interval against a baseline of a few hundred bytes.
  c.AddEdge("edge-vn", "VN", GatewayYaml(/*distinct_recipients=*/1000, /*min_bytes=*/256 << 10));
  c.AddEdge("edge-cn", "CN");
  c.AddEdge("edge-sg", "SG");
  for (const char* e : {"edge-vn", "edge-cn", "edge-sg"}) {
    ASSERT_TRUE(c.WaitForHealth(e, "online")) << c.EdgeLog(e);
  }
  fs::path spiker_id = c.Enroll("vn-spiker", "enterprise", "VN");
  fs::path other_id = c.Enroll("vn-other", "enterprise", "VN");
  fs::path sg_id = c.Enroll("sg-a", "enterprise", "SG");
  Sender spiker(c, "edge-vn", spiker_id);
  Sender other(c, "edge-vn", other_id);
  InboxDrain sg_inbox([&] { return c.EdgeAddress("edge-sg"); }, sg_id);
  sg_inbox.Start();

  auto r = spiker.SendWhenReady("CN", "cn-a", "small track update");
  ASSERT_TRUE(r.ok()) << r.status() << "\n" << c.EdgeLog("edge-vn");
  // The other enterprise sends on another route: a volume spike also trips
  // the route it happens on (docs/gateway.md §3), and VN>CN carries only the
  // spiker's bytes here.
  r = other.SendWhenReady("SG", "sg-a", "small track update");
  ASSERT_TRUE(r.ok()) << r.status();

  // Baseline: a small send every ~100 ms for 2 s (10 intervals >= warm-up 5).
  for (auto until = Clock::now() + std::chrono::seconds(2); Clock::now() < until;) {
    r = spiker.Send("CN", "cn-a", "small track update");
    ASSERT_TRUE(r.ok()) << "a baseline send was refused: " << r.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Burst: 300 KiB sends until refused.
  const std::string scope = "enterprise:vn-spiker";
  const std::string big = OpaquePayload(300 << 10);
  absl::Status refused = absl::OkStatus();
  int accepted = 0;
  for (int i = 0; i < 20 && refused.ok(); ++i) {
    auto s = spiker.Send("CN", "cn-a", big);
    if (s.ok()) {
      ++accepted;
    } else {
      refused = s.status();
    }
  }
  // The refusal may name the route instead: the spike tripped both.
  ASSERT_TRUE(BreakerRefusal(refused))
      << "after " << accepted << " large sends: " << refused << "\n"
      << c.EdgeLog("edge-vn");
  EXPECT_TRUE(c.WaitForLog([&] { return c.EdgeLog("edge-vn"); }, "detector=volume_spike"))
      << c.EdgeLog("edge-vn");
  std::string err;
  std::map<std::string, json> listed = ListBreakers(c, c.EdgeAddress("edge-vn"), &err);
  ASSERT_TRUE(listed.count(scope)) << Dump(listed) << "\n" << err;
  const json& b = listed[scope];
  EXPECT_TRUE(b.value("state", "") == "open" || b.value("state", "") == "half_open") << b.dump();
  EXPECT_EQ(b.value("tripped_by", ""), "detector:volume_spike") << b.dump();
  std::cout << "[ info ] breakers after the spike:";
  for (const auto& [sc, br] : listed)
    std::cout << " " << sc << " (" << br.value("state", "") << ")";
  std::cout << "\n";

  // The other enterprise is not affected.
  const std::string id = NewId("other-after");
  r = other.Send("SG", "sg-a", "container TGHU 1111111 arrived", id);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(
      WaitUntil([&] { return Count(sg_inbox.received(), id) == 1; }, std::chrono::seconds(20)))
      << c.EdgeLog("edge-sg");
  EXPECT_FALSE(listed.count("enterprise:vn-other")) << Dump(listed);
}

// --- c. A hub-wide route breaker reaches every edge and survives restarts ---

TEST(Gateway, HubWideRouteTripReachesEveryEdgeAndSurvivesRestart) {
  Cluster c;
  c.StartHub();
  const std::vector<std::pair<std::string, std::string>> edges = {
      {"edge-vn1", "VN"}, {"edge-vn2", "VN"}, {"edge-vn3", "VN"}, {"edge-cn1", "CN"},
      {"edge-cn2", "CN"}, {"edge-cn3", "CN"}, {"edge-sg1", "SG"}, {"edge-sg2", "SG"},
      {"edge-my1", "MY"}, {"edge-my2", "MY"}};
  const std::vector<std::string> vn_edges = {"edge-vn1", "edge-vn2", "edge-vn3"};
  for (const auto& [id, cc] : edges) c.AddEdge(id, cc);
  for (const auto& [id, cc] : edges) {
    ASSERT_TRUE(c.WaitForHealth(id, "online", std::chrono::seconds(30))) << c.EdgeLog(id);
  }
  fs::path vn_id = c.Enroll("vn-a", "enterprise", "VN");
  std::map<std::string, std::unique_ptr<Sender>> senders;
  for (const std::string& e : vn_edges) {
    senders[e] = std::make_unique<Sender>(c, e, vn_id);
    for (const char* to : {"CN", "SG"}) {
      auto r = senders[e]->SendWhenReady(to, "x-a", "track update", "", std::chrono::seconds(30));
      ASSERT_TRUE(r.ok()) << e << " -> " << to << ": " << r.status() << "\n" << c.EdgeLog(e);
    }
  }

  const std::string scope = "route:VN>CN";
  std::map<std::string, size_t> log_size;
  for (const auto& [id, cc] : edges) log_size[id] = c.EdgeLog(id).size();
  const size_t hub_log_size = c.HubLog().size();
  RunResult trip =
      c.Breaker(c.hub_address(), {"trip", "--scope", scope, "--reason", "e2e incident 4711"});
  ASSERT_EQ(trip.exit_code, 0) << trip.out << trip.err;
  // Informational (no assertion): when the last edge logged that it applied
  // the hub's new set, by the daemons' own log timestamps, from the trip's
  // return (the edges may be quicker than the CLI's exit) and from the hub's
  // event=hub_breaker_tripped (logged after the push).
  const absl::Time returned = absl::Now();
  std::map<std::string, absl::Time> applied;
  WaitUntil(
      [&] {
        for (const auto& [id, cc] : edges) {
          if (applied.count(id)) continue;
          std::optional<absl::Time> t =
              LoggedAt(c.EdgeLog(id), log_size[id], "event=hub_breakers_applied count=1");
          if (t) applied[id] = *t;
        }
        return applied.size() == edges.size();
      },
      std::chrono::seconds(15));
  absl::Time last = absl::InfinitePast();
  for (const auto& [id, t] : applied) last = std::max(last, t);
  std::optional<absl::Time> hub_logged =
      LoggedAt(c.HubLog(), hub_log_size, "event=hub_breaker_tripped");
  std::cout << "[ info ] " << applied.size() << " of " << edges.size()
            << " edges applied the trip; the last at "
            << absl::ToDoubleMilliseconds(last - returned)
            << " ms from `beibu breaker trip` returning, "
            << (hub_logged ? absl::ToDoubleMilliseconds(last - *hub_logged) : -1.0)
            << " ms from the hub's event=hub_breaker_tripped\n";

  // Every edge lists it.
  for (const auto& [id, cc] : edges) {
    std::string err;
    EXPECT_TRUE(
        WaitUntil([&] { return ListBreakers(c, c.EdgeAddress(id), &err).count(scope) == 1; },
                  std::chrono::seconds(10)))
        << id << ": " << err;
  }
  std::string err;
  std::map<std::string, json> at_hub = ListBreakers(c, c.hub_address(), &err);
  ASSERT_TRUE(at_hub.count(scope)) << Dump(at_hub) << "\n" << err;
  EXPECT_EQ(at_hub[scope].value("state", ""), "open") << at_hub[scope].dump();
  EXPECT_EQ(at_hub[scope].value("reason", ""), "e2e incident 4711") << at_hub[scope].dump();
  {
    std::map<std::string, json> at_edge = ListBreakers(c, c.EdgeAddress("edge-my1"));
    EXPECT_TRUE(at_edge[scope].value("from_hub", false)) << Dump(at_edge);
    EXPECT_EQ(at_edge[scope].value("tripped_by", "").rfind("hub:", 0), 0u) << Dump(at_edge);
  }
  // The hub hears back from every edge (EdgeStatus.breakers).
  std::map<std::string, std::set<std::string>> reported;
  EXPECT_TRUE(WaitUntil(
      [&] {
        reported.clear();
        ListBreakers(c, c.hub_address(), &err, &reported);
        for (const auto& [id, cc] : edges) {
          if (!reported[id].count(scope)) return false;
        }
        return true;
      },
      std::chrono::seconds(10)))
      << err;

  // VN -> CN refused, VN -> SG accepted.
  for (const std::string& e : vn_edges) {
    auto r = senders[e]->Send("CN", "cn-a", "track update");
    EXPECT_TRUE(!r.ok() && RefusedBy(r.status(), scope))
        << e << ": " << (r.ok() ? "accepted" : r.status().ToString());
    r = senders[e]->SendWhenReady("SG", "sg-a", "track update");
    EXPECT_TRUE(r.ok()) << e << ": " << r.status();
  }
  // An edge cannot reset the hub's breaker locally.
  RunResult local =
      c.Breaker(c.EdgeAddress("edge-vn2"), {"reset", "--scope", scope, "--reason", "not mine"});
  EXPECT_NE(local.exit_code, 0) << local.out << local.err;

  // Hub down, edge-vn1 restarted: it still obeys the hub's breaker.
  c.KillHub(SIGKILL);
  c.KillEdge("edge-vn1", SIGTERM);
  c.DropJoinToken("edge-vn1");
  c.StartEdge("edge-vn1");
  ASSERT_TRUE(c.WaitForEdgePort("edge-vn1")) << c.EdgeLog("edge-vn1");
  {
    absl::StatusOr<v1::TransferStatus> r = absl::UnknownError("not sent");
    WaitUntil(
        [&] {
          r = senders["edge-vn1"]->Send("CN", "cn-a", "track update after restart");
          // A transport error while the edge comes up: try again.
          return r.ok() || !absl::IsUnavailable(r.status()) || RefusedBy(r.status(), scope);
        },
        std::chrono::seconds(15));
    EXPECT_TRUE(!r.ok() && RefusedBy(r.status(), scope))
        << "restarted without the hub: " << (r.ok() ? "accepted" : r.status().ToString()) << "\n"
        << c.EdgeLog("edge-vn1");
  }

  // Hub back, reset there: VN -> CN accepted again on every VN edge.
  c.RestartHub();
  RunResult reset =
      c.Breaker(c.hub_address(), {"reset", "--scope", scope, "--reason", "incident 4711 cleared"});
  ASSERT_EQ(reset.exit_code, 0) << reset.out << reset.err;
  for (const std::string& e : vn_edges) {
    absl::StatusOr<v1::TransferStatus> r = absl::UnknownError("not sent");
    EXPECT_TRUE(WaitUntil(
        [&] {
          r = senders[e]->Send("CN", "cn-a", "track update after the reset");
          return r.ok();
        },
        std::chrono::seconds(20)))
        << e << ": " << r.status() << "\n"
        << c.EdgeLog(e);
  }
  for (const auto& [id, cc] : edges) {
    EXPECT_TRUE(WaitUntil([&] { return ListBreakers(c, c.EdgeAddress(id)).empty(); },
                          std::chrono::seconds(10)))
        << id << ": " << Dump(ListBreakers(c, c.EdgeAddress(id)));
  }
}

// --- d. Outbound data queued before a trip is held, then released in order ---

TEST(Gateway, HeldOutboundDataIsReleasedInOrder) {
  Cluster c;
  c.StartHub();
  c.AddEdge("edge-vn", "VN");
  c.AddEdge("edge-cn", "CN");
  ASSERT_TRUE(c.WaitForHealth("edge-vn", "online")) << c.EdgeLog("edge-vn");
  ASSERT_TRUE(c.WaitForHealth("edge-cn", "online")) << c.EdgeLog("edge-cn");
  fs::path vn_id = c.Enroll("vn-a", "enterprise", "VN");
  fs::path cn_id = c.Enroll("cn-a", "enterprise", "CN");
  Sender vn(c, "edge-vn", vn_id);
  InboxDrain inbox([&] { return c.EdgeAddress("edge-cn"); }, cn_id);
  inbox.Start();

  // One delivered message: keys known, the path works.
  const std::string warm = NewId("warm");
  auto r = vn.SendWhenReady("CN", "cn-a", "container MSKU 1 left", warm);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(inbox.WaitForDistinct(1, std::chrono::seconds(20))) << c.EdgeLog("edge-vn");

  // Hub down: three sends wait in edge-vn's outbox.
  c.KillHub(SIGKILL);
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    ids.push_back(absl::StrCat(NewId("held"), "-", i));
    r = vn.Send("CN", "cn-a", absl::StrCat("container MSKU ", i, " left"), ids.back());
    ASSERT_TRUE(r.ok()) << "send " << i << " with the hub down: " << r.status();
  }
  const std::string scope = "enterprise:vn-a";
  RunResult trip =
      c.Breaker(c.EdgeAddress("edge-vn"), {"trip", "--scope", scope, "--reason", "e2e hold"});
  ASSERT_EQ(trip.exit_code, 0) << trip.out << trip.err;
  std::map<std::string, json> listed = ListBreakers(c, c.EdgeAddress("edge-vn"));
  EXPECT_EQ(listed[scope].value("state", ""), "open") << Dump(listed);
  EXPECT_EQ(listed[scope].value("tripped_by", "").rfind("operator:", 0), 0u) << Dump(listed);

  // Hub back: the relay link runs again but holds them.
  c.RestartHub();
  EXPECT_TRUE(c.WaitForHealth("edge-vn", "online")) << c.EdgeLog("edge-vn");
  auto quiet_until = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < quiet_until) {
    std::vector<std::string> got = inbox.received();
    for (const std::string& id : ids) {
      ASSERT_EQ(Count(got, id), 0u) << id << " was delivered while its sender's breaker was open";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // The relay link moved them out of the outbox (event=outbound_held
  // count=<items> transfers=<n>, possibly over several lines).
  auto held_transfers = [&] {
    std::string log = c.EdgeLog("edge-vn");
    int n = 0;
    for (size_t at = log.find("event=outbound_held"); at != std::string::npos;
         at = log.find("event=outbound_held", at + 1)) {
      size_t t = log.find("transfers=", at);
      if (t != std::string::npos && t < log.find('\n', at)) n += std::atoi(log.c_str() + t + 10);
    }
    return n;
  };
  EXPECT_TRUE(WaitUntil([&] { return held_transfers() == 3; }, std::chrono::seconds(5)))
      << held_transfers() << " transfers held\n"
      << c.EdgeLog("edge-vn");

  RunResult reset =
      c.Breaker(c.EdgeAddress("edge-vn"), {"reset", "--scope", scope, "--reason", "released"});
  ASSERT_EQ(reset.exit_code, 0) << reset.out << reset.err;
  ASSERT_TRUE(inbox.WaitForDistinct(4, std::chrono::seconds(20)))
      << inbox.received().size() << " received\n"
      << c.EdgeLog("edge-vn");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a duplicate would show now
  std::vector<std::string> got = inbox.received();
  std::vector<std::string> held_order;
  for (const std::string& id : got) {
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) held_order.push_back(id);
  }
  EXPECT_EQ(held_order, ids) << "delivered once each, in the order sent";
  EXPECT_TRUE(inbox.redelivered_after_ack().empty());
}

// --- e. Only operators drive breakers ---

TEST(Gateway, OperatorOnly) {
  Cluster c;
  c.StartHub();
  c.AddEdge("edge-vn", "VN");
  ASSERT_TRUE(c.WaitForHealth("edge-vn", "online")) << c.EdgeLog("edge-vn");
  fs::path vn_id = c.Enroll("vn-a", "enterprise", "VN");

  for (const std::string& server : {c.EdgeAddress("edge-vn"), c.hub_address()}) {
    RunResult r = c.Beibu({"breaker", "trip", "--server", server, "--identity", vn_id.string(),
                           "--scope", "global", "--reason", "an enterprise tries"});
    EXPECT_NE(r.exit_code, 0) << server << ": " << r.out << r.err;
    std::string msg = absl::AsciiStrToLower(r.err + r.out);
    // The edge: "vn-a (enterprise, VN) may not call this; it needs role
    // operator"; the hub refuses the enterprise role on its channel.
    EXPECT_NE(msg.find("role"), std::string::npos) << server << ": " << r.err << r.out;
  }
  // Nor may it read them.
  RunResult list = c.Beibu({"breaker", "list", "--server", c.EdgeAddress("edge-vn"), "--identity",
                            vn_id.string(), "--json"});
  EXPECT_NE(list.exit_code, 0) << list.out << list.err;
  EXPECT_NE(list.err.find("role"), std::string::npos) << list.err;
  // Nothing tripped: the operator sees no breaker.
  std::string err;
  EXPECT_TRUE(ListBreakers(c, c.EdgeAddress("edge-vn"), &err).empty()) << err;
}

}  // namespace
}  // namespace beibu::testing
