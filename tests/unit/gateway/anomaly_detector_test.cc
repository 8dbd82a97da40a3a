// Anomaly detectors on an injected clock: spikes against an EWMA baseline
// (per enterprise and per route), denied bursts, scraping, auth failures.
#include "beibu/gateway/anomaly_detector.h"

#include <gtest/gtest.h>

namespace beibu::gateway {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(seconds(100000));

Clock::time_point Interval(int i) { return kT0 + seconds(i); }

Observation Obs(const std::string& enterprise, uint64_t bytes = 1024,
                const std::string& from = "VN", const std::string& to = "CN") {
  Observation o;
  o.enterprise = enterprise;
  o.from_country = from;
  o.to_country = to;
  o.recipient = "cn-buyer";
  o.category = "logistics";
  o.bytes = bytes;
  return o;
}

// `n` requests spread over interval `i`; returns the alarms raised.
std::vector<Alarm> SendInInterval(AnomalyDetector& d, const Observation& o, int i, int n) {
  std::vector<Alarm> out;
  for (int j = 0; j < n; ++j) {
    for (Alarm& a : d.Observe(o, Interval(i) + milliseconds(j * 900 / n))) out.push_back(a);
  }
  return out;
}

// `intervals` intervals of `n` requests each, from interval `first`.
std::vector<Alarm> Baseline(AnomalyDetector& d, const Observation& o, int first, int intervals,
                            int n) {
  std::vector<Alarm> out;
  for (int i = first; i < first + intervals; ++i) {
    for (Alarm& a : SendInInterval(d, o, i, n)) out.push_back(a);
  }
  return out;
}

int Count(const std::vector<Alarm>& alarms, const std::string& detector, const Scope& scope) {
  int n = 0;
  for (const Alarm& a : alarms) n += a.detector == detector && a.scope == scope;
  return n;
}

std::string Describe(const std::vector<Alarm>& alarms) {
  std::string s;
  for (const Alarm& a : alarms)
    s += a.detector + " " + a.scope.ToString() + ": " + a.explanation + "\n";
  return s;
}

TEST(AnomalyDetectorTest, SteadyBaselineRaisesNothing) {
  AnomalyDetector d(DetectorConfig{});
  std::vector<Alarm> alarms = Baseline(d, Obs("vn-shipper"), 0, 60, 60);
  EXPECT_TRUE(alarms.empty()) << Describe(alarms);
}

TEST(AnomalyDetectorTest, TenfoldSpikeByOneEnterpriseRaisesOnItNotOnItsRoute) {
  AnomalyDetector d(DetectorConfig{});
  ASSERT_TRUE(Baseline(d, Obs("vn-shipper"), 0, 30, 60).empty());
  std::vector<Alarm> alarms = SendInInterval(d, Obs("vn-shipper"), 30, 600);
  // At most one alarm per scope per interval, however far the count goes;
  // the route spiked too, but vn-shipper made all of it: a route breaker
  // would stop everyone else on VN>CN.
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-shipper")), 1) << Describe(alarms);
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Route("VN", "CN")), 0) << Describe(alarms);
  ASSERT_EQ(alarms.size(), 1u) << Describe(alarms);  // 600 KiB: no volume spike (min_bytes)
  // Raised as soon as the count is 6 deviations (at least 1 request) above.
  EXPECT_EQ(alarms[0].explanation,
            "enterprise vn-shipper sent 67 requests in the current 1 s interval against a "
            "baseline of 60.0 +/- 0.0 (z = 7.0 > 6); the deviation counts as at least 1 request");
  // The next interval is a new one: it may raise again (against a baseline
  // that now holds the 600).
  std::vector<Alarm> next = SendInInterval(d, Obs("vn-shipper"), 31, 3000);
  EXPECT_EQ(Count(next, "rate_spike", Scope::Enterprise("vn-shipper")), 1) << Describe(next);
  EXPECT_EQ(Count(next, "rate_spike", Scope::Route("VN", "CN")), 0) << Describe(next);
}

TEST(AnomalyDetectorTest, RouteSpikeMadeByANewcomerIsRaisedOnTheNewcomer) {
  AnomalyDetector d(DetectorConfig{});
  // Ten enterprises make the route's baseline; vn-new has none (warming up),
  // so only the route's figures can catch its burst.
  for (int i = 0; i < 30; ++i) {
    for (int e = 0; e < 10; ++e) {
      ASSERT_TRUE(SendInInterval(d, Obs("vn-" + std::to_string(e)), i, 6).empty());
    }
  }
  std::vector<Alarm> alarms = SendInInterval(d, Obs("vn-new"), 30, 300);
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Route("VN", "CN")), 0) << Describe(alarms);
  ASSERT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-new")), 1) << Describe(alarms);
  EXPECT_EQ(alarms[0].explanation.substr(0, 19), "route VN>CN carried") << alarms[0].explanation;
  EXPECT_NE(alarms[0].explanation.find("; enterprise vn-new sent "), std::string::npos)
      << alarms[0].explanation;
  // The others are not named.
  for (int e = 0; e < 10; ++e) {
    EXPECT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-" + std::to_string(e))), 0);
  }
}

TEST(AnomalyDetectorTest, RouteSpikeSpreadOverManyEnterprisesTripsTheRoute) {
  AnomalyDetector d(DetectorConfig{});
  for (int i = 0; i < 30; ++i) {
    for (int e = 0; e < 10; ++e) {
      ASSERT_TRUE(SendInInterval(d, Obs("vn-" + std::to_string(e)), i, 6).empty());
    }
  }
  // Each of the ten sends 30 (under min_requests on its own); together the
  // route carries 300 against a baseline of 60.
  std::vector<Alarm> alarms;
  for (int e = 0; e < 10; ++e) {
    for (Alarm& a : SendInInterval(d, Obs("vn-" + std::to_string(e)), 30, 30)) alarms.push_back(a);
  }
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Route("VN", "CN")), 1) << Describe(alarms);
  EXPECT_EQ(alarms.size(), 1u) << Describe(alarms);
  ASSERT_FALSE(alarms.empty());
  EXPECT_EQ(alarms[0].explanation.substr(0, 19), "route VN>CN carried") << alarms[0].explanation;
  EXPECT_EQ(alarms[0].explanation.find("; enterprise"), std::string::npos) << alarms[0].explanation;
}

TEST(AnomalyDetectorTest, VolumeSpike) {
  AnomalyDetector d(DetectorConfig{});
  ASSERT_TRUE(Baseline(d, Obs("vn-shipper", 100 << 10), 0, 30, 60).empty());
  std::vector<Alarm> alarms = SendInInterval(d, Obs("vn-shipper", 1 << 20), 30, 60);
  EXPECT_EQ(Count(alarms, "volume_spike", Scope::Enterprise("vn-shipper")), 1) << Describe(alarms);
  EXPECT_EQ(Count(alarms, "volume_spike", Scope::Route("VN", "CN")), 0) << Describe(alarms);
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-shipper")), 0) << Describe(alarms);
  ASSERT_FALSE(alarms.empty());
  EXPECT_NE(alarms[0].explanation.find("MiB of payload in the current 1 s interval against a "
                                       "baseline of 5.9 MiB"),
            std::string::npos)
      << alarms[0].explanation;
}

TEST(AnomalyDetectorTest, WarmupSuppresses) {
  DetectorConfig c;
  c.warmup_intervals = 10;
  AnomalyDetector d(c);
  ASSERT_TRUE(Baseline(d, Obs("vn-shipper"), 0, 5, 60).empty());
  std::vector<Alarm> alarms = SendInInterval(d, Obs("vn-shipper"), 5, 600);
  EXPECT_TRUE(alarms.empty()) << Describe(alarms);
  // After the warm-up the baseline has absorbed that burst; a far larger one raises.
  ASSERT_TRUE(Baseline(d, Obs("vn-shipper"), 6, 24, 60).empty());
  alarms = SendInInterval(d, Obs("vn-shipper"), 30, 3000);
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-shipper")), 1) << Describe(alarms);
}

TEST(AnomalyDetectorTest, IdleGapThenBurstRaises) {
  AnomalyDetector d(DetectorConfig{});
  ASSERT_TRUE(Baseline(d, Obs("vn-shipper"), 0, 20, 40).empty());
  // A billion idle intervals fold in at once; the baseline decays to nothing.
  const int64_t gap = 1000000000;
  std::vector<Alarm> alarms;
  for (int j = 0; j < 100; ++j) {
    for (Alarm& a : d.Observe(Obs("vn-shipper"), Interval(20) + seconds(gap) + milliseconds(j))) {
      alarms.push_back(a);
    }
  }
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-shipper")), 1) << Describe(alarms);
  ASSERT_FALSE(alarms.empty());
  EXPECT_NE(alarms[0].explanation.find("sent 50 requests"), std::string::npos)
      << alarms[0].explanation;
  EXPECT_NE(alarms[0].explanation.find("baseline of 0.0 +/- 0.0"), std::string::npos)
      << alarms[0].explanation;
}

TEST(AnomalyDetectorTest, MinRequestsSuppresses) {
  AnomalyDetector d(DetectorConfig{});  // min_requests 50
  ASSERT_TRUE(Baseline(d, Obs("vn-shipper"), 0, 20, 2).empty());
  EXPECT_TRUE(SendInInterval(d, Obs("vn-shipper"), 20, 49).empty());
  std::vector<Alarm> alarms = d.Observe(Obs("vn-shipper"), Interval(20) + milliseconds(950));
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-shipper")), 1) << Describe(alarms);
}

TEST(AnomalyDetectorTest, DeniedBurstOncePerWindow) {
  DetectorConfig c;
  c.denied_burst = 5;
  c.denied_window = seconds(10);
  AnomalyDetector d(c);
  Observation denied = Obs("vn-shipper");
  denied.denied = true;
  // Four denials, then the window slides past them: nothing.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(d.Observe(denied, kT0 + seconds(i)).empty());
  EXPECT_TRUE(d.Observe(denied, kT0 + seconds(13)).empty());
  // Allowed requests do not count.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(d.Observe(Obs("vn-shipper"), kT0 + seconds(14)).empty());
  std::vector<Alarm> alarms;
  for (int i = 0; i < 4; ++i) {
    for (Alarm& a : d.Observe(denied, kT0 + seconds(14) + milliseconds(i))) alarms.push_back(a);
  }
  ASSERT_EQ(alarms.size(), 1u) << Describe(alarms);
  EXPECT_EQ(alarms[0].detector, "denied_burst");
  EXPECT_EQ(alarms[0].scope, Scope::Enterprise("vn-shipper"));
  EXPECT_NE(alarms[0].explanation.find("5 requests denied by the policy within 1.0 s "
                                       "(threshold 5 within 10 s)"),
            std::string::npos)
      << alarms[0].explanation;
  // The window started afresh: four more raise nothing.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(d.Observe(denied, kT0 + seconds(15)).empty());
  EXPECT_EQ(d.Observe(denied, kT0 + seconds(15)).size(), 1u);
}

TEST(AnomalyDetectorTest, ScrapingByRecipients) {
  DetectorConfig c;
  c.distinct_recipients = 5;
  c.scraping_window = seconds(60);
  AnomalyDetector d(c);
  Observation o = Obs("vn-shipper");
  // Four recipients, then one more after the window passed them: nothing.
  for (int i = 0; i < 4; ++i) {
    o.recipient = "r" + std::to_string(i);
    EXPECT_TRUE(d.Observe(o, kT0).empty());
  }
  o.recipient = "r4";
  EXPECT_TRUE(d.Observe(o, kT0 + seconds(61)).empty());
  // The same recipient again and again is one.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(d.Observe(o, kT0 + seconds(62)).empty());
  std::vector<Alarm> alarms;
  for (int i = 5; i < 9; ++i) {
    o.recipient = "r" + std::to_string(i);
    for (Alarm& a : d.Observe(o, kT0 + seconds(63))) alarms.push_back(a);
  }
  ASSERT_EQ(alarms.size(), 1u) << Describe(alarms);
  EXPECT_EQ(alarms[0].detector, "scraping");
  EXPECT_EQ(alarms[0].scope, Scope::Enterprise("vn-shipper"));
  EXPECT_NE(alarms[0].explanation.find("5 distinct recipients within 60 s"), std::string::npos)
      << alarms[0].explanation;
}

TEST(AnomalyDetectorTest, ScrapingByCategories) {
  DetectorConfig c;
  c.distinct_categories = 3;
  AnomalyDetector d(c);
  Observation o = Obs("vn-shipper");
  std::vector<Alarm> alarms;
  for (const char* cat : {"a", "b", "b", "c", "d", "e"}) {
    o.category = cat;
    for (Alarm& a : d.Observe(o, kT0)) alarms.push_back(a);
  }
  ASSERT_EQ(alarms.size(), 1u) << Describe(alarms);  // at "c"; d, e: a fresh window
  EXPECT_EQ(alarms[0].detector, "scraping");
  EXPECT_NE(alarms[0].explanation.find("3 distinct categories"), std::string::npos)
      << alarms[0].explanation;
}

TEST(AnomalyDetectorTest, AuthFailuresPerClaimedIdentity) {
  DetectorConfig c;
  c.auth_failures = 3;
  c.auth_window = seconds(60);
  AnomalyDetector d(c);
  EXPECT_TRUE(d.ObserveAuthFailure("vn-shipper", kT0).empty());
  EXPECT_TRUE(d.ObserveAuthFailure("10.0.0.9:5555", kT0).empty());
  EXPECT_TRUE(d.ObserveAuthFailure("vn-shipper", kT0 + seconds(1)).empty());
  std::vector<Alarm> alarms = d.ObserveAuthFailure("vn-shipper", kT0 + seconds(2));
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].detector, "auth_failures");
  EXPECT_EQ(alarms[0].scope, Scope::Enterprise("vn-shipper"));
  EXPECT_NE(alarms[0].explanation.find("3 handshakes of vn-shipper were refused within 2.0 s"),
            std::string::npos)
      << alarms[0].explanation;
  // One alarm per window: the count starts afresh.
  EXPECT_TRUE(d.ObserveAuthFailure("vn-shipper", kT0 + seconds(3)).empty());
  EXPECT_TRUE(d.ObserveAuthFailure("vn-shipper", kT0 + seconds(3)).empty());
  // Failures older than the window do not count.
  EXPECT_TRUE(d.ObserveAuthFailure("10.0.0.9:5555", kT0 + seconds(70)).empty());
  EXPECT_TRUE(d.ObserveAuthFailure("10.0.0.9:5555", kT0 + seconds(70)).empty());
  EXPECT_EQ(d.ObserveAuthFailure("10.0.0.9:5555", kT0 + seconds(70)).size(), 1u);
}

TEST(AnomalyDetectorTest, SecondEnterpriseUnaffected) {
  AnomalyDetector d(DetectorConfig{});
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(SendInInterval(d, Obs("vn-shipper"), i, 60).empty());
    ASSERT_TRUE(SendInInterval(d, Obs("th-farm", 1024, "TH", "CN"), i, 60).empty());
  }
  std::vector<Alarm> alarms = SendInInterval(d, Obs("vn-shipper"), 30, 600);
  std::vector<Alarm> other = SendInInterval(d, Obs("th-farm", 1024, "TH", "CN"), 30, 60);
  EXPECT_EQ(Count(alarms, "rate_spike", Scope::Enterprise("vn-shipper")), 1) << Describe(alarms);
  EXPECT_TRUE(other.empty()) << Describe(other);
  for (const Alarm& a : alarms) {
    EXPECT_NE(a.scope, Scope::Enterprise("th-farm"));
    EXPECT_NE(a.scope, Scope::Route("TH", "CN"));
  }
}

TEST(AnomalyDetectorTest, DisabledRaisesNothing) {
  DetectorConfig c;
  c.enabled = false;
  c.auth_failures = 1;
  AnomalyDetector d(c);
  Baseline(d, Obs("vn-shipper"), 0, 20, 60);
  EXPECT_TRUE(SendInInterval(d, Obs("vn-shipper"), 20, 1000).empty());
  EXPECT_TRUE(d.ObserveAuthFailure("x", kT0).empty());
  c.enabled = true;
  d.Reconfigure(c);
  EXPECT_EQ(d.ObserveAuthFailure("x", kT0).size(), 1u);
}

}  // namespace
}  // namespace beibu::gateway
