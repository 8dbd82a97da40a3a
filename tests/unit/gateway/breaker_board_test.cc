// The breaker state machine on an injected wall clock: automatic trips,
// cool-down, probes, operator and hub holds, coverage, restart, on_change.
#include "beibu/gateway/breaker_board.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "beibu/gateway/breaker_store.h"
#include "google/protobuf/util/time_util.h"
#include "temp_dir.h"

namespace beibu::gateway {
namespace {

using Clock = BreakerBoard::Clock;
using Change = BreakerBoard::Change;
using std::chrono::hours;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(seconds(1795824000));  // 2026-11-28T00:00:00Z

BreakerConfig Config(uint32_t budget = 2) {
  BreakerConfig c;
  c.cool_down = seconds(30);
  c.probe_budget = budget;
  return c;
}

Alarm SpikeOf(const std::string& enterprise) {
  return Alarm{"rate_spike", Scope::Enterprise(enterprise),
               "enterprise " + enterprise + " sent 600 requests"};
}

bool Has(const absl::Status& s, const std::string& text) {
  return s.message().find(text) != absl::string_view::npos;
}

// Records saves, erases and changes in one log, so the order between them
// can be checked.
class FakeStore : public BreakerBoard::Store {
 public:
  absl::Status Save(const v1::Breaker& b) override {
    log.push_back("save " + b.scope() + " " + v1::BreakerState_Name(b.state()));
    if (fail_save) return absl::InternalError("disk full");
    saved[b.scope()] = b;
    return absl::OkStatus();
  }
  absl::Status Erase(const std::string& scope) override {
    log.push_back("erase " + scope);
    if (fail_erase) return absl::InternalError("disk gone");
    saved.erase(scope);
    return absl::OkStatus();
  }
  std::vector<v1::Breaker> Loaded() const {
    std::vector<v1::Breaker> out;
    for (const auto& [k, b] : saved) out.push_back(b);
    return out;
  }

  std::map<std::string, v1::Breaker> saved;
  std::vector<std::string> log;
  bool fail_save = false;
  bool fail_erase = false;
};

const char* Name(Change c) {
  switch (c) {
    case Change::kTripped:
      return "tripped";
    case Change::kHalfOpen:
      return "half_open";
    case Change::kClosed:
      return "closed";
  }
  return "?";
}

struct Fixture {
  explicit Fixture(BreakerConfig config = Config(), std::vector<v1::Breaker> loaded = {}) {
    board = std::make_unique<BreakerBoard>(
        config, &store, std::move(loaded), [this](Change c, const v1::Breaker& b) {
          store.log.push_back(std::string(Name(c)) + " " + b.scope() + " " +
                              v1::BreakerState_Name(b.state()));
          // Outside the board's lock: calling back in must not deadlock.
          (void)board->Holds("x", "VN", "CN");
        });
  }
  FakeStore store;
  std::unique_ptr<BreakerBoard> board;
};

TEST(BreakerBoardTest, NothingOpenAdmitsWithoutProbes) {
  Fixture f;
  auto a = f.board->Admit("vn-shipper", "VN", "CN", kT0);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->probing.empty());
  f.board->Finish(*a, kT0);
  EXPECT_FALSE(f.board->Holds("vn-shipper", "VN", "CN", kT0));
  EXPECT_TRUE(f.board->List(kT0).empty());
  EXPECT_TRUE(f.store.log.empty());
}

TEST(BreakerBoardTest, AutomaticTripCoolsDownProbesAndCloses) {
  Fixture f;
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  auto refused = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(1));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(refused.status(), "\"enterprise:vn-shipper\"")) << refused.status();
  EXPECT_TRUE(Has(refused.status(), "detector:rate_spike at 2026-11-28T00:00:00Z"))
      << refused.status();
  EXPECT_TRUE(Has(refused.status(), "sent 600 requests")) << refused.status();
  EXPECT_TRUE(Has(refused.status(), "from 2026-11-28T00:00:30Z: retry after that"))
      << refused.status();
  EXPECT_TRUE(f.board->Admit("cn-buyer", "VN", "CN", kT0 + seconds(1)).ok());
  EXPECT_TRUE(f.board->Holds("vn-shipper", "VN", "CN", kT0 + seconds(1)));
  EXPECT_FALSE(f.board->Holds("cn-buyer", "VN", "CN", kT0 + seconds(1)));

  // Cool-down over: two probes pass, the third waits for them.
  const Clock::time_point t = kT0 + seconds(30);
  auto p1 = f.board->Admit("vn-shipper", "VN", "CN", t);
  auto p2 = f.board->Admit("vn-shipper", "VN", "TH", t);
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p1->probing, std::vector<std::string>{"enterprise:vn-shipper"});
  auto p3 = f.board->Admit("vn-shipper", "VN", "CN", t);
  ASSERT_EQ(p3.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(p3.status(), "half-open")) << p3.status();
  EXPECT_TRUE(f.board->Holds("vn-shipper", "VN", "CN", t));

  f.board->Finish(*p1, t);
  std::vector<v1::Breaker> listed = f.board->List(t);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(listed[0].probes_passed(), 1u);
  EXPECT_EQ(listed[0].probes_left(), 0u);
  f.board->Finish(*p2, t);
  EXPECT_TRUE(f.board->List(t).empty());
  EXPECT_FALSE(f.board->Holds("vn-shipper", "VN", "CN", t));
  auto after = f.board->Admit("vn-shipper", "VN", "CN", t);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->probing.empty());
  EXPECT_TRUE(f.store.saved.empty());
  EXPECT_EQ(f.store.log, (std::vector<std::string>{
                             "save enterprise:vn-shipper BREAKER_OPEN",
                             "tripped enterprise:vn-shipper BREAKER_OPEN",
                             "save enterprise:vn-shipper BREAKER_HALF_OPEN",
                             "half_open enterprise:vn-shipper BREAKER_HALF_OPEN",
                             "erase enterprise:vn-shipper",
                             "closed enterprise:vn-shipper BREAKER_CLOSED",
                         }));
}

TEST(BreakerBoardTest, AlarmWhileHalfOpenReopensAndWhileOpenDoesNotExtend) {
  Fixture f;
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0 + seconds(20));  // open: no change
  auto probe = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(30));
  ASSERT_TRUE(probe.ok()) << probe.status();
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0 + seconds(31));
  std::vector<v1::Breaker> listed = f.board->List(kT0 + seconds(31));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::BREAKER_OPEN);
  EXPECT_EQ(listed[0].trips(), 2u);
  EXPECT_EQ(google::protobuf::util::TimeUtil::ToString(listed[0].half_open_at()),
            "2026-11-28T00:01:01Z");
  f.board->Finish(*probe, kT0 + seconds(32));  // its breaker is open again: no effect
  EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(60)).ok());
  auto again = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(61));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->probing.size(), 1u);
  EXPECT_EQ(std::count(f.store.log.begin(), f.store.log.end(),
                       "tripped enterprise:vn-shipper BREAKER_OPEN"),
            2);
}

TEST(BreakerBoardTest, AuthFailureAlarmsTripNothing) {
  Fixture f;
  f.board->TripByAlarm(Alarm{"auth_failures", Scope::Enterprise("vn-shipper"), "10 refused"}, kT0);
  EXPECT_TRUE(f.board->Admit("vn-shipper", "VN", "CN", kT0).ok());
  EXPECT_TRUE(f.store.log.empty());
}

TEST(BreakerBoardTest, OperatorTripHoldsUntilReset) {
  Fixture f;
  EXPECT_EQ(f.board->Trip(Scope::Route("VN", "CN"), " ", "operator:alice", kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto tripped = f.board->Trip(Scope::Route("VN", "CN"), "incident 4711", "operator:alice", kT0);
  ASSERT_TRUE(tripped.ok());
  EXPECT_EQ(tripped->state(), v1::BREAKER_OPEN);
  EXPECT_EQ(tripped->tripped_by(), "operator:alice");
  EXPECT_EQ(tripped->trips(), 1u);
  f.board->TripByAlarm(Alarm{"rate_spike", Scope::Route("VN", "CN"), "spike"}, kT0);  // held
  auto refused = f.board->Admit("vn-shipper", "VN", "CN", kT0 + hours(24));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(refused.status(), "\"route:VN>CN\"")) << refused.status();
  EXPECT_TRUE(Has(refused.status(), "incident 4711")) << refused.status();
  EXPECT_TRUE(Has(refused.status(), "ask the operator of this edge")) << refused.status();
  EXPECT_EQ(f.board->List(kT0 + hours(24)).at(0).tripped_by(), "operator:alice");

  EXPECT_EQ(f.board->Reset(Scope::Route("VN", "CN"), "", "operator:bob", kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.board->Reset(Scope::Route("VN", "TH"), "x", "operator:bob", kT0).status().code(),
            absl::StatusCode::kNotFound);
  auto reset = f.board->Reset(Scope::Route("VN", "CN"), "cleared", "operator:bob", kT0 + hours(25));
  ASSERT_TRUE(reset.ok()) << reset.status();
  EXPECT_EQ(reset->state(), v1::BREAKER_CLOSED);
  EXPECT_NE(reset->reason().find("reset by operator:bob"), std::string::npos) << reset->reason();
  EXPECT_TRUE(f.board->Admit("vn-shipper", "VN", "CN", kT0 + hours(25)).ok());
  EXPECT_EQ(f.board->Reset(Scope::Route("VN", "CN"), "x", "operator:bob", kT0).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(f.store.saved.empty());
}

TEST(BreakerBoardTest, OperatorTripOfAnAutomaticBreakerHoldsIt) {
  Fixture f;
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  auto held = f.board->Trip(Scope::Enterprise("vn-shipper"), "investigating", "operator:alice",
                            kT0 + seconds(5));
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->trips(), 2u);
  EXPECT_FALSE(held->has_half_open_at());
  EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", kT0 + hours(1)).ok());
}

TEST(BreakerBoardTest, HubSetAppliesReplacesAndDrops) {
  Fixture f;
  ASSERT_TRUE(f.board->Trip(Scope::Enterprise("vn-shipper"), "local", "operator:alice", kT0).ok());
  v1::Breaker global;
  global.set_scope("global");
  global.set_reason("regulator order");
  global.set_tripped_by("hub:hub-1");
  *global.mutable_tripped_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1795820000);
  v1::Breaker ent;
  ent.set_scope("enterprise:vn-shipper");
  ent.set_reason("hub says so");
  ent.set_tripped_by("hub:hub-1");
  v1::Breaker bad;
  bad.set_scope("route:nope");

  f.board->ApplyHubSet({global, ent, bad}, kT0);
  auto refused = f.board->Admit("cn-buyer", "CN", "VN", kT0);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(refused.status(), "\"global\"")) << refused.status();
  EXPECT_TRUE(Has(refused.status(), "hub")) << refused.status();
  auto reset = f.board->Reset(Scope::Global(), "please", "operator:alice", kT0);
  ASSERT_EQ(reset.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(reset.status(), "held by the hub")) << reset.status();
  EXPECT_TRUE(Has(reset.status(), "reset it at the hub")) << reset.status();
  EXPECT_EQ(
      f.board->Reset(Scope::Enterprise("vn-shipper"), "x", "operator:alice", kT0).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.board->Trip(Scope::Global(), "mine", "operator:alice", kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  std::vector<v1::Breaker> listed = f.board->List(kT0);
  ASSERT_EQ(listed.size(), 2u);
  for (const v1::Breaker& b : listed) EXPECT_TRUE(b.from_hub()) << b.ShortDebugString();
  ASSERT_TRUE(f.store.saved.count("global"));
  EXPECT_TRUE(f.store.saved["global"].from_hub());

  // The same set again changes nothing.
  size_t log_size = f.store.log.size();
  f.board->ApplyHubSet({global, ent}, kT0 + seconds(1));
  EXPECT_EQ(f.store.log.size(), log_size);

  // Replaced: global and the enterprise close (the enterprise too: it was
  // the hub's while the hub held it), the route opens.
  v1::Breaker route;
  route.set_scope("route:VN>CN");
  route.set_reason("incident");
  route.set_tripped_by("hub:hub-1");
  f.board->ApplyHubSet({route}, kT0 + seconds(2));
  EXPECT_TRUE(f.board->Admit("cn-buyer", "CN", "VN", kT0 + seconds(2)).ok());
  EXPECT_TRUE(f.board->Admit("vn-shipper", "VN", "TH", kT0 + seconds(2)).ok());
  EXPECT_FALSE(f.board->Admit("cn-buyer", "VN", "CN", kT0 + seconds(2)).ok());
  EXPECT_EQ(std::vector<std::string>(f.store.log.end() - 6, f.store.log.end()),
            (std::vector<std::string>{
                "save route:VN>CN BREAKER_OPEN",
                "erase enterprise:vn-shipper",
                "erase global",
                "tripped route:VN>CN BREAKER_OPEN",
                "closed enterprise:vn-shipper BREAKER_CLOSED",
                "closed global BREAKER_CLOSED",
            }));

  f.board->ApplyHubSet({}, kT0 + seconds(3));
  EXPECT_TRUE(f.board->List(kT0 + seconds(3)).empty());
  EXPECT_TRUE(f.store.saved.empty());
}

TEST(BreakerBoardTest, HoldsAndAdmitCoverEachScopeKind) {
  struct Case {
    Scope scope;
    bool covers_vn_shipper_vn_cn;
    bool covers_vn_shipper_vn_th;
    bool covers_cn_buyer_cn_vn;
    bool covers_th_farm_vn_cn;
  };
  for (const Case& c : {Case{Scope::Global(), true, true, true, true},
                        Case{Scope::Route("VN", "CN"), true, false, false, true},
                        Case{Scope::Enterprise("vn-shipper"), true, true, false, false}}) {
    Fixture f;
    ASSERT_TRUE(f.board->Trip(c.scope, "test", "operator:alice", kT0).ok());
    auto check = [&](const std::string& e, const std::string& from, const std::string& to,
                     bool covered) {
      EXPECT_EQ(f.board->Holds(e, from, to, kT0), covered) << c.scope.ToString() << " " << e;
      EXPECT_EQ(!f.board->Admit(e, from, to, kT0).ok(), covered) << c.scope.ToString() << " " << e;
    };
    check("vn-shipper", "VN", "CN", c.covers_vn_shipper_vn_cn);
    check("vn-shipper", "VN", "TH", c.covers_vn_shipper_vn_th);
    check("cn-buyer", "CN", "VN", c.covers_cn_buyer_cn_vn);
    check("th-farm", "VN", "CN", c.covers_th_farm_vn_cn);
  }
}

TEST(BreakerBoardTest, RefusalNamesTheFirstOfSeveralOpenScopes) {
  Fixture f;
  ASSERT_TRUE(f.board->Trip(Scope::Enterprise("vn-shipper"), "e", "operator:a", kT0).ok());
  ASSERT_TRUE(f.board->Trip(Scope::Route("VN", "CN"), "r", "operator:a", kT0).ok());
  ASSERT_TRUE(f.board->Trip(Scope::Global(), "g", "operator:a", kT0).ok());
  for (const char* expected : {"\"global\"", "\"route:VN>CN\"", "\"enterprise:vn-shipper\""}) {
    auto s = f.board->Admit("vn-shipper", "VN", "CN", kT0);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(Has(s.status(), expected)) << s.status();
    ASSERT_TRUE(
        f.board
            ->Reset(Scope::Parse(std::string(expected).substr(1, strlen(expected) - 2)).value(),
                    "done", "operator:a", kT0)
            .ok());
  }
  EXPECT_TRUE(f.board->Admit("vn-shipper", "VN", "CN", kT0).ok());
}

TEST(BreakerBoardTest, HalfOpenProbesLostBeforeFinishAreRenewedAfterACoolDown) {
  Fixture f(Config(1));
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  ASSERT_TRUE(f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(30)).ok());  // never finished
  EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(59)).ok());
  auto probe = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(60));
  ASSERT_TRUE(probe.ok()) << probe.status();
  f.board->Finish(*probe, kT0 + seconds(60));
  EXPECT_TRUE(f.board->List(kT0 + seconds(60)).empty());
}

// Regression: a probe refused by the rate limit, or failed before its
// decision, used to count as passed, so a sender over its rate closed its own
// breaker by being refused five times.
TEST(BreakerBoardTest, AbandonedProbesGiveTheirSlotBackAndPassNothing) {
  Fixture f(Config(5));
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  const Clock::time_point t = kT0 + seconds(30);
  for (int i = 0; i < 5; ++i) {
    auto probe = f.board->Admit("vn-shipper", "VN", "CN", t);
    ASSERT_TRUE(probe.ok()) << i << " " << probe.status();
    ASSERT_EQ(probe->probing.size(), 1u);
    f.board->Abandon(*probe);
  }
  std::vector<v1::Breaker> listed = f.board->List(t);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(listed[0].probes_passed(), 0u);
  EXPECT_EQ(listed[0].probes_left(), 5u);
  EXPECT_TRUE(f.board->Holds("vn-shipper", "VN", "CN", t));

  // All slots taken, one abandoned: exactly that one is admitted again.
  std::vector<BreakerBoard::Admission> out;
  for (int i = 0; i < 5; ++i) out.push_back(f.board->Admit("vn-shipper", "VN", "CN", t).value());
  EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", t).ok());
  f.board->Abandon(out[0]);
  out[0] = f.board->Admit("vn-shipper", "VN", "CN", t).value();
  EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", t).ok());
  // Only decided probes close it.
  for (int i = 0; i < 4; ++i) f.board->Finish(out[i], t);
  EXPECT_EQ(f.board->List(t).size(), 1u);
  f.board->Finish(out[4], t);
  EXPECT_TRUE(f.board->List(t).empty());
  EXPECT_EQ(f.store.log.back(), "closed enterprise:vn-shipper BREAKER_CLOSED");
}

// Regression: a probe admitted before a re-trip counted as passed in the
// next half-open phase.
TEST(BreakerBoardTest, AProbeOfAnEarlierHalfOpenPhaseCountsForNothing) {
  Fixture f(Config(1));
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  auto old_probe = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(30));
  ASSERT_TRUE(old_probe.ok()) << old_probe.status();
  ASSERT_EQ(old_probe->probing.size(), 1u);
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0 + seconds(31));  // re-opens it
  const Clock::time_point t = kT0 + seconds(61);
  std::vector<v1::Breaker> listed = f.board->List(t);
  ASSERT_EQ(listed.size(), 1u);
  ASSERT_EQ(listed[0].state(), v1::BREAKER_HALF_OPEN);

  f.board->Finish(*old_probe, t);
  listed = f.board->List(t);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(listed[0].probes_passed(), 0u);
  f.board->Abandon(*old_probe);  // gives back no slot of this phase
  auto probe = f.board->Admit("vn-shipper", "VN", "CN", t);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", t).ok());
  f.board->Finish(*probe, t);
  EXPECT_TRUE(f.board->List(t).empty());
}

// Regression: a half-open breaker closed only after probe_budget new sends,
// so held data of a scope that sent nothing new stayed held for ever.
TEST(BreakerBoardTest, AQuietHalfOpenBreakerClosesAfterOneMoreCoolDown) {
  Fixture f;
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  ASSERT_EQ(f.board->List(kT0 + seconds(30)).at(0).state(), v1::BREAKER_HALF_OPEN);
  EXPECT_TRUE(f.board->Holds("vn-shipper", "VN", "CN", kT0 + seconds(59)));
  EXPECT_EQ(f.board->List(kT0 + seconds(59)).size(), 1u);
  // Due: Holds already says so (it cannot change the board), List closes it.
  EXPECT_FALSE(f.board->Holds("vn-shipper", "VN", "CN", kT0 + seconds(60)));
  EXPECT_TRUE(f.board->List(kT0 + seconds(60)).empty());
  EXPECT_TRUE(f.store.saved.empty());
  EXPECT_EQ(f.store.log.back(), "closed enterprise:vn-shipper BREAKER_CLOSED");
  auto after = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(60));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->probing.empty());
  // The closed breaker says why; the next alarm counts as its second trip.
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0 + seconds(61));
  EXPECT_EQ(f.board->List(kT0 + seconds(61)).at(0).trips(), 2u);
}

TEST(BreakerBoardTest, QuietCloseReasonAndTimingWithProbesAndWithoutAnyCall) {
  std::vector<v1::Breaker> closed;
  BreakerBoard board(Config(2), nullptr, {}, [&](Change c, const v1::Breaker& b) {
    if (c == Change::kClosed) closed.push_back(b);
  });
  // Nobody asked for two cool-downs: it half-opened and went quiet meanwhile.
  board.TripByAlarm(SpikeOf("a"), kT0);
  EXPECT_TRUE(board.Holds("a", "VN", "CN", kT0 + seconds(59)));
  EXPECT_FALSE(board.Holds("a", "VN", "CN", kT0 + seconds(60)));
  EXPECT_TRUE(board.List(kT0 + seconds(60)).empty());
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_NE(closed[0].reason().find("no sends during one cool-down after half-opening"),
            std::string::npos)
      << closed[0].reason();
  EXPECT_NE(closed[0].reason().find("its held data leaves"), std::string::npos);

  // A probe under way keeps it half-open; an abandoned one restarts the
  // quiet period from its admission.
  board.TripByAlarm(SpikeOf("b"), kT0);
  auto running = board.Admit("b", "VN", "CN", kT0 + seconds(40));
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->probing.size(), 1u);
  EXPECT_TRUE(board.Holds("b", "VN", "CN", kT0 + seconds(75)));
  board.Abandon(*running);
  EXPECT_TRUE(board.Holds("b", "VN", "CN", kT0 + seconds(69)));
  EXPECT_EQ(board.List(kT0 + seconds(69)).size(), 1u);
  EXPECT_FALSE(board.Holds("b", "VN", "CN", kT0 + seconds(70)));
  EXPECT_TRUE(board.List(kT0 + seconds(70)).empty());

  // Probes never ended, taking every slot, are taken as lost after a
  // cool-down (renewed), and the breaker closes one quiet cool-down after that.
  board.TripByAlarm(SpikeOf("c"), kT0);
  ASSERT_TRUE(board.Admit("c", "VN", "CN", kT0 + seconds(40)).ok());  // never ends
  ASSERT_TRUE(board.Admit("c", "VN", "CN", kT0 + seconds(40)).ok());  // never ends
  EXPECT_EQ(board.List(kT0 + seconds(70)).size(), 1u);                // renewed here
  EXPECT_TRUE(board.Holds("c", "VN", "CN", kT0 + seconds(99)));
  EXPECT_FALSE(board.Holds("c", "VN", "CN", kT0 + seconds(100)));
  EXPECT_TRUE(board.List(kT0 + seconds(100)).empty());
  EXPECT_EQ(closed.size(), 3u);

  // Operator and hub holds never close by themselves.
  ASSERT_TRUE(board.Trip(Scope::Enterprise("d"), "held", "operator:a", kT0).ok());
  EXPECT_TRUE(board.Holds("d", "VN", "CN", kT0 + hours(24)));
  EXPECT_EQ(board.List(kT0 + hours(24)).size(), 1u);
}

// Regression: every Admit waited for an on_change in progress (the edge's
// release of held data) whenever any breaker was active, even with nothing
// to report.
TEST(BreakerBoardTest, ACallThatChangesNothingDoesNotWaitForOnChange) {
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false;
  bool release = false;
  BreakerBoard board(Config(), nullptr, {}, [&](Change c, const v1::Breaker& b) {
    if (c != Change::kTripped || b.scope() != "enterprise:slow") return;
    std::unique_lock<std::mutex> lock(mu);
    inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  std::thread reporter(
      [&] { ASSERT_TRUE(board.Trip(Scope::Enterprise("slow"), "x", "operator:a", kT0).ok()); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(20), [&] { return inside; }));
  }
  std::atomic<bool> done{false};
  std::thread caller([&] {
    auto a = board.Admit("other", "VN", "CN", kT0);
    EXPECT_TRUE(a.ok());
    board.Finish(*a, kT0);
    board.Abandon(*a);
    EXPECT_EQ(board.List(kT0).size(), 1u);
    EXPECT_FALSE(board.Holds("other", "VN", "CN", kT0));
    EXPECT_FALSE(board.Admit("slow", "VN", "CN", kT0).ok());
    done = true;
  });
  // The deadline only guards against the old hang.
  for (auto d = std::chrono::steady_clock::now() + seconds(20);
       !done && std::chrono::steady_clock::now() < d;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(done.load());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  caller.join();
  reporter.join();
}

// A change made while another thread reports is still reported before the
// call that made it returns.
TEST(BreakerBoardTest, AChangeIsReportedBeforeItsCallReturnsWhileAnotherReports) {
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false;
  bool release = false;
  std::vector<std::string> seen;
  BreakerBoard board(Config(), nullptr, {}, [&](Change c, const v1::Breaker& b) {
    std::unique_lock<std::mutex> lock(mu);
    seen.push_back(std::string(Name(c)) + " " + b.scope());
    if (b.scope() != "enterprise:slow") return;
    inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  std::thread reporter(
      [&] { ASSERT_TRUE(board.Trip(Scope::Enterprise("slow"), "x", "operator:a", kT0).ok()); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(20), [&] { return inside; }));
  }
  std::atomic<bool> returned{false};
  std::vector<std::string> seen_at_return;
  std::thread changer([&] {
    ASSERT_TRUE(board.Trip(Scope::Global(), "y", "operator:a", kT0).ok());
    std::lock_guard<std::mutex> lock(mu);
    seen_at_return = seen;
    returned = true;
  });
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  changer.join();
  reporter.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(seen_at_return,
            (std::vector<std::string>{"tripped enterprise:slow", "tripped global"}));
}

TEST(BreakerBoardTest, SaveFailureStillTripsAndEraseFailureKeepsItOpen) {
  Fixture f;
  f.store.fail_save = true;
  f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
  EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", kT0).ok());
  ASSERT_TRUE(f.board->Trip(Scope::Global(), "stop", "operator:a", kT0).ok());
  EXPECT_TRUE(f.board->Holds("cn-buyer", "CN", "VN", kT0));
  f.store.fail_erase = true;
  auto reset = f.board->Reset(Scope::Global(), "go", "operator:a", kT0);
  ASSERT_EQ(reset.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(Has(reset.status(), "stays open")) << reset.status();
  EXPECT_TRUE(f.board->Holds("cn-buyer", "CN", "VN", kT0));
  f.store.fail_erase = false;
  EXPECT_TRUE(f.board->Reset(Scope::Global(), "go", "operator:a", kT0).ok());
  EXPECT_FALSE(f.board->Holds("cn-buyer", "CN", "VN", kT0));
}

TEST(BreakerBoardTest, RestartResumesFromTheStore) {
  testing::TempDir dir;
  {
    auto store = DbBreakerStore::Open((dir / "gateway").string()).value();
    BreakerBoard board(Config(3), store.get(), {});
    board.TripByAlarm(SpikeOf("a"), kT0);                // open, half-opens at +30 s
    board.TripByAlarm(SpikeOf("b"), kT0 - seconds(30));  // half-open below
    ASSERT_TRUE(board.Trip(Scope::Route("VN", "CN"), "held", "operator:x", kT0).ok());
    auto probe = board.Admit("b", "TH", "MY", kT0);  // b half-opens, one probe out
    ASSERT_TRUE(probe.ok());
    ASSERT_EQ(probe->probing.size(), 1u);
    board.Finish(*probe, kT0);  // passed: not saved, the probes start over after a restart
    ASSERT_TRUE(board.Admit("b", "TH", "MY", kT0).ok());  // in flight when the edge stops
  }
  auto store = DbBreakerStore::Open((dir / "gateway").string()).value();
  std::vector<v1::Breaker> loaded = store->LoadAll().value();
  ASSERT_EQ(loaded.size(), 3u);
  v1::Breaker unreadable;
  unreadable.set_scope("bogus");
  unreadable.set_state(v1::BREAKER_OPEN);
  loaded.push_back(unreadable);
  std::vector<std::string> changes;
  BreakerBoard board(
      Config(3), store.get(), loaded,
      [&](Change c, const v1::Breaker& b) {
        changes.push_back(std::string(Name(c)) + " " + b.scope());
      },
      kT0);

  const Clock::time_point t = kT0 + seconds(10);
  std::vector<v1::Breaker> listed = board.List(t);
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].scope(), "enterprise:a");
  EXPECT_EQ(listed[0].state(), v1::BREAKER_OPEN);
  EXPECT_EQ(listed[1].scope(), "enterprise:b");
  EXPECT_EQ(listed[1].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(listed[1].probes_left(), 3u);
  EXPECT_EQ(listed[2].scope(), "route:VN>CN");
  EXPECT_EQ(listed[2].tripped_by(), "operator:x");
  EXPECT_FALSE(board.Admit("a", "TH", "MY", t).ok());
  EXPECT_FALSE(board.Admit("c", "VN", "CN", t + hours(1)).ok());
  EXPECT_TRUE(board.Holds("a", "TH", "MY", t));

  // a's cool-down expired while the edge was down (or after): next use half-opens it.
  auto a = board.Admit("a", "TH", "MY", kT0 + seconds(31));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->probing, std::vector<std::string>{"enterprise:a"});
  EXPECT_EQ(changes, std::vector<std::string>{"half_open enterprise:a"});
  std::vector<v1::Breaker> saved = store->LoadAll().value();
  EXPECT_EQ(saved.size(), 3u);
  for (const v1::Breaker& b : saved) {
    if (b.scope() == "enterprise:a") {
      EXPECT_EQ(b.state(), v1::BREAKER_HALF_OPEN);
    }
  }
}

v1::Breaker AutomaticRecord(const std::string& enterprise, v1::BreakerState state,
                            uint32_t probes_passed = 0) {
  v1::Breaker b;
  b.set_scope("enterprise:" + enterprise);
  b.set_state(state);
  b.set_reason("sent 600 requests");
  b.set_tripped_by("detector:rate_spike");
  *b.mutable_tripped_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
      std::chrono::duration_cast<seconds>(kT0.time_since_epoch()).count());
  *b.mutable_half_open_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
      std::chrono::duration_cast<seconds>((kT0 + seconds(30)).time_since_epoch()).count());
  b.set_trips(1);
  b.set_probes_passed(probes_passed);
  return b;
}

// Regression: a breaker loaded after a restart counted as quiet since its
// half_open_at, so an edge restarted two cool-downs after an automatic trip
// stopped holding at once and closed it on the next List with no probe, and
// a half-open one part-way through its probes closed the same way.
TEST(BreakerBoardTest, AfterARestartABreakerWaitsACoolDownForProbesBeforeAQuietClose) {
  const Clock::time_point start = kT0 + hours(1);  // long after a's and b's cool-down
  std::vector<std::string> changes;
  BreakerBoard board(
      Config(3), nullptr,
      {AutomaticRecord("a", v1::BREAKER_OPEN), AutomaticRecord("b", v1::BREAKER_HALF_OPEN, 2)},
      [&](Change c, const v1::Breaker& b) {
        changes.push_back(std::string(Name(c)) + " " + b.scope() + " " + b.reason());
      },
      start);
  EXPECT_TRUE(board.Holds("a", "VN", "CN", start));
  EXPECT_TRUE(board.Holds("b", "VN", "CN", start));
  std::vector<v1::Breaker> listed = board.List(start);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(listed[1].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(listed[1].probes_left(), 1u);
  EXPECT_TRUE(board.Holds("a", "VN", "CN", start + seconds(29)));
  EXPECT_TRUE(board.Holds("b", "VN", "CN", start + seconds(29)));
  EXPECT_EQ(board.List(start + seconds(29)).size(), 2u);

  // b's last probe passes: it closes by its probes, not quietly.
  auto probe = board.Admit("b", "VN", "CN", start + seconds(29));
  ASSERT_TRUE(probe.ok()) << probe.status();
  board.Finish(*probe, start + seconds(29));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], "half_open enterprise:a sent 600 requests");
  EXPECT_NE(changes[1].find("closed enterprise:b 3 probe sends passed"), std::string::npos)
      << changes[1];
  // a had none: quiet for a whole cool-down after the restart, it closes.
  EXPECT_FALSE(board.Holds("a", "VN", "CN", start + seconds(30)));
  EXPECT_TRUE(board.List(start + seconds(30)).empty());
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_NE(changes[2].find("closed enterprise:a no sends during one cool-down"), std::string::npos)
      << changes[2];
}

// Regression: a probe under way for a cool-down was renewed whenever no other
// probe was admitted (every heartbeat's List), even with slots left, and its
// later Finish was ignored as stale: a long SendStream probe never counted.
TEST(BreakerBoardTest, AProbeTakingLongerThanACoolDownStillPasses) {
  {
    // Slots left: the long probe is not renewed, and the breaker waits for it.
    Fixture f(Config(2));
    f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
    auto slow = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(30));
    ASSERT_TRUE(slow.ok()) << slow.status();
    for (int s = 60; s <= 300; s += 30) {
      ASSERT_EQ(f.board->List(kT0 + seconds(s)).size(), 1u) << s;
      EXPECT_TRUE(f.board->Holds("vn-shipper", "VN", "CN", kT0 + seconds(s))) << s;
    }
    auto quick = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(300));
    ASSERT_TRUE(quick.ok()) << quick.status();
    EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(300)).ok());
    f.board->Finish(*quick, kT0 + seconds(300));
    ASSERT_EQ(f.board->List(kT0 + seconds(300)).size(), 1u);
    f.board->Finish(*slow, kT0 + seconds(301));
    EXPECT_TRUE(f.board->List(kT0 + seconds(301)).empty());
    EXPECT_EQ(f.store.log.back(), "closed enterprise:vn-shipper BREAKER_CLOSED");
  }
  {
    // No slot left: renewed after a cool-down, yet its late decision passes.
    Fixture f(Config(1));
    f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
    auto slow = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(30));
    ASSERT_TRUE(slow.ok()) << slow.status();
    std::vector<v1::Breaker> listed = f.board->List(kT0 + seconds(60));  // renewed here
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].probes_left(), 1u);
    auto other = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(70));
    ASSERT_TRUE(other.ok()) << other.status();
    ASSERT_EQ(other->probing.size(), 1u);
    f.board->Finish(*slow, kT0 + seconds(80));
    EXPECT_TRUE(f.board->List(kT0 + seconds(80)).empty());
    EXPECT_EQ(f.store.log.back(), "closed enterprise:vn-shipper BREAKER_CLOSED");
    f.board->Finish(*other, kT0 + seconds(81));  // its breaker closed: changes nothing
    EXPECT_TRUE(f.board->List(kT0 + seconds(81)).empty());
  }
  {
    // A renewed probe abandoned gives back no second slot.
    Fixture f(Config(1));
    f.board->TripByAlarm(SpikeOf("vn-shipper"), kT0);
    auto slow = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(30));
    ASSERT_TRUE(slow.ok());
    ASSERT_EQ(f.board->List(kT0 + seconds(60)).size(), 1u);  // renewed here
    auto other = f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(70));
    ASSERT_TRUE(other.ok());
    f.board->Abandon(*slow);
    EXPECT_FALSE(f.board->Admit("vn-shipper", "VN", "CN", kT0 + seconds(71)).ok());
    std::vector<v1::Breaker> listed = f.board->List(kT0 + seconds(71));
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].probes_left(), 0u);
    EXPECT_EQ(listed[0].probes_passed(), 0u);
    f.board->Finish(*other, kT0 + seconds(72));
    EXPECT_TRUE(f.board->List(kT0 + seconds(72)).empty());
  }
}

TEST(BreakerBoardTest, OnChangeMayCallBackIntoTheBoard) {
  std::vector<std::string> seen;
  std::unique_ptr<BreakerBoard> board;
  board = std::make_unique<BreakerBoard>(
      Config(), nullptr, std::vector<v1::Breaker>{}, [&](Change c, const v1::Breaker& b) {
        seen.push_back(std::string(Name(c)) + " " + b.scope());
        // A change made from inside on_change is reported after this one.
        if (b.scope() == "global" && c == Change::kTripped) {
          ASSERT_TRUE(board->Reset(Scope::Global(), "undo", "operator:a", kT0).ok());
          seen.push_back("reset returned");
        }
      });
  ASSERT_TRUE(board->Trip(Scope::Global(), "go", "operator:a", kT0).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"tripped global", "reset returned", "closed global"}));
}

TEST(BreakerBoardTest, ConcurrentUseReportsAConsistentHistory) {
  std::mutex mu;
  std::vector<std::pair<Change, v1::Breaker>> history;
  FakeStore store;
  BreakerBoard board(Config(2), nullptr, {}, [&](Change c, const v1::Breaker& b) {
    std::lock_guard<std::mutex> lock(mu);
    history.emplace_back(c, b);
  });
  std::atomic<int64_t> clock_ms{0};
  auto worker = [&](int t) {
    for (int i = 0; i < 3000; ++i) {
      Clock::time_point now = kT0 + std::chrono::milliseconds(clock_ms.fetch_add(7));
      std::string e = "e" + std::to_string((i + t) % 5);
      if (i % 97 == 0) board.TripByAlarm(SpikeOf(e), now);
      if (i % 500 == 0) (void)board.Trip(Scope::Route("VN", "CN"), "x", "operator:a", now);
      if (i % 500 == 250) (void)board.Reset(Scope::Route("VN", "CN"), "x", "operator:a", now);
      auto a = board.Admit(e, "VN", t % 2 ? "CN" : "TH", now);
      if (a.ok() && i % 3 == 0) board.Abandon(*a);
      if (a.ok() && i % 3 != 0) board.Finish(*a, now);
      if (i % 301 == 0) (void)board.List(now);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t);
  for (std::thread& th : threads) th.join();

  // Replaying the reported changes in order gives valid transitions and the
  // board's final state.
  std::map<std::string, v1::BreakerState> state;
  for (const auto& [c, b] : history) {
    v1::BreakerState before = state.count(b.scope()) ? state[b.scope()] : v1::BREAKER_CLOSED;
    switch (c) {
      case Change::kTripped:
        EXPECT_EQ(b.state(), v1::BREAKER_OPEN);
        break;
      case Change::kHalfOpen:
        EXPECT_EQ(before, v1::BREAKER_OPEN) << b.scope();
        break;
      case Change::kClosed:
        EXPECT_NE(before, v1::BREAKER_CLOSED) << b.scope();
        break;
    }
    state[b.scope()] = b.state();
  }
  EXPECT_GT(history.size(), 20u);
  std::map<std::string, v1::BreakerState> listed;
  for (const v1::Breaker& b : board.List(kT0)) listed[b.scope()] = b.state();
  std::erase_if(state, [](const auto& kv) { return kv.second == v1::BREAKER_CLOSED; });
  EXPECT_EQ(state, listed);
}

}  // namespace
}  // namespace beibu::gateway
