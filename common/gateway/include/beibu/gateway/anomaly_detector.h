// Anomaly detection of an edge (docs/gateway.md), per enterprise and per
// route, over what the edge's accept path observes. Each alarm names its
// detector, its scope and explains itself in plain words with the figures
// that raised it. Thread-safe; memory is bounded by the number of distinct
// enterprises and routes seen (plus the distinct recipients and categories
// inside the scraping window).
//
// Detectors:
//  * rate_spike / volume_spike (per enterprise, and per route): requests and
//    payload bytes are counted per `interval`. Closed intervals feed an
//    exponentially weighted mean and variance (alpha = ewma_alpha; idle
//    intervals count as zero). The running count of the current interval is
//    compared with the baseline: z = (count - mean) / max(stddev, 1 request
//    or 1 KiB). An alarm when z > z_threshold, count >= min_requests (resp.
//    min_bytes) and at least warmup_intervals intervals are in the baseline.
//    A route spike that the observed sender made at least half of (requests,
//    resp. bytes, in the interval) is raised on that enterprise instead, once
//    per interval: a route breaker would stop every other enterprise on the
//    route for one enterprise's burst.
//  * denied_burst (per enterprise): at least denied_burst requests decided
//    DENY within denied_window (probing the rules).
//  * scraping (per enterprise): at least distinct_recipients distinct
//    recipients (to_enterprise) or distinct_categories distinct categories
//    within scraping_window.
//  * auth_failures (per claimed identity or address): at least auth_failures
//    refused handshakes within auth_window.
// A detector raises at most one alarm per scope per interval (spikes) or per
// window (the others); after it raised, its window starts afresh. A threshold
// of 0 (denied_burst, distinct_*, auth_failures) turns that detector off;
// empty recipients and categories are not counted.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "beibu/gateway/scope.h"

namespace beibu::gateway {

struct DetectorConfig {
  bool enabled = true;
  std::chrono::milliseconds interval{1000};
  double ewma_alpha = 0.1;
  double z_threshold = 6.0;
  uint32_t warmup_intervals = 10;
  double min_requests = 50;    // in one interval
  double min_bytes = 8 << 20;  // in one interval
  uint32_t denied_burst = 20;
  std::chrono::milliseconds denied_window{10000};
  uint32_t distinct_recipients = 20;
  uint32_t distinct_categories = 10;
  std::chrono::milliseconds scraping_window{60000};
  uint32_t auth_failures = 10;
  std::chrono::milliseconds auth_window{60000};
};

struct Observation {
  std::string enterprise;  // the sender's certificate id
  std::string from_country;
  std::string to_country;
  std::string recipient;  // to_enterprise
  std::string category;
  uint64_t bytes = 0;   // payload bytes
  bool denied = false;  // the policy decided DENY
};

struct Alarm {
  // "rate_spike", "volume_spike", "denied_burst", "scraping", "auth_failures"
  std::string detector;
  // The enterprise, or the route (rate and volume spikes per route), or for
  // auth_failures an enterprise scope naming the claimed identity (or the
  // peer address when none was claimed).
  Scope scope;
  // "enterprise vn-shipper sent 412 requests in the current 1 s interval
  //  against a baseline of 20.3 +/- 4.1 (z = 96.4 > 6)"
  std::string explanation;
};

class AnomalyDetector {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AnomalyDetector(DetectorConfig config);
  ~AnomalyDetector();

  // One decided request (after the policy decision). Returns the alarms it
  // raised (usually none).
  std::vector<Alarm> Observe(const Observation& o, Clock::time_point now = Clock::now());
  // One refused handshake; `who` is the claimed certificate id, or the peer
  // address when the client claimed none.
  std::vector<Alarm> ObserveAuthFailure(const std::string& who,
                                        Clock::time_point now = Clock::now());

  // A new interval or ewma_alpha restarts the baselines (with their warm-up).
  void Reconfigure(DetectorConfig config);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::gateway
