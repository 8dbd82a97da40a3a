#include "beibu/gateway/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace beibu::gateway {
namespace {

using Clock = TokenBucket::Clock;

// `seconds` as a clock duration, to the nearest nanosecond (so that 0.07 s
// computed in floating point is 70 ms, not 70 ms + 1 ns), at least 1 ns, and
// saturating at a year so that no conversion overflows.
Clock::duration Wait(double seconds) {
  constexpr double kYear = 365.0 * 24 * 3600;
  if (!(seconds > 0)) return Clock::duration::zero();
  if (seconds > kYear) seconds = kYear;
  auto ns = std::chrono::nanoseconds(std::max<long long>(1, std::llround(seconds * 1e9)));
  return std::chrono::ceil<Clock::duration>(ns);
}

}  // namespace

TokenBucket::TokenBucket(double rate_per_second, double burst, Clock::time_point now)
    : rate_(rate_per_second), burst_(burst), tokens_(burst), last_(now) {}

void TokenBucket::Refill(Clock::time_point now) {
  // Backwards (or equal) clock: nothing to add, and `last_` stays where it
  // is so that the time between is not counted twice once the clock is back.
  if (now <= last_) return;
  double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + rate_ * elapsed);
  last_ = now;
}

Clock::duration TokenBucket::TimeUntil(double n, Clock::time_point now) {
  if (rate_ <= 0) return Clock::duration::zero();
  if (n > burst_) return Clock::duration::max();
  Refill(now);
  if (tokens_ >= n) return Clock::duration::zero();
  return Wait((n - tokens_) / rate_);
}

std::optional<Clock::duration> TokenBucket::TryTake(double n, Clock::time_point now) {
  Clock::duration wait = TimeUntil(n, now);
  if (wait != Clock::duration::zero()) return wait;
  if (rate_ > 0) tokens_ -= n;
  return std::nullopt;
}

Clock::duration TokenBucket::TakeOwing(double n, Clock::time_point now) {
  if (rate_ <= 0) return Clock::duration::zero();
  Refill(now);
  tokens_ -= n;
  if (tokens_ >= 0) return Clock::duration::zero();
  return Wait(-tokens_ / rate_);
}

double TokenBucket::available(Clock::time_point now) {
  if (rate_ <= 0) return std::numeric_limits<double>::infinity();
  Refill(now);
  return tokens_;
}

}  // namespace beibu::gateway
