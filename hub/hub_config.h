// beibu-hub's configuration file (YAML). docs/operations.md lists every key.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace beibu::hub {

struct HubConfig {
  std::string listen = "127.0.0.1:7400";
  std::string data_dir;                  // RocksDB registry, tokens, revocations
  std::string pki_dir;                   // ca.key, ca.crt, hub.key, hub.crt (beibu pki init)
  std::vector<std::string> extra_roots;  // mutually recognised CAs (PEM files)
  int64_t heartbeat_timeout_ms = 3000;   // an edge silent this long is "stale"
  int64_t cert_validity_days = 365;
  std::string tls_cert;  // optional TLS under the channel
  std::string tls_key;
  // Per destination edge queue limits of the relay (issue 5): above them the
  // hub stops acknowledging pushes to that edge; nothing is dropped.
  int64_t relay_max_queue_bytes = int64_t{1} << 30;
  int64_t relay_max_queue_items = 1000000;
  std::string log_level = "info";
  std::string log_file;
};

absl::StatusOr<HubConfig> LoadHubConfig(const std::string& path);

}  // namespace beibu::hub
