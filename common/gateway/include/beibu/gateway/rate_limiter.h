// Per-enterprise rate limits of an edge (docs/gateway.md): two token buckets
// per enterprise, one for requests and one for payload bytes, sized by the
// enterprise's class. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace beibu::gateway {

// Zero (or less) means "no limit" for that dimension.
struct RateClass {
  double requests_per_second = 0;
  double burst_requests = 0;  // 0: one second's worth (at least 1)
  double bytes_per_second = 0;
  double burst_bytes = 0;  // 0: one second's worth
};

struct RateLimitConfig {
  // Class name -> limits. "default" applies to enterprises not listed in
  // enterprise_class (no "default": those are not limited).
  std::map<std::string, RateClass> classes;
  // Enterprise certificate id -> class name (must name an entry of classes).
  std::map<std::string, std::string> enterprise_class;
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(RateLimitConfig config);
  ~RateLimiter();

  // Admits one request of `bytes` payload bytes for `enterprise` at `now`,
  // taking from both buckets, or takes nothing and returns
  // RESOURCE_EXHAUSTED whose message says which limit (class, figure) was
  // exceeded and "retry in N ms" (the wait until both buckets could admit
  // it; a request larger than the byte burst can never pass and says so,
  // without a retry hint). While a stream has the byte bucket in debt
  // (TakeBytes), a request waits for the debt to be paid, even one of 0 bytes.
  absl::Status Admit(const std::string& enterprise, uint64_t bytes,
                     Clock::time_point now = Clock::now());

  // Streams (SendStream): takes `bytes` from the enterprise's byte bucket
  // even when that leaves it in debt, and returns how long the caller should
  // wait before reading more (zero while within the limit). A stream is
  // paced, not refused, so that a large file slows down instead of failing
  // half-way. The stream itself was admitted as one request with Admit(e, 0).
  Clock::duration TakeBytes(const std::string& enterprise, uint64_t bytes,
                            Clock::time_point now = Clock::now());

  // The retry hint of a RESOURCE_EXHAUSTED from Admit, in milliseconds, or
  // -1 when the status carries none. Clients (the SDK) use it.
  static int64_t RetryAfterMs(const absl::Status& status);

  // Replaces the configuration; buckets of enterprises whose class limits
  // changed start full.
  void Reconfigure(RateLimitConfig config);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::gateway
