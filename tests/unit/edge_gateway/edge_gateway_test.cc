// EdgeGateway (edge-node/gateway/edge_gateway.h): breakers, rate limits and
// alarms with the real breaker store (RocksDB in a TempDir) and audit log.
#include "gateway/edge_gateway.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "beibu/gateway/rate_limiter.h"
#include "gateway_test_util.h"

namespace beibu::edge::testing {
namespace {

using beibu::testing::TempDir;
using gateway::BreakerBoard;

// What on_breaker_change saw.
struct Changes {
  std::mutex mu;
  std::vector<std::pair<BreakerBoard::Change, v1::Breaker>> seen;
  size_t Count(BreakerBoard::Change c) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& [change, b] : seen) n += change == c;
    return n;
  }
};

GatewayConfig Quiet() {
  GatewayConfig c;
  // Spikes never raise in these tests: only the detector a test aims at.
  c.detectors.warmup_intervals = 1000000;
  return c;
}

std::unique_ptr<EdgeGateway> OpenGateway(const TempDir& dir, GatewayConfig config,
                                         audit::AuditLog* audit, Changes* changes = nullptr) {
  EdgeGatewayOptions o;
  o.config = std::move(config);
  o.dir = (dir / "gateway").string();
  o.country = "VN";
  o.audit = audit;
  if (changes != nullptr) {
    o.on_breaker_change = [changes](BreakerBoard::Change c, const v1::Breaker& b) {
      std::lock_guard<std::mutex> lock(changes->mu);
      changes->seen.emplace_back(c, b);
    };
  }
  absl::StatusOr<std::unique_ptr<EdgeGateway>> g = EdgeGateway::Open(std::move(o));
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : nullptr;
}

gateway::Observation Obs(const std::string& enterprise, const std::string& recipient) {
  gateway::Observation o;
  o.enterprise = enterprise;
  o.from_country = "VN";
  o.to_country = "CN";
  o.recipient = recipient;
  o.category = "logistics.track";
  o.bytes = 100;
  return o;
}

v1::EnvelopeHeader Outbound(const std::string& enterprise, const std::string& to_country = "CN") {
  v1::EnvelopeHeader h;
  h.set_transfer_id("t-1");
  h.set_from_enterprise(enterprise);
  h.set_from_country("VN");
  h.set_to_country(to_country);
  return h;
}

TEST(EdgeGatewayTest, AnOpenBreakerRefusesWithFailedPreconditionNamingIt) {
  TempDir dir;
  auto audit = OpenAudit(dir);
  Changes changes;
  auto g = OpenGateway(dir, Quiet(), audit.get(), &changes);
  ASSERT_TRUE(g->Admit("vn-shipper", "CN", 10).ok());
  absl::StatusOr<v1::Breaker> b =
      g->board().Trip(gateway::Scope::Route("VN", "CN"), "incident 4711", "operator:op-1");
  ASSERT_TRUE(b.ok()) << b.status();
  absl::StatusOr<BreakerBoard::Admission> a = g->Admit("vn-shipper", "CN", 10);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(a.status().message().find("route:VN>CN"), absl::string_view::npos) << a.status();
  EXPECT_NE(a.status().message().find("incident 4711"), absl::string_view::npos);
  // Another route passes; outbound data on the route is held, other routes not.
  EXPECT_TRUE(g->Admit("vn-shipper", "SG", 10).ok());
  EXPECT_TRUE(g->HoldsOutbound(Outbound("vn-shipper")));
  EXPECT_FALSE(g->Releases(Outbound("vn-shipper")));
  EXPECT_FALSE(g->HoldsOutbound(Outbound("vn-shipper", "SG")));
  ASSERT_EQ(g->Breakers().size(), 1u);
  // Audited with who and why, and reported to on_breaker_change.
  std::vector<v1::AuditEvent> tripped = EventsOf(*audit, "gateway.breaker_tripped");
  ASSERT_EQ(tripped.size(), 1u);
  EXPECT_EQ(tripped[0].who().role(), "operator");
  EXPECT_EQ(tripped[0].who().id(), "op-1");
  EXPECT_EQ(tripped[0].source_country(), "VN");
  EXPECT_EQ(tripped[0].destination_country(), "CN");
  EXPECT_NE(tripped[0].detail().find("incident 4711"), std::string::npos);
  EXPECT_EQ(changes.Count(BreakerBoard::Change::kTripped), 1u);

  ASSERT_TRUE(g->board().Reset(gateway::Scope::Route("VN", "CN"), "cleared", "operator:op-1").ok());
  EXPECT_TRUE(g->Admit("vn-shipper", "CN", 10).ok());
  EXPECT_TRUE(g->Releases(Outbound("vn-shipper")));
  EXPECT_EQ(changes.Count(BreakerBoard::Change::kClosed), 1u);
  EXPECT_EQ(EventsOf(*audit, "gateway.breaker_closed").size(), 1u);
}

TEST(EdgeGatewayTest, OverTheRateLimitIsResourceExhaustedWithARetryHint) {
  TempDir dir;
  GatewayConfig c = Quiet();
  c.rates.classes["default"] = {.requests_per_second = 0.01, .burst_requests = 2};
  c.rates.classes["bulk"] = {.requests_per_second = 1000, .burst_requests = 1000};
  c.rates.enterprise_class["vn-bulk"] = "bulk";
  auto g = OpenGateway(dir, c, nullptr);
  EXPECT_TRUE(g->Admit("vn-small", "CN", 10).ok());
  EXPECT_TRUE(g->Admit("vn-small", "CN", 10).ok());
  absl::StatusOr<BreakerBoard::Admission> a = g->Admit("vn-small", "CN", 10);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GT(gateway::RateLimiter::RetryAfterMs(a.status()), 0) << a.status();
  // Limits are per enterprise, by class.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(g->Admit("vn-bulk", "CN", 10).ok());
  EXPECT_TRUE(g->Admit("vn-other", "CN", 10).ok());
}

// Regression: a half-open breaker's probe refused by the rate limit counted
// as passed, so a sender over its rate closed its own breaker by sending
// requests that were all refused.
TEST(EdgeGatewayTest, RateLimitedProbesDoNotCloseAHalfOpenBreaker) {
  TempDir dir;
  GatewayConfig c = Quiet();
  c.rates.classes["default"] = {.requests_per_second = 0.001, .burst_requests = 1};
  c.breaker.cool_down = std::chrono::hours(1);  // never quiet-closes during the test
  c.breaker.probe_budget = 5;
  auto g = OpenGateway(dir, c, nullptr);
  // Tripped a cool-down ago: half-open from now on.
  g->board().TripByAlarm(
      gateway::Alarm{"rate_spike", gateway::Scope::Enterprise("vn-abuser"), "600 requests"},
      BreakerBoard::Clock::now() - c.breaker.cool_down);
  absl::StatusOr<BreakerBoard::Admission> probe = g->Admit("vn-abuser", "CN", 10);
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_EQ(probe->probing.size(), 1u);
  g->Observe(*probe, Obs("vn-abuser", "recipient-1"));  // one probe decided: passed
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(g->Admit("vn-abuser", "CN", 10).status().code(), absl::StatusCode::kResourceExhausted)
        << i;
  }
  std::vector<v1::Breaker> open = g->Breakers();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(open[0].probes_passed(), 1u);
  EXPECT_EQ(open[0].probes_left(), 4u);
  EXPECT_TRUE(g->HoldsOutbound(Outbound("vn-abuser")));
}

TEST(EdgeGatewayTest, ScrapingAlarmTripsTheEnterpriseAndIsAudited) {
  TempDir dir;
  auto audit = OpenAudit(dir);
  GatewayConfig c = Quiet();
  c.detectors.distinct_recipients = 5;
  c.detectors.scraping_window = std::chrono::milliseconds(3600 * 1000);
  Changes changes;
  auto g = OpenGateway(dir, c, audit.get(), &changes);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<BreakerBoard::Admission> a = g->Admit("vn-scraper", "CN", 100);
    ASSERT_TRUE(a.ok()) << i << ": " << a.status();
    g->Observe(*a, Obs("vn-scraper", "recipient-" + std::to_string(i)));
  }
  absl::StatusOr<BreakerBoard::Admission> refused = g->Admit("vn-scraper", "CN", 100);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("enterprise:vn-scraper"), absl::string_view::npos)
      << refused.status();
  // Another enterprise is not affected, nor its outbound data.
  EXPECT_TRUE(g->Admit("vn-honest", "CN", 100).ok());
  EXPECT_FALSE(g->HoldsOutbound(Outbound("vn-honest")));
  EXPECT_TRUE(g->HoldsOutbound(Outbound("vn-scraper")));

  std::vector<v1::Breaker> open = g->Breakers();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].scope(), "enterprise:vn-scraper");
  EXPECT_EQ(open[0].tripped_by(), "detector:scraping");
  std::vector<v1::AuditEvent> alarms = EventsOf(*audit, "gateway.alarm");
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_NE(alarms[0].detail().find("scraping"), std::string::npos);
  EXPECT_NE(alarms[0].detail().find("enterprise:vn-scraper"), std::string::npos);
  std::vector<v1::AuditEvent> tripped = EventsOf(*audit, "gateway.breaker_tripped");
  ASSERT_EQ(tripped.size(), 1u);
  EXPECT_EQ(tripped[0].who().role(), "edge");
  EXPECT_EQ(tripped[0].who().id(), "detector:scraping");
  EXPECT_EQ(changes.Count(BreakerBoard::Change::kTripped), 1u);
}

TEST(EdgeGatewayTest, AuthFailuresRaiseAnAlarmButTripNothing) {
  TempDir dir;
  auto audit = OpenAudit(dir);
  GatewayConfig c = Quiet();
  c.detectors.auth_failures = 3;
  auto g = OpenGateway(dir, c, audit.get());
  for (int i = 0; i < 3; ++i) g->ObserveAuthFailure("vn-victim");
  EXPECT_EQ(EventsOf(*audit, "gateway.alarm").size(), 1u);
  EXPECT_TRUE(g->Breakers().empty());
  EXPECT_TRUE(g->Admit("vn-victim", "CN", 1).ok());
}

TEST(EdgeGatewayTest, BreakersSurviveAReopen) {
  TempDir dir;
  {
    auto g = OpenGateway(dir, Quiet(), nullptr);
    ASSERT_TRUE(
        g->board()
            .Trip(gateway::Scope::Enterprise("vn-shipper"), "audit pending", "operator:op-2")
            .ok());
  }
  auto g = OpenGateway(dir, Quiet(), nullptr);
  std::vector<v1::Breaker> open = g->Breakers();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].scope(), "enterprise:vn-shipper");
  EXPECT_EQ(open[0].reason(), "audit pending");
  EXPECT_EQ(g->Admit("vn-shipper", "CN", 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(g->Admit("vn-other", "CN", 1).ok());
}

TEST(EdgeGatewayTest, TheHubSetIsAppliedAndCleared) {
  TempDir dir;
  auto audit = OpenAudit(dir);
  Changes changes;
  auto g = OpenGateway(dir, Quiet(), audit.get(), &changes);
  v1::Breaker hub;
  hub.set_scope("global");
  hub.set_state(v1::BREAKER_OPEN);
  hub.set_reason("space-wide incident");
  hub.set_tripped_by("hub:hub");
  g->board().ApplyHubSet({hub});
  absl::StatusOr<BreakerBoard::Admission> a = g->Admit("vn-shipper", "CN", 1);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(g->HoldsOutbound(Outbound("anyone", "MY")));
  ASSERT_EQ(g->Breakers().size(), 1u);
  EXPECT_TRUE(g->Breakers()[0].from_hub());
  // The edge may not reset what the hub holds.
  EXPECT_EQ(g->board().Reset(gateway::Scope::Global(), "no", "operator:op-1").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(EventsOf(*audit, "gateway.breaker_tripped").size(), 1u);
  EXPECT_EQ(EventsOf(*audit, "gateway.breaker_tripped")[0].who().role(), "hub");

  // Survives a restart while the hub is unreachable.
  g.reset();
  g = OpenGateway(dir, Quiet(), audit.get(), &changes);
  EXPECT_EQ(g->Admit("vn-shipper", "CN", 1).status().code(), absl::StatusCode::kFailedPrecondition);

  g->board().ApplyHubSet({});
  EXPECT_TRUE(g->Admit("vn-shipper", "CN", 1).ok());
  EXPECT_FALSE(g->HoldsOutbound(Outbound("anyone", "MY")));
  EXPECT_TRUE(g->Breakers().empty());
  EXPECT_EQ(changes.Count(BreakerBoard::Change::kClosed), 1u);
  EXPECT_EQ(EventsOf(*audit, "gateway.breaker_closed").size(), 1u);
}

TEST(EdgeGatewayTest, DisabledChecksNothing) {
  TempDir dir;
  auto audit = OpenAudit(dir);
  GatewayConfig c = Quiet();
  c.enabled = false;
  c.rates.classes["default"] = {.requests_per_second = 0.01, .burst_requests = 1};
  c.detectors.distinct_recipients = 2;
  auto g = OpenGateway(dir, c, audit.get());
  ASSERT_TRUE(g->board().Trip(gateway::Scope::Global(), "kept, not enforced", "operator:op").ok());
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<BreakerBoard::Admission> a = g->Admit("vn-shipper", "CN", 1);
    ASSERT_TRUE(a.ok()) << a.status();
    g->Observe(*a, Obs("vn-shipper", "r-" + std::to_string(i)));
  }
  EXPECT_FALSE(g->HoldsOutbound(Outbound("vn-shipper")));
  EXPECT_EQ(g->PaceStream("vn-shipper", 1 << 30), std::chrono::steady_clock::duration::zero());
  EXPECT_TRUE(EventsOf(*audit, "gateway.alarm").empty());
  // The operator's breaker is kept and listed.
  EXPECT_EQ(g->Breakers().size(), 1u);
}

TEST(EdgeGatewayTest, StreamsArePacedNotRefused) {
  TempDir dir;
  GatewayConfig c = Quiet();
  c.rates.classes["default"] = {.bytes_per_second = 1000, .burst_bytes = 1000};
  auto g = OpenGateway(dir, c, nullptr);
  EXPECT_EQ(g->PaceStream("vn-shipper", 500), std::chrono::steady_clock::duration::zero());
  // 1500 bytes beyond the bucket: about 1.5 s of debt at 1000 bytes/s.
  const auto wait = g->PaceStream("vn-shipper", 2000);
  EXPECT_GT(wait, std::chrono::milliseconds(1000));
  EXPECT_LE(wait, std::chrono::milliseconds(1600));
}

}  // namespace
}  // namespace beibu::edge::testing
