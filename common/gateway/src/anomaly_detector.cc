// Anomaly detectors (anomaly_detector.h): interval spikes against an EWMA
// baseline, and thresholds over sliding windows. One mutex guards all state;
// each Observe is a few hash lookups and arithmetic.
//
// Memory: one state per enterprise and per route seen, each of fixed size
// except the sliding windows, which hold at most their threshold entries
// (reaching it raises the alarm and empties the window; thresholds are tens,
// and a window is scanned linearly). auth_failures is
// keyed by what an unauthenticated peer claims, so its map, like the others,
// is swept once it holds more than kSweepAbove entries: states idle for longer
// than every window and than it takes the baseline to decay are forgotten
// (forgetting them changes no answer but one: a forgotten enterprise's
// baseline starts over with its warm-up). The next sweep waits until the map
// has doubled, so sweeping costs O(1) amortised.
#include "beibu/gateway/anomaly_detector.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace beibu::gateway {
namespace {

using Clock = AnomalyDetector::Clock;
using std::chrono::milliseconds;

constexpr size_t kSweepAbove = 100000;
constexpr double kRequestFloor = 1;  // stddev floor, requests
constexpr double kByteFloor = 1024;  // stddev floor, bytes

std::string FormatDuration(milliseconds d) {
  int64_t ms = d.count();
  if (ms % 1000 == 0) return absl::StrCat(ms / 1000, " s");
  if (ms < 1000) return absl::StrCat(ms, " ms");
  return absl::StrFormat("%.1f s", static_cast<double>(ms) / 1000);
}

std::string FormatSpan(Clock::duration d) {
  return absl::StrFormat("%.1f s", std::chrono::duration<double>(d).count());
}

std::string FormatBytes(double b) {
  if (b < 1024) return absl::StrFormat("%.0f B", b);
  if (b < 1024.0 * 1024) return absl::StrFormat("%.1f KiB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return absl::StrFormat("%.1f MiB", b / (1024.0 * 1024));
  return absl::StrFormat("%.1f GiB", b / (1024.0 * 1024 * 1024));
}

// An exponentially weighted mean and variance of per-interval counts.
struct Ewma {
  double mean = 0;
  double var = 0;

  // `first`: the first closed interval, which sets the mean.
  void Fold(double x, double alpha, bool first) {
    if (first) {
      mean = x;
      var = 0;
      return;
    }
    double diff = x - mean;
    double incr = alpha * diff;
    mean += incr;
    var = (1 - alpha) * (var + diff * incr);
  }

  // `k` idle intervals at once, in closed form: folding a zero k times gives
  // mean * q and q * (var + mean^2 * (1 - q)) with q = (1 - alpha)^k, so a
  // long idle gap costs O(1).
  void FoldZeros(uint64_t k, double alpha) {
    if (k == 0) return;
    double q = std::pow(1 - alpha, static_cast<double>(k));
    var = q * (var + mean * mean * (1 - q));
    mean *= q;
  }
};

// Requests and bytes of one scope, per interval.
struct Spike {
  int64_t interval = std::numeric_limits<int64_t>::min();  // current interval's index
  double requests = 0;                                     // in the current interval so far
  double bytes = 0;
  Ewma request_baseline;
  Ewma byte_baseline;
  uint64_t baseline_intervals = 0;  // closed intervals folded in
  bool rate_raised = false;         // in the current interval
  bool volume_raised = false;
  Clock::time_point last_seen;

  void Roll(int64_t index, double alpha) {
    if (interval == std::numeric_limits<int64_t>::min()) {
      interval = index;
      return;
    }
    if (index <= interval) return;  // same interval, or a clock going backwards
    request_baseline.Fold(requests, alpha, baseline_intervals == 0);
    byte_baseline.Fold(bytes, alpha, baseline_intervals == 0);
    uint64_t idle = static_cast<uint64_t>(index - interval - 1);
    request_baseline.FoldZeros(idle, alpha);
    byte_baseline.FoldZeros(idle, alpha);
    baseline_intervals = baseline_intervals + 1 + std::min<uint64_t>(idle, 1u << 30);
    interval = index;
    requests = 0;
    bytes = 0;
    rate_raised = false;
    volume_raised = false;
  }
};

// Names seen within a window, each with when it was last seen. A flat vector:
// it holds fewer than the detector's threshold (tens) entries, and one
// contiguous block costs a request fewer cache misses than a hash map would.
using Seen = std::vector<std::pair<std::string, Clock::time_point>>;

struct EnterpriseState {
  Spike spike;
  std::vector<Clock::time_point> denied;  // within denied_window, fewer than denied_burst
  Seen recipients;
  Seen categories;
  Clock::time_point last_seen;
};

struct AuthState {
  std::vector<Clock::time_point> failures;
  Clock::time_point last_seen;
};

Clock::time_point LastSeen(const EnterpriseState& s) { return s.last_seen; }
Clock::time_point LastSeen(const Spike& s) { return s.last_seen; }
Clock::time_point LastSeen(const AuthState& s) { return s.last_seen; }

// Adds an event at `now` and returns whether `threshold` events are within
// `window`. Older events are dropped only when the count reaches the
// threshold, so the list never holds more than `threshold` events. The
// caller empties it after an alarm (the window starts afresh).
bool CountInWindow(std::vector<Clock::time_point>& events, Clock::time_point now,
                   milliseconds window, uint32_t threshold) {
  events.push_back(now);
  if (events.size() < threshold) return false;
  std::erase_if(events, [&](Clock::time_point t) { return now - t >= window; });
  return events.size() >= threshold;
}

// Adds `name` to a distinct-values window; true when `threshold` distinct
// values were seen within `window`.
bool DistinctInWindow(Seen& seen, const std::string& name, Clock::time_point now,
                      milliseconds window, uint32_t threshold) {
  auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& e) { return e.first == name; });
  if (it != seen.end()) {
    it->second = now;
    return false;  // not a new one: the count did not grow
  }
  seen.emplace_back(name, now);
  if (seen.size() < threshold) return false;
  std::erase_if(seen, [&](const auto& e) { return now - e.second >= window; });
  return seen.size() >= threshold;
}

// Earliest event of a list (the clock may have gone backwards in between).
Clock::time_point Earliest(const std::vector<Clock::time_point>& events) {
  return *std::min_element(events.begin(), events.end());
}

}  // namespace

struct AnomalyDetector::Impl {
  std::mutex mu;
  DetectorConfig config;
  std::unordered_map<std::string, EnterpriseState> enterprises;
  std::unordered_map<std::string, Spike> routes;  // key "VN>CN"
  std::unordered_map<std::string, AuthState> auth;
  size_t enterprises_sweep_at = kSweepAbove;
  size_t routes_sweep_at = kSweepAbove;
  size_t auth_sweep_at = kSweepAbove;

  milliseconds interval() const { return std::max(config.interval, milliseconds(1)); }
  double alpha() const {
    double a = config.ewma_alpha;
    return a > 0 && a <= 1 ? a : 0.1;
  }

  // How long a state must have been idle before forgetting it changes
  // nothing worth keeping: every window, and the intervals it takes the
  // baseline to decay below a thousandth.
  Clock::duration ForgetAfter() const {
    double a = alpha();
    double decay = a >= 1 ? 1 : std::ceil(std::log(1e-3) / std::log(1 - a));
    Clock::duration d = interval() * static_cast<int64_t>(std::min(decay, 1e6));
    d = std::max<Clock::duration>(d, config.denied_window);
    d = std::max<Clock::duration>(d, config.scraping_window);
    d = std::max<Clock::duration>(d, config.auth_window);
    return d;
  }

  template <typename Map>
  void MaybeSweep(Map& map, size_t& sweep_at, Clock::time_point now) {
    if (map.size() < sweep_at) return;
    Clock::duration forget = ForgetAfter();
    for (auto it = map.begin(); it != map.end();) {
      it = now - LastSeen(it->second) > forget ? map.erase(it) : std::next(it);
    }
    sweep_at = std::max(kSweepAbove, 2 * map.size());
  }

  // Counts request `o` in `s`, the state of its enterprise or (`sender` set)
  // of its route, and appends any spike alarm. Scope and wording are built
  // only for an alarm: this is the per-request path.
  //
  // A route spike that the observed sender made most of (at least half of
  // the route's requests, resp. bytes, in the interval; `sender` is that
  // enterprise's state, counted first) is raised on the sender instead: a
  // route breaker would stop every enterprise on the route, and the
  // acceptance is that one enterprise's abuse leaves the others alone. The
  // sender's own baseline may not have caught it (still warming up, or
  // large), which is why the route's figures are what the alarm quotes.
  void CountSpike(Spike& s, const Observation& o, Spike* sender, Clock::time_point now,
                  std::vector<Alarm>& alarms) {
    const bool route = sender != nullptr;
    const uint64_t bytes = o.bytes;
    auto scope = [&] {
      return route ? Scope::Route(o.from_country, o.to_country) : Scope::Enterprise(o.enterprise);
    };
    auto who = [&] {
      return route ? absl::StrCat("route ", o.from_country, ">", o.to_country)
                   : absl::StrCat("enterprise ", o.enterprise);
    };
    // The alarm for a spike of `mine` out of the route's `total`: on the
    // sender when it made most of it (once per interval: `sender_raised`).
    auto raise = [&](const char* detector, double mine, double total, bool& sender_raised,
                     const std::string& explanation, const std::string& share) {
      if (route && total > 0 && mine * 2 >= total) {
        if (sender_raised) return;  // already raised on the sender this interval
        sender_raised = true;
        alarms.push_back(
            Alarm{detector, Scope::Enterprise(o.enterprise),
                  absl::StrCat(explanation, "; enterprise ", o.enterprise, " ", share, " of it")});
        return;
      }
      alarms.push_back(Alarm{detector, scope(), explanation});
    };
    const char* verb = route ? "carried" : "sent";
    s.Roll(now.time_since_epoch() / interval(), alpha());
    s.last_seen = now;
    s.requests += 1;
    s.bytes += static_cast<double>(bytes);
    if (s.baseline_intervals < config.warmup_intervals) return;
    if (!s.rate_raised && s.requests >= config.min_requests) {
      double sd = std::sqrt(s.request_baseline.var);
      double z = (s.requests - s.request_baseline.mean) / std::max(sd, kRequestFloor);
      if (z > config.z_threshold) {
        s.rate_raised = true;
        bool unused = false;
        raise("rate_spike", route ? sender->requests : 0, s.requests,
              route ? sender->rate_raised : unused,
              absl::StrFormat(
                  "%s %s %.0f requests in the current %s interval against a baseline "
                  "of %.1f +/- %.1f (z = %.1f > %g)%s",
                  who(), verb, s.requests, FormatDuration(interval()), s.request_baseline.mean, sd,
                  z, config.z_threshold,
                  sd < kRequestFloor ? "; the deviation counts as at least 1 request" : ""),
              route ? absl::StrFormat("sent %.0f", sender->requests) : "");
      }
    }
    if (!s.volume_raised && s.bytes >= config.min_bytes) {
      double sd = std::sqrt(s.byte_baseline.var);
      double z = (s.bytes - s.byte_baseline.mean) / std::max(sd, kByteFloor);
      if (z > config.z_threshold) {
        s.volume_raised = true;
        bool unused = false;
        raise("volume_spike", route ? sender->bytes : 0, s.bytes,
              route ? sender->volume_raised : unused,
              absl::StrFormat("%s %s %s of payload in the current %s interval against a baseline "
                              "of %s +/- %s (z = %.1f > %g)%s",
                              who(), verb, FormatBytes(s.bytes), FormatDuration(interval()),
                              FormatBytes(s.byte_baseline.mean), FormatBytes(sd), z,
                              config.z_threshold,
                              sd < kByteFloor ? "; the deviation counts as at least 1 KiB" : ""),
              route ? absl::StrCat("sent ", FormatBytes(sender->bytes)) : "");
      }
    }
  }
};

AnomalyDetector::AnomalyDetector(DetectorConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

AnomalyDetector::~AnomalyDetector() = default;

std::vector<Alarm> AnomalyDetector::Observe(const Observation& o, Clock::time_point now) {
  std::vector<Alarm> alarms;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const DetectorConfig& c = impl_->config;
  if (!c.enabled) return alarms;

  auto found = impl_->enterprises.find(o.enterprise);
  if (found == impl_->enterprises.end()) {
    impl_->MaybeSweep(impl_->enterprises, impl_->enterprises_sweep_at, now);
    found = impl_->enterprises.try_emplace(o.enterprise).first;
  }
  EnterpriseState& e = found->second;
  e.last_seen = now;
  impl_->CountSpike(e.spike, o, /*sender=*/nullptr, now, alarms);

  std::string route_key = absl::StrCat(o.from_country, ">", o.to_country);
  auto route = impl_->routes.find(route_key);
  if (route == impl_->routes.end()) {
    impl_->MaybeSweep(impl_->routes, impl_->routes_sweep_at, now);
    route = impl_->routes.try_emplace(route_key).first;
  }
  impl_->CountSpike(route->second, o, /*sender=*/&e.spike, now, alarms);

  auto enterprise_scope = [&] { return Scope::Enterprise(o.enterprise); };
  auto who = [&] { return absl::StrCat("enterprise ", o.enterprise); };

  if (o.denied && c.denied_burst > 0 &&
      CountInWindow(e.denied, now, c.denied_window, c.denied_burst)) {
    alarms.push_back(Alarm{
        "denied_burst", enterprise_scope(),
        absl::StrFormat("%s had %u requests denied by the policy within %s (threshold %u within "
                        "%s): it may be probing the rules",
                        who(), static_cast<unsigned>(e.denied.size()),
                        FormatSpan(now - Earliest(e.denied)), c.denied_burst,
                        FormatDuration(c.denied_window))});
    e.denied.clear();
  }

  if (!o.recipient.empty() && c.distinct_recipients > 0 &&
      DistinctInWindow(e.recipients, o.recipient, now, c.scraping_window, c.distinct_recipients)) {
    alarms.push_back(
        Alarm{"scraping", enterprise_scope(),
              absl::StrFormat("%s sent to %u distinct recipients within %s (threshold %u)", who(),
                              static_cast<unsigned>(e.recipients.size()),
                              FormatDuration(c.scraping_window), c.distinct_recipients)});
    e.recipients.clear();
  }
  if (!o.category.empty() && c.distinct_categories > 0 &&
      DistinctInWindow(e.categories, o.category, now, c.scraping_window, c.distinct_categories)) {
    alarms.push_back(
        Alarm{"scraping", enterprise_scope(),
              absl::StrFormat("%s sent data of %u distinct categories within %s (threshold %u)",
                              who(), static_cast<unsigned>(e.categories.size()),
                              FormatDuration(c.scraping_window), c.distinct_categories)});
    e.categories.clear();
  }
  return alarms;
}

std::vector<Alarm> AnomalyDetector::ObserveAuthFailure(const std::string& who,
                                                       Clock::time_point now) {
  std::vector<Alarm> alarms;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const DetectorConfig& c = impl_->config;
  if (!c.enabled || c.auth_failures == 0) return alarms;
  auto found = impl_->auth.find(who);
  if (found == impl_->auth.end()) {
    impl_->MaybeSweep(impl_->auth, impl_->auth_sweep_at, now);
    found = impl_->auth.try_emplace(who).first;
  }
  AuthState& s = found->second;
  s.last_seen = now;
  if (CountInWindow(s.failures, now, c.auth_window, c.auth_failures)) {
    alarms.push_back(
        Alarm{"auth_failures", Scope::Enterprise(who),
              absl::StrFormat("%u handshakes of %s were refused within %s (threshold %u within %s)",
                              static_cast<unsigned>(s.failures.size()), who,
                              FormatSpan(now - Earliest(s.failures)), c.auth_failures,
                              FormatDuration(c.auth_window))});
    s.failures.clear();
  }
  return alarms;
}

void AnomalyDetector::Reconfigure(DetectorConfig config) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  // Baselines are counts per interval: a new interval or weighting makes
  // them meaningless, so they start over (with their warm-up).
  bool restart =
      config.interval != impl_->config.interval || config.ewma_alpha != impl_->config.ewma_alpha;
  impl_->config = std::move(config);
  if (restart) {
    for (auto& [name, e] : impl_->enterprises) e.spike = Spike{};
    impl_->routes.clear();
  }
}

}  // namespace beibu::gateway
