#include "gateway/gateway_config.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace beibu::edge {
namespace {

constexpr double kMaxRequestsPerSecond = 1e9;
constexpr double kMaxBytesPerSecond = 1e15;                      // about 1 PB/s: "no real limit"
constexpr int64_t kMaxWindowMs = int64_t{7} * 24 * 3600 * 1000;  // a week

// Class names are read back through dotted keys (rate_classes.<name>.x).
bool PlainName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

gateway::RateClass ReadRateClass(config::YamlReader& r, const std::string& key) {
  gateway::RateClass c;
  c.requests_per_second =
      r.Double(key + ".requests_per_second", c.requests_per_second, 0, kMaxRequestsPerSecond);
  c.burst_requests = r.Double(key + ".burst_requests", c.burst_requests, 0, kMaxRequestsPerSecond);
  c.bytes_per_second =
      r.Double(key + ".bytes_per_second", c.bytes_per_second, 0, kMaxBytesPerSecond);
  c.burst_bytes = r.Double(key + ".burst_bytes", c.burst_bytes, 0, kMaxBytesPerSecond);
  // A bucket must hold at least one request, or nothing would ever pass.
  if (c.burst_requests > 0 && c.burst_requests < 1) {
    r.ProblemAt(key + ".burst_requests",
                absl::StrCat(key, ".burst_requests = ", c.burst_requests,
                             " must be at least 1 (or 0: one second's worth)"));
  }
  if (c.burst_requests > 0 && c.requests_per_second <= 0) {
    r.ProblemAt(key + ".burst_requests",
                absl::StrCat(key,
                             ".burst_requests needs requests_per_second > 0 (without it "
                             "requests are not limited); set both or remove it"));
  }
  if (c.burst_bytes > 0 && c.bytes_per_second <= 0) {
    r.ProblemAt(key + ".burst_bytes",
                absl::StrCat(key,
                             ".burst_bytes needs bytes_per_second > 0 (without it "
                             "bytes are not limited); set both or remove it"));
  }
  return c;
}

std::chrono::milliseconds Ms(config::YamlReader& r, const std::string& key,
                             std::chrono::milliseconds fallback, int64_t min) {
  return std::chrono::milliseconds(r.Int(key, fallback.count(), min, kMaxWindowMs));
}

}  // namespace

GatewayConfig ReadGatewayConfig(config::YamlReader& r) {
  GatewayConfig c;
  c.enabled = r.Bool("gateway.enabled", c.enabled);

  for (const std::string& name : r.Keys("gateway.rate_classes")) {
    const std::string key = "gateway.rate_classes." + name;
    if (!PlainName(name)) {
      r.Problem(absl::StrCat("gateway.rate_classes: class name '", name,
                             "' must be 1-64 letters, digits, '_' or '-'"));
      continue;
    }
    c.rates.classes[name] = ReadRateClass(r, key);
  }
  for (const auto& [enterprise, cls] : r.StringMap("gateway.enterprise_class")) {
    if (!c.rates.classes.count(cls)) {
      r.ProblemAt(
          "gateway.enterprise_class",
          absl::StrCat("gateway.enterprise_class: enterprise '", enterprise, "' names class '", cls,
                       "', which is not defined under gateway.rate_classes"));
    }
    c.rates.enterprise_class[enterprise] = cls;
  }

  gateway::DetectorConfig& d = c.detectors;
  const std::string p = "gateway.detectors.";
  d.enabled = r.Bool(p + "enabled", d.enabled);
  d.interval = Ms(r, p + "interval_ms", d.interval, 10);
  d.ewma_alpha = r.Double(p + "ewma_alpha", d.ewma_alpha, 0, 1);
  if (d.ewma_alpha <= 0) {
    r.ProblemAt(p + "ewma_alpha", p + "ewma_alpha must be > 0 (and at most 1)");
  }
  d.z_threshold = r.Double(p + "z_threshold", d.z_threshold, 0, 1e6);
  if (d.z_threshold <= 0) r.ProblemAt(p + "z_threshold", p + "z_threshold must be > 0");
  d.warmup_intervals =
      static_cast<uint32_t>(r.Int(p + "warmup_intervals", d.warmup_intervals, 1, 100000));
  d.min_requests = r.Double(p + "min_requests", d.min_requests, 0, kMaxRequestsPerSecond);
  d.min_bytes = r.Double(p + "min_bytes", d.min_bytes, 0, kMaxBytesPerSecond);
  d.denied_burst = static_cast<uint32_t>(r.Int(p + "denied_burst", d.denied_burst, 1, 1000000));
  d.denied_window = Ms(r, p + "denied_window_ms", d.denied_window, 1);
  d.distinct_recipients =
      static_cast<uint32_t>(r.Int(p + "distinct_recipients", d.distinct_recipients, 1, 1000000));
  d.distinct_categories =
      static_cast<uint32_t>(r.Int(p + "distinct_categories", d.distinct_categories, 1, 1000000));
  d.scraping_window = Ms(r, p + "scraping_window_ms", d.scraping_window, 1);
  d.auth_failures = static_cast<uint32_t>(r.Int(p + "auth_failures", d.auth_failures, 1, 1000000));
  d.auth_window = Ms(r, p + "auth_window_ms", d.auth_window, 1);

  c.breaker.cool_down = Ms(r, "gateway.breaker.cool_down_ms", c.breaker.cool_down, 1);
  c.breaker.probe_budget = static_cast<uint32_t>(
      r.Int("gateway.breaker.probe_budget", c.breaker.probe_budget, 1, 1000000));
  return c;
}

}  // namespace beibu::edge
