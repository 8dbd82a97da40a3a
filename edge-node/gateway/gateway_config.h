// The `gateway:` section of beibu-edge's configuration (docs/gateway.md §5).
#pragma once

#include "beibu/config/yaml_reader.h"
#include "beibu/gateway/anomaly_detector.h"
#include "beibu/gateway/breaker_board.h"
#include "beibu/gateway/rate_limiter.h"

namespace beibu::edge {

struct GatewayConfig {
  bool enabled = true;  // false: no checks at all (the benchmark's baseline)
  gateway::RateLimitConfig rates;
  gateway::DetectorConfig detectors;
  gateway::BreakerConfig breaker;
};

// Reads the `gateway.*` keys (all optional; absent: the defaults). Problems
// go to `r` (r.Problem / the reader's own type checks) naming the key, e.g.
// "gateway.detectors.z_threshold: must be > 0", or an enterprise_class that
// names an undefined class; LoadEdgeConfig's r.Finish() reports them.
GatewayConfig ReadGatewayConfig(config::YamlReader& r);

}  // namespace beibu::edge
