// Per-enterprise token buckets (rate_limiter.h).
//
// Memory: one entry per enterprise that sent under a limit. When the map
// grows beyond kSweepAbove entries, entries whose two buckets are full are
// forgotten: a full bucket behaves exactly like the fresh one the next
// request would create, so forgetting it changes no answer. The next sweep
// waits until the map has doubled again, so sweeping costs O(1) amortised per
// request even when every entry is busy.
#include "beibu/gateway/rate_limiter.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "beibu/gateway/token_bucket.h"

namespace beibu::gateway {
namespace {

using Clock = RateLimiter::Clock;

constexpr size_t kSweepAbove = 100000;
constexpr absl::string_view kRetryIn = "retry in ";

// A class's limits with the defaults of RateClass applied.
struct Limits {
  std::string class_name;
  double requests_per_second = 0;
  double burst_requests = 0;
  double bytes_per_second = 0;
  double burst_bytes = 0;

  bool unlimited() const { return requests_per_second <= 0 && bytes_per_second <= 0; }
  bool operator==(const Limits&) const = default;
};

Limits Effective(const std::string& name, const RateClass& c) {
  Limits l;
  l.class_name = name;
  l.requests_per_second = c.requests_per_second;
  l.burst_requests = c.burst_requests > 0 ? c.burst_requests : std::max(1.0, c.requests_per_second);
  l.bytes_per_second = c.bytes_per_second;
  l.burst_bytes = c.burst_bytes > 0 ? c.burst_bytes : std::max(1.0, c.bytes_per_second);
  return l;
}

// nullopt: no limit for this enterprise.
std::optional<Limits> LimitsOf(const RateLimitConfig& config, const std::string& enterprise) {
  auto named = config.enterprise_class.find(enterprise);
  if (named != config.enterprise_class.end()) {
    auto c = config.classes.find(named->second);
    if (c != config.classes.end()) return Effective(c->first, c->second);
    // A class name that names nothing is refused by the edge's config check;
    // should one get here, the enterprise falls back to the default class.
  }
  auto d = config.classes.find("default");
  if (d == config.classes.end()) return std::nullopt;
  return Effective(d->first, d->second);
}

std::string Figures(const Limits& l) {
  std::string req =
      l.requests_per_second > 0
          ? absl::StrFormat("%g requests/s (burst %g)", l.requests_per_second, l.burst_requests)
          : "no request limit";
  std::string bytes = l.bytes_per_second > 0 ? absl::StrFormat("%g bytes/s (burst %g)",
                                                               l.bytes_per_second, l.burst_bytes)
                                             : "no byte limit";
  return absl::StrCat("class \"", l.class_name, "\": ", req, ", ", bytes);
}

int64_t CeilMs(Clock::duration d) {
  return std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

}  // namespace

struct RateLimiter::Impl {
  struct Entry {
    Limits limits;
    TokenBucket requests;
    TokenBucket bytes;
  };

  std::mutex mu;
  RateLimitConfig config;
  std::unordered_map<std::string, Entry> entries;
  size_t sweep_at = kSweepAbove;

  // The enterprise's buckets, created full on first use; null when it has
  // no limit. Requires mu.
  Entry* Find(const std::string& enterprise, Clock::time_point now) {
    auto it = entries.find(enterprise);
    if (it != entries.end()) return &it->second;
    std::optional<Limits> limits = LimitsOf(config, enterprise);
    if (!limits || limits->unlimited()) return nullptr;
    if (entries.size() >= sweep_at) Sweep(now);
    TokenBucket requests(limits->requests_per_second, limits->burst_requests, now);
    TokenBucket bytes(limits->bytes_per_second, limits->burst_bytes, now);
    auto [pos, inserted] = entries.emplace(
        enterprise, Entry{std::move(*limits), std::move(requests), std::move(bytes)});
    return &pos->second;
  }

  void Sweep(Clock::time_point now) {
    for (auto it = entries.begin(); it != entries.end();) {
      Entry& e = it->second;
      bool full = e.requests.available(now) >= e.requests.burst() &&
                  e.bytes.available(now) >= e.bytes.burst();
      it = full ? entries.erase(it) : std::next(it);
    }
    sweep_at = std::max(kSweepAbove, 2 * entries.size());
  }
};

RateLimiter::RateLimiter(RateLimitConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

RateLimiter::~RateLimiter() = default;

absl::Status RateLimiter::Admit(const std::string& enterprise, uint64_t bytes,
                                Clock::time_point now) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Entry* e = impl_->Find(enterprise, now);
  if (e == nullptr) return absl::OkStatus();
  const double b = static_cast<double>(bytes);
  Clock::duration wait_requests = e->requests.TimeUntil(1, now);
  Clock::duration wait_bytes = e->bytes.TimeUntil(b, now);
  if (wait_requests == Clock::duration::zero() && wait_bytes == Clock::duration::zero()) {
    e->requests.TryTake(1, now);
    e->bytes.TryTake(b, now);
    return absl::OkStatus();
  }
  if (wait_bytes == Clock::duration::max()) {
    // No retry hint: waiting would not help.
    return absl::ResourceExhaustedError(absl::StrCat(
        "rate limit of enterprise ", enterprise, ": a request of ", bytes,
        " payload bytes is larger than the byte burst of ", Figures(e->limits),
        ", so it can never pass; send it with SendStream (paced, not refused) or in smaller "
        "parts"));
  }
  std::string over;
  if (wait_requests != Clock::duration::zero()) over = "requests";
  if (wait_bytes != Clock::duration::zero()) {
    absl::StrAppend(&over, over.empty() ? "" : " and ", "payload bytes");
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "rate limit of enterprise ", enterprise, " exceeded (", over, ") under ", Figures(e->limits),
      "; retry in ", CeilMs(std::max(wait_requests, wait_bytes)), " ms"));
}

Clock::duration RateLimiter::TakeBytes(const std::string& enterprise, uint64_t bytes,
                                       Clock::time_point now) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Entry* e = impl_->Find(enterprise, now);
  if (e == nullptr) return Clock::duration::zero();
  return e->bytes.TakeOwing(static_cast<double>(bytes), now);
}

int64_t RateLimiter::RetryAfterMs(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kResourceExhausted) return -1;
  absl::string_view m = status.message();
  size_t at = m.find(kRetryIn);
  if (at == absl::string_view::npos) return -1;
  m.remove_prefix(at + kRetryIn.size());
  int64_t ms = 0;
  size_t digits = 0;
  constexpr int64_t kMax = int64_t{1} << 53;  // far beyond any real hint
  while (digits < m.size() && std::isdigit(static_cast<unsigned char>(m[digits]))) {
    ms = ms * 10 + (m[digits] - '0');
    if (ms > kMax) return -1;
    ++digits;
  }
  if (digits == 0) return -1;
  m.remove_prefix(digits);
  if (m.substr(0, 3) != " ms") return -1;
  return ms;
}

void RateLimiter::Reconfigure(RateLimitConfig config) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->config = std::move(config);
  // Dropping an entry makes the next request start with full buckets.
  for (auto it = impl_->entries.begin(); it != impl_->entries.end();) {
    std::optional<Limits> now_limits = LimitsOf(impl_->config, it->first);
    bool same = now_limits && *now_limits == it->second.limits;
    it = same ? std::next(it) : impl_->entries.erase(it);
  }
}

}  // namespace beibu::gateway
