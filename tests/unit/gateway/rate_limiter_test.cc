// Token buckets and per-enterprise rate limits, on an injected clock.
#include "beibu/gateway/rate_limiter.h"

#include <gtest/gtest.h>

#include "beibu/gateway/token_bucket.h"

namespace beibu::gateway {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(seconds(1000));

TEST(TokenBucketTest, StartsFullAndRefillsAtItsRate) {
  TokenBucket b(10, 5, kT0);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(b.TryTake(1, kT0).has_value());
  std::optional<Clock::duration> wait = b.TryTake(1, kT0);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, milliseconds(100));
  EXPECT_TRUE(b.TryTake(1, kT0 + milliseconds(99)).has_value());
  EXPECT_FALSE(b.TryTake(1, kT0 + milliseconds(100)).has_value());
  // Refill is capped at the burst.
  EXPECT_DOUBLE_EQ(b.available(kT0 + seconds(100)), 5);
}

TEST(TokenBucketTest, MoreThanTheBurstNeverFits) {
  TokenBucket b(10, 5, kT0);
  std::optional<Clock::duration> wait = b.TryTake(6, kT0 + seconds(100));
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, Clock::duration::max());
  EXPECT_DOUBLE_EQ(b.available(kT0 + seconds(100)), 5);  // took nothing
}

TEST(TokenBucketTest, ClockGoingBackwardsRefillsNothing) {
  TokenBucket b(10, 5, kT0);
  ASSERT_FALSE(b.TryTake(5, kT0).has_value());
  EXPECT_TRUE(b.TryTake(1, kT0 - seconds(10)).has_value());
  EXPECT_DOUBLE_EQ(b.available(kT0 - seconds(10)), 0);
  // Forward again from the latest time seen: only the real elapsed time counts.
  EXPECT_NEAR(b.available(kT0 + milliseconds(200)), 2, 1e-9);
}

TEST(TokenBucketTest, UnlimitedAlwaysAdmits) {
  TokenBucket b(0, 0, kT0);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(b.TryTake(1e9, kT0).has_value());
  EXPECT_EQ(b.TakeOwing(1e12, kT0), Clock::duration::zero());
}

TEST(TokenBucketTest, TakeOwingGoesIntoDebtAndSaysHowLong) {
  TokenBucket b(1000, 1000, kT0);
  EXPECT_EQ(b.TakeOwing(500, kT0), Clock::duration::zero());
  EXPECT_EQ(b.TakeOwing(2500, kT0), seconds(2));
  EXPECT_DOUBLE_EQ(b.available(kT0), -2000);
  EXPECT_EQ(b.TimeUntil(0, kT0 + seconds(1)), seconds(1));
}

RateLimitConfig TwoClasses() {
  RateLimitConfig c;
  c.classes["default"] = RateClass{10, 10, 1000, 2000};
  c.classes["bulk"] = RateClass{100, 0, 0, 0};  // burst: one second's worth; bytes unlimited
  c.enterprise_class["vn-shipper"] = "bulk";
  return c;
}

int Admitted(RateLimiter& l, const std::string& e, int n, uint64_t bytes, Clock::time_point t) {
  int ok = 0;
  for (int i = 0; i < n; ++i) ok += l.Admit(e, bytes, t).ok();
  return ok;
}

TEST(RateLimiterTest, ClassesAndDefault) {
  RateLimiter l(TwoClasses());
  EXPECT_EQ(Admitted(l, "cn-buyer", 50, 1, kT0), 10);            // default: burst 10
  EXPECT_EQ(Admitted(l, "vn-shipper", 500, 1 << 20, kT0), 100);  // bulk: burst 100, bytes free
  EXPECT_EQ(Admitted(l, "th-other", 50, 1, kT0), 10);            // its own default buckets
  // One second refills the default class's 10 requests.
  EXPECT_EQ(Admitted(l, "cn-buyer", 50, 1, kT0 + seconds(1)), 10);
}

TEST(RateLimiterTest, NoDefaultClassMeansNoLimit) {
  RateLimitConfig c = TwoClasses();
  c.classes.erase("default");
  RateLimiter l(c);
  EXPECT_EQ(Admitted(l, "cn-buyer", 10000, 1 << 30, kT0), 10000);
  EXPECT_EQ(Admitted(l, "vn-shipper", 500, 1, kT0), 100);
}

TEST(RateLimiterTest, RefusalNamesClassAndLimitWithARetryHint) {
  RateLimiter l(TwoClasses());
  ASSERT_EQ(Admitted(l, "cn-buyer", 10, 1, kT0), 10);
  absl::Status s = l.Admit("cn-buyer", 1, kT0 + milliseconds(30));
  ASSERT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("class \"default\""), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("10 requests/s"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("retry in 70 ms"), absl::string_view::npos) << s;
  EXPECT_EQ(RateLimiter::RetryAfterMs(s), 70);
  EXPECT_TRUE(l.Admit("cn-buyer", 1, kT0 + milliseconds(100)).ok());
}

TEST(RateLimiterTest, ByteLimitTakesNothingWhenRefused) {
  RateLimiter l(TwoClasses());  // default: 1000 B/s, burst 2000
  ASSERT_TRUE(l.Admit("cn-buyer", 1500, kT0).ok());
  absl::Status s = l.Admit("cn-buyer", 1000, kT0);
  ASSERT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("payload bytes"), absl::string_view::npos) << s;
  EXPECT_EQ(RateLimiter::RetryAfterMs(s), 500);
  // The refused request took no request token: 9 are left.
  EXPECT_EQ(Admitted(l, "cn-buyer", 20, 0, kT0), 9);
}

TEST(RateLimiterTest, RequestLargerThanTheByteBurstNeverPasses) {
  RateLimiter l(TwoClasses());
  absl::Status s = l.Admit("cn-buyer", 2001, kT0);
  ASSERT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("can never pass"), absl::string_view::npos) << s;
  EXPECT_EQ(RateLimiter::RetryAfterMs(s), -1);
}

TEST(RateLimiterTest, RetryAfterMsParsesOnlyItsOwnHint) {
  EXPECT_EQ(RateLimiter::RetryAfterMs(absl::ResourceExhaustedError("x; retry in 1234 ms")), 1234);
  EXPECT_EQ(RateLimiter::RetryAfterMs(absl::ResourceExhaustedError("retry in 5 ms, then")), 5);
  EXPECT_EQ(RateLimiter::RetryAfterMs(absl::ResourceExhaustedError("retry in ms")), -1);
  EXPECT_EQ(RateLimiter::RetryAfterMs(absl::ResourceExhaustedError("retry in 12 s")), -1);
  EXPECT_EQ(RateLimiter::RetryAfterMs(absl::ResourceExhaustedError("no hint")), -1);
  EXPECT_EQ(RateLimiter::RetryAfterMs(
                absl::ResourceExhaustedError("retry in 99999999999999999999999 ms")),
            -1);
  EXPECT_EQ(RateLimiter::RetryAfterMs(absl::UnavailableError("retry in 10 ms")), -1);
  EXPECT_EQ(RateLimiter::RetryAfterMs(absl::OkStatus()), -1);
}

TEST(RateLimiterTest, TakeBytesPacesStreamsWithDebt) {
  RateLimiter l(TwoClasses());  // default: 1000 B/s, burst 2000
  ASSERT_TRUE(l.Admit("cn-buyer", 0, kT0).ok());
  EXPECT_EQ(l.TakeBytes("cn-buyer", 1500, kT0), Clock::duration::zero());
  EXPECT_EQ(l.TakeBytes("cn-buyer", 1500, kT0), seconds(1));  // 1000 B in debt
  EXPECT_EQ(l.TakeBytes("cn-buyer", 500, kT0 + seconds(1)), milliseconds(500));
  // While in debt, a request with bytes waits for the debt too.
  absl::Status s = l.Admit("cn-buyer", 10, kT0 + seconds(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RateLimiter::RetryAfterMs(s), 510);
  // Unlimited enterprises and dimensions are never paced.
  EXPECT_EQ(l.TakeBytes("vn-shipper", 1ull << 40, kT0), Clock::duration::zero());
}

TEST(RateLimiterTest, ReconfigureRefillsOnlyChangedClasses) {
  RateLimitConfig c = TwoClasses();
  c.classes["other"] = RateClass{5, 5, 0, 0};
  c.enterprise_class["th-other"] = "other";
  RateLimiter l(c);
  ASSERT_EQ(Admitted(l, "cn-buyer", 20, 0, kT0), 10);
  ASSERT_EQ(Admitted(l, "th-other", 20, 0, kT0), 5);
  c.classes["default"].requests_per_second = 20;
  c.classes["default"].burst_requests = 20;
  l.Reconfigure(c);
  EXPECT_EQ(Admitted(l, "cn-buyer", 50, 0, kT0), 20);  // new limits, full bucket
  EXPECT_EQ(Admitted(l, "th-other", 20, 0, kT0), 0);   // unchanged: still empty
  c.enterprise_class.erase("th-other");                // now under the new default
  l.Reconfigure(c);
  EXPECT_EQ(Admitted(l, "th-other", 50, 0, kT0), 20);
  c.classes.erase("default");
  l.Reconfigure(c);
  EXPECT_EQ(Admitted(l, "cn-buyer", 1000, 0, kT0), 1000);
}

TEST(RateLimiterTest, ManyEnterprisesStayCorrectAcrossSweeps) {
  RateLimitConfig c;
  c.classes["default"] = RateClass{1, 1, 0, 0};
  RateLimiter l(c);
  // 150k enterprises: the map is swept of full buckets past 100k; the empty
  // ones (just used) are kept and still refuse.
  for (int i = 0; i < 150000; ++i) {
    ASSERT_TRUE(l.Admit("e" + std::to_string(i), 0, kT0 + seconds(i / 1000)).ok());
  }
  EXPECT_FALSE(l.Admit("e149999", 0, kT0 + seconds(149)).ok());
  EXPECT_TRUE(l.Admit("e0", 0, kT0 + seconds(149)).ok());
}

}  // namespace
}  // namespace beibu::gateway
