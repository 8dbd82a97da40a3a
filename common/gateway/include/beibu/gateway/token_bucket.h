// A token bucket: `rate` tokens per second refill it up to `burst`. Not
// thread-safe (the rate limiter locks around it).
#pragma once

#include <chrono>
#include <optional>

namespace beibu::gateway {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: unlimited (TryTake always succeeds). A burst below one
  // request's worth is raised to it by the caller's config check, not here.
  // The bucket starts full at `now`.
  TokenBucket(double rate_per_second, double burst, Clock::time_point now);

  // Takes `n` tokens if the bucket holds them at `now` and returns nullopt;
  // otherwise takes nothing and returns how long until `n` would be there
  // (Clock::duration::max() when n > burst: never). A clock going backwards
  // refills nothing.
  std::optional<Clock::duration> TryTake(double n, Clock::time_point now);

  // How long until `n` tokens are there (zero: now; Clock::duration::max()
  // when n > burst: never). Takes nothing. Lets a caller check two buckets
  // before taking from either.
  Clock::duration TimeUntil(double n, Clock::time_point now);

  // Takes `n` tokens even when that leaves the bucket in debt (pacing a
  // stream), and returns how long until the debt is paid off (zero when the
  // bucket did not go below empty). An unlimited bucket returns zero.
  Clock::duration TakeOwing(double n, Clock::time_point now);

  // Tokens in the bucket at `now` (negative while in debt; +infinity when
  // unlimited).
  double available(Clock::time_point now);
  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  void Refill(Clock::time_point now);

  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace beibu::gateway
