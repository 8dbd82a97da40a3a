// The `gateway:` section of the edge configuration (docs/gateway.md §5):
// defaults, the documented example, and bad values named by key.
#include <gtest/gtest.h>

#include <string>

#include "beibu/config/yaml_reader.h"
#include "edge_config.h"
#include "gateway/gateway_config.h"
#include "temp_dir.h"

namespace beibu::edge {
namespace {

struct Read {
  GatewayConfig config;
  absl::Status status;
};

Read Parse(const std::string& yaml) {
  absl::StatusOr<config::YamlReader> r = config::YamlReader::Parse(yaml, "edge.yaml");
  EXPECT_TRUE(r.ok()) << r.status();
  Read out;
  out.config = ReadGatewayConfig(*r);
  out.status = r->Finish();
  return out;
}

// The example of docs/gateway.md §5, verbatim.
constexpr char kDocExample[] = R"(
gateway:
  enabled: true            # false: no checks at all (benchmark baseline)
  rate_classes:
    default: {requests_per_second: 500, burst_requests: 1000,
              bytes_per_second: 67108864, burst_bytes: 268435456}
    bulk:    {requests_per_second: 2000, bytes_per_second: 0}   # 0: unlimited
  enterprise_class: {vn-shipper: bulk}
  detectors:
    enabled: true
    interval_ms: 1000
    ewma_alpha: 0.1
    z_threshold: 6
    warmup_intervals: 10
    min_requests: 50
    min_bytes: 8388608
    denied_burst: 20
    denied_window_ms: 10000
    distinct_recipients: 20
    distinct_categories: 10
    scraping_window_ms: 60000
    auth_failures: 10
    auth_window_ms: 60000
  breaker:
    cool_down_ms: 30000
    probe_budget: 5
)";

TEST(GatewayConfigTest, AbsentSectionGivesTheDefaultsAndNoLimits) {
  Read r = Parse("");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.config.enabled);
  EXPECT_TRUE(r.config.rates.classes.empty());
  EXPECT_TRUE(r.config.rates.enterprise_class.empty());
  const gateway::DetectorConfig defaults;
  EXPECT_EQ(r.config.detectors.interval, defaults.interval);
  EXPECT_EQ(r.config.detectors.z_threshold, defaults.z_threshold);
  EXPECT_EQ(r.config.detectors.distinct_recipients, defaults.distinct_recipients);
  EXPECT_EQ(r.config.breaker.cool_down, std::chrono::milliseconds(30000));
  EXPECT_EQ(r.config.breaker.probe_budget, 5u);
}

TEST(GatewayConfigTest, TheDocumentedExampleParses) {
  Read r = Parse(kDocExample);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.config.rates.classes.size(), 2u);
  const gateway::RateClass& d = r.config.rates.classes.at("default");
  EXPECT_EQ(d.requests_per_second, 500);
  EXPECT_EQ(d.burst_requests, 1000);
  EXPECT_EQ(d.bytes_per_second, 67108864);
  EXPECT_EQ(d.burst_bytes, 268435456);
  const gateway::RateClass& bulk = r.config.rates.classes.at("bulk");
  EXPECT_EQ(bulk.requests_per_second, 2000);
  EXPECT_EQ(bulk.bytes_per_second, 0);
  EXPECT_EQ(r.config.rates.enterprise_class.at("vn-shipper"), "bulk");
  EXPECT_EQ(r.config.detectors.ewma_alpha, 0.1);
  EXPECT_EQ(r.config.detectors.min_bytes, 8388608);
  EXPECT_EQ(r.config.detectors.auth_window, std::chrono::milliseconds(60000));
  EXPECT_EQ(r.config.breaker.probe_budget, 5u);
}

TEST(GatewayConfigTest, NonDefaultValuesAreRead) {
  Read r = Parse(R"(
gateway:
  enabled: false
  rate_classes:
    small: {requests_per_second: 0.5, burst_requests: 2}
  enterprise_class:
    acme.example: small
  detectors: {enabled: false, z_threshold: 3.5, distinct_recipients: 4, scraping_window_ms: 500}
  breaker: {cool_down_ms: 100, probe_budget: 2}
)");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_FALSE(r.config.enabled);
  EXPECT_EQ(r.config.rates.classes.at("small").requests_per_second, 0.5);
  // Enterprise ids may contain dots.
  EXPECT_EQ(r.config.rates.enterprise_class.at("acme.example"), "small");
  EXPECT_FALSE(r.config.detectors.enabled);
  EXPECT_EQ(r.config.detectors.z_threshold, 3.5);
  EXPECT_EQ(r.config.detectors.distinct_recipients, 4u);
  EXPECT_EQ(r.config.detectors.scraping_window, std::chrono::milliseconds(500));
  EXPECT_EQ(r.config.breaker.cool_down, std::chrono::milliseconds(100));
  EXPECT_EQ(r.config.breaker.probe_budget, 2u);
}

// Each bad value is refused with the key's full name.
TEST(GatewayConfigTest, BadValuesAreNamed) {
  const std::pair<std::string, std::string> cases[] = {
      {"gateway:\n  detectors:\n    z_threshold: -1\n", "gateway.detectors.z_threshold"},
      {"gateway:\n  detectors:\n    z_threshold: 0\n", "gateway.detectors.z_threshold"},
      {"gateway:\n  detectors:\n    ewma_alpha: 1.5\n", "gateway.detectors.ewma_alpha"},
      {"gateway:\n  detectors:\n    interval_ms: 0\n", "gateway.detectors.interval_ms"},
      {"gateway:\n  detectors:\n    denied_burst: many\n", "gateway.detectors.denied_burst"},
      {"gateway:\n  breaker:\n    probe_budget: 0\n", "gateway.breaker.probe_budget"},
      {"gateway:\n  enabled: maybe\n", "gateway.enabled"},
      {"gateway:\n  rate_classes:\n    default: {requests_per_second: -5}\n",
       "gateway.rate_classes.default.requests_per_second"},
      {"gateway:\n  rate_classes:\n    default: {requests_per_second: .nan}\n",
       "gateway.rate_classes.default.requests_per_second"},
      {"gateway:\n  rate_classes:\n    default: {requests_per_second: 5, burst_requests: 0.5}\n",
       "gateway.rate_classes.default.burst_requests"},
      {"gateway:\n  rate_classes:\n    default: {burst_bytes: 10}\n",
       "gateway.rate_classes.default.burst_bytes"},
      {"gateway:\n  rate_classes: 5\n", "gateway.rate_classes"},
      {"gateway:\n  enterprise_class: [a, b]\n", "gateway.enterprise_class"},
  };
  for (const auto& [yaml, key] : cases) {
    Read r = Parse(yaml);
    ASSERT_FALSE(r.status.ok()) << yaml;
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status.message().find(key), absl::string_view::npos)
        << yaml << " -> " << r.status.message();
  }
}

TEST(GatewayConfigTest, UnknownKeysAreNamed) {
  const std::pair<std::string, std::string> cases[] = {
      {"gateway:\n  rate_classes:\n    bulk: {requests_per_secnd: 5}\n",
       "gateway.rate_classes.bulk.requests_per_secnd"},
      {"gateway:\n  detectors:\n    z_treshold: 3\n", "gateway.detectors.z_treshold"},
      {"gateway:\n  breakers:\n    probe_budget: 3\n", "gateway.breakers.probe_budget"},
      {"gateway:\n  rate_limit: 3\n", "gateway.rate_limit"},
  };
  for (const auto& [yaml, key] : cases) {
    Read r = Parse(yaml);
    ASSERT_FALSE(r.status.ok()) << yaml;
    EXPECT_NE(r.status.message().find("unknown setting '" + key + "'"), absl::string_view::npos)
        << yaml << " -> " << r.status.message();
  }
}

TEST(GatewayConfigTest, AnEnterpriseNamingAnUndefinedClassIsRefused) {
  Read r = Parse(R"(
gateway:
  rate_classes:
    bulk: {requests_per_second: 10}
  enterprise_class: {vn-shipper: bulk, vn-trader: premium}
)");
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("gateway.enterprise_class"), absl::string_view::npos);
  EXPECT_NE(r.status.message().find("'vn-trader'"), absl::string_view::npos);
  EXPECT_NE(r.status.message().find("'premium'"), absl::string_view::npos) << r.status;
  // A class name that could not be read back through a dotted key.
  r = Parse("gateway:\n  rate_classes:\n    'a b': {requests_per_second: 1}\n");
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("'a b'"), absl::string_view::npos) << r.status;
}

// The whole edge configuration: the gateway section sits beside the rest.
TEST(GatewayConfigTest, LoadEdgeConfigReadsTheSection) {
  beibu::testing::TempDir dir;
  const std::string path = (dir / "edge.yaml").string();
  beibu::testing::WriteFile(path, std::string("node_id: edge-vn\nhub: 127.0.0.1:7400\n"
                                              "data_dir: /tmp/x\n") +
                                      kDocExample);
  absl::StatusOr<EdgeConfig> c = LoadEdgeConfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gateway.rates.enterprise_class.at("vn-shipper"), "bulk");
  beibu::testing::WriteFile(path,
                            "node_id: edge-vn\nhub: 127.0.0.1:7400\ndata_dir: /tmp/x\n"
                            "gateway:\n  breaker:\n    cool_down_ms: -3\n");
  c = LoadEdgeConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("gateway.breaker.cool_down_ms"), absl::string_view::npos);
}

}  // namespace
}  // namespace beibu::edge
