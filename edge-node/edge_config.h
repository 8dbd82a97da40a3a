// beibu-edge's configuration file (YAML). docs/operations.md lists every key.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "gateway/gateway_config.h"

namespace beibu::edge {

struct EdgeConfig {
  std::string node_id;  // must match the join token's id
  std::string listen = "127.0.0.1:7500";
  std::string hub;         // host:port of the hub
  std::string data_dir;    // identity/ and state
  std::string join_token;  // used once, on first start
  int64_t heartbeat_interval_ms = 1000;
  std::string tls_cert;  // optional TLS under the channel (server side)
  std::string tls_key;
  std::string hub_tls_ca;  // TLS root for the hub's transport, if it uses TLS
  std::string log_level = "info";
  std::string log_file;
  GatewayConfig gateway;  // gateway.* (docs/gateway.md §5)
};

absl::StatusOr<EdgeConfig> LoadEdgeConfig(const std::string& path);

}  // namespace beibu::edge
