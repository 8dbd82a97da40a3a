// beibu-hub: the Guangxi hub of a Beibu data space. It is the certificate
// authority and registry of the space: edges and people enrol here with
// one-time join tokens, edges keep a heartbeat stream open, and the hub pushes
// the trust bundle and revocation list to them. See docs/operations.md.
#include <spdlog/spdlog.h>

#include "anchor_service.h"
#include "beibu/audit/audit_query_service.h"
#include "beibu/crypto/crypto.h"
#include "beibu/daemon/daemon_main.h"
#include "beibu/daemon/logging.h"
#include "beibu/daemon/node_info_service.h"
#include "beibu/daemon/server_host.h"
#include "edge_breaker_reports.h"
#include "gateway_service.h"
#include "hub_breakers.h"
#include "hub_config.h"
#include "hub_state.h"
#include "policy_publisher.h"
#include "registry_service.h"
#include "relay_service.h"

namespace {

using beibu::daemon::kExitBadConfig;
using beibu::daemon::kExitCannotStart;

constexpr char kDescription[] = R"(beibu-hub - the hub of a Beibu cross-border data space.

The hub is the space's certificate authority and registry. Edges enrol with a
one-time join token, then keep a heartbeat stream open over the SM2/SM4 secure
channel; the hub pushes the trust bundle and revocation list to them, and the
hub-wide data circuit breakers (`beibu breaker trip --server <hub>`).

First run:
  beibu pki init --dir /etc/beibu/pki          # CA, hub and operator identities
  beibu-hub --config hub.yaml                  # see deploy/hub.example.yaml

Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 for a bad command
line or configuration, 3 when the hub cannot start (files, port, database).)";

int CannotStart(const absl::Status& s) {
  spdlog::critical("event=start_failed error=\"{}\"", s.message());
  return kExitCannotStart;
}

int Run(const beibu::daemon::DaemonArgs& args) {
  absl::StatusOr<beibu::hub::HubConfig> config = beibu::hub::LoadHubConfig(args.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "beibu-hub: %s\n", std::string(config.status().message()).c_str());
    return kExitBadConfig;
  }
  if (absl::Status s = beibu::daemon::InitLogging("hub", config->log_level, config->log_file);
      !s.ok()) {
    std::fprintf(stderr, "beibu-hub: %s\n", std::string(s.message()).c_str());
    return kExitBadConfig;
  }
  if (absl::Status s = beibu::crypto::CheckProvider(); !s.ok()) return CannotStart(s);
  absl::StatusOr<std::unique_ptr<beibu::hub::HubState>> state = beibu::hub::HubState::Open(*config);
  if (!state.ok()) return CannotStart(state.status());
  beibu::hub::HubState* hub = state->get();
  if (hub->self().id != "hub") {  // log under the id in hub.crt from here on
    (void)beibu::daemon::InitLogging(hub->self().id, config->log_level, config->log_file);
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> transport =
      beibu::daemon::LoadServerTransport(config->tls_cert, config->tls_key);
  if (!transport.ok()) return CannotStart(transport.status());

  // The compliance database the edges enforce, signed by the hub
  // (docs/policy-distribution.md).
  auto policy = beibu::hub::PolicyPublisher::Open(
      {.data_dir = config->data_dir,
       .key = hub->credentials().key,
       .certificate_pem = hub->credentials().chain.front().ToPem(),
       .audit = &hub->audit()});
  if (!policy.ok()) return CannotStart(policy.status());
  // The hub-wide data circuit breakers (docs/gateway.md §4), pushed on every
  // heartbeat stream, and what the edges report of their own.
  auto breakers = beibu::hub::HubBreakers::Open(
      {.dir = config->data_dir + "/gateway", .hub_id = hub->self().id, .audit = &hub->audit()});
  if (!breakers.ok()) return CannotStart(breakers.status());
  beibu::hub::EdgeBreakerReports edge_breakers(&hub->audit());
  beibu::hub::GatewayService gateway(breakers->get(), &edge_breakers);
  beibu::hub::RegistryService registry(hub, policy->get(), breakers->get(), &edge_breakers);
  beibu::hub::AdminService admin(hub, policy->get());
  beibu::hub::AnchorService anchor(hub);
  beibu::audit::AuditQueryService audit_query(&hub->audit(), hub->self().country);
  beibu::hub::HubRelayDirectory relay_directory(hub);
  absl::StatusOr<std::unique_ptr<beibu::hub::RelayService>> relay = beibu::hub::RelayService::Open({
      .dir = config->data_dir + "/relay",
      .limits = {.max_queue_bytes = static_cast<uint64_t>(config->relay_max_queue_bytes),
                 .max_queue_items = static_cast<uint64_t>(config->relay_max_queue_items)},
      .directory = &relay_directory,
      .audit = &hub->audit(),
  });
  if (!relay.ok()) return CannotStart(relay.status());
  beibu::daemon::NodeInfoService info(hub->self(), [hub] { return hub->bundle()->DigestHex(); });
  absl::StatusOr<std::unique_ptr<beibu::daemon::ServerHost>> host =
      beibu::daemon::ServerHost::Start({
          .listen_address = config->listen,
          .handshake =
              [hub] {
                beibu::channel::HandshakeConfig c;
                c.credentials = hub->credentials();
                c.trust = hub->bundle();
                c.allowed_peer_roles = {beibu::pki::Role::kEdge, beibu::pki::Role::kOperator,
                                        beibu::pki::Role::kRegulator};
                c.allow_anonymous_peer = true;  // enrolment; services check roles per call
                return c;
              },
          .services = {&registry, &admin, &anchor, &audit_query, relay->get(), &gateway, &info},
          .transport = *transport,
      });
  if (!host.ok()) return CannotStart(host.status());
  beibu::daemon::ServerHost* server = host->get();
  hub->SetRevocationListener([server](const std::string& serial) {
    int n = server->tunnel().CloseSessions(
        [&](const beibu::pki::Identity& peer) { return peer.serial_hex == serial; });
    spdlog::info("event=sessions_closed serial={} count={}", serial, n);
  });
  if (absl::Status s = beibu::daemon::WritePortFile(args.port_file, server->port()); !s.ok()) {
    return CannotStart(s);
  }
  spdlog::info("event=started listen={} port={} ca_fingerprint={} crypto=\"{}\"", config->listen,
               server->port(), hub->bundle()->roots().front().FingerprintHex(),
               beibu::crypto::ProviderVersion());
  beibu::daemon::ServeUntilSignal(*server, [&audit_query, &relay] {
    audit_query.Stop();
    (*relay)->Stop();  // ends Push/Pull streams so the server can shut down
  });
  return beibu::daemon::kExitClean;
}

}  // namespace

int main(int argc, char** argv) {
  return beibu::daemon::DaemonMain(argc, argv, kDescription, "beibu-hub 0.1.0", Run);
}
