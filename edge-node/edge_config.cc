#include "edge_config.h"

#include "beibu/config/yaml_reader.h"

namespace beibu::edge {

absl::StatusOr<EdgeConfig> LoadEdgeConfig(const std::string& path) {
  absl::StatusOr<config::YamlReader> r = config::YamlReader::Load(path);
  if (!r.ok()) return r.status();
  EdgeConfig c;
  c.node_id = r->RequiredString("node_id");
  c.listen = r->Address("listen", c.listen);
  c.hub = r->RequiredString("hub");
  if (!c.hub.empty()) c.hub = r->Address("hub", "");
  c.data_dir = r->RequiredString("data_dir");
  c.join_token = r->String("join_token", "");
  c.heartbeat_interval_ms = r->Int("heartbeat_interval_ms", c.heartbeat_interval_ms, 50, 60000);
  c.tls_cert = r->String("tls.cert", "");
  c.tls_key = r->String("tls.key", "");
  if (c.tls_cert.empty() != c.tls_key.empty())
    r->Problem("tls.cert and tls.key go together: set both or neither");
  c.hub_tls_ca = r->String("hub_tls_ca", "");
  c.log_level = r->String("log.level", c.log_level);
  c.log_file = r->String("log.file", "");
  c.gateway = ReadGatewayConfig(*r);
  if (absl::Status s = r->Finish(); !s.ok()) return s;
  return c;
}

}  // namespace beibu::edge
