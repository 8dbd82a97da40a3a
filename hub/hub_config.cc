#include "hub_config.h"

#include "beibu/config/yaml_reader.h"

namespace beibu::hub {

absl::StatusOr<HubConfig> LoadHubConfig(const std::string& path) {
  absl::StatusOr<config::YamlReader> r = config::YamlReader::Load(path);
  if (!r.ok()) return r.status();
  HubConfig c;
  c.listen = r->Address("listen", c.listen);
  c.data_dir = r->RequiredString("data_dir");
  c.pki_dir = r->RequiredString("pki_dir");
  c.extra_roots = r->StringList("extra_roots");
  c.heartbeat_timeout_ms = r->Int("heartbeat_timeout_ms", c.heartbeat_timeout_ms, 100, 600000);
  c.cert_validity_days = r->Int("cert_validity_days", c.cert_validity_days, 1, 3650);
  c.relay_max_queue_bytes =
      r->Int("relay_max_queue_bytes", c.relay_max_queue_bytes, 1 << 20, int64_t{1} << 40);
  c.relay_max_queue_items =
      r->Int("relay_max_queue_items", c.relay_max_queue_items, 1, int64_t{1} << 32);
  c.tls_cert = r->String("tls.cert", "");
  c.tls_key = r->String("tls.key", "");
  if (c.tls_cert.empty() != c.tls_key.empty())
    r->Problem("tls.cert and tls.key go together: set both or neither");
  c.log_level = r->String("log.level", c.log_level);
  c.log_file = r->String("log.file", "");
  if (absl::Status s = r->Finish(); !s.ok()) return s;
  return c;
}

}  // namespace beibu::hub
