// beibu-hub: the Guangxi hub of a Beibu data space. It is the certificate
// authority and registry of the space: edges and people enrol here with
// one-time join tokens, edges keep a heartbeat stream open, and the hub pushes
// the trust bundle and revocation list to them. See docs/operations.md.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "beibu/config/files.h"
#include "beibu/crypto/crypto.h"
#include "beibu/daemon/logging.h"
#include "beibu/daemon/node_info_service.h"
#include "beibu/daemon/server_host.h"
#include "hub_config.h"
#include "hub_state.h"
#include "registry_service.h"

namespace {

constexpr char kDescription[] = R"(beibu-hub - the hub of a Beibu cross-border data space.

The hub is the space's certificate authority and registry. Edges enrol with a
one-time join token, then keep a heartbeat stream open over the SM2/SM4 secure
channel; the hub pushes the trust bundle and revocation list to them.

First run:
  beibu pki init --dir /etc/beibu/pki          # CA, hub and operator identities
  beibu-hub --config hub.yaml                  # see deploy/hub.example.yaml

Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 for a bad command
line or configuration, 3 when the hub cannot start (files, port, database).)";

int Run(const std::string& config_path, const std::string& port_file) {
  absl::StatusOr<beibu::hub::HubConfig> config = beibu::hub::LoadHubConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "beibu-hub: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (absl::Status s = beibu::daemon::InitLogging("hub", config->log_level, config->log_file);
      !s.ok()) {
    std::fprintf(stderr, "beibu-hub: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = beibu::crypto::CheckProvider(); !s.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", s.message());
    return 3;
  }
  absl::StatusOr<std::unique_ptr<beibu::hub::HubState>> state =
      beibu::hub::HubState::Open(*config);
  if (!state.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", state.status().message());
    return 3;
  }
  beibu::hub::HubState* hub = state->get();

  std::unique_ptr<beibu::daemon::ServerHost> host;
  beibu::hub::RegistryService registry(hub);
  beibu::hub::AdminService admin(hub);
  beibu::daemon::NodeInfoService info(hub->self(), [hub] { return hub->bundle()->DigestHex(); });

  std::shared_ptr<grpc::ServerCredentials> transport;
  if (!config->tls_cert.empty()) {
    absl::StatusOr<std::string> cert = beibu::config::ReadFile(config->tls_cert);
    absl::StatusOr<std::string> key = beibu::config::ReadFile(config->tls_key);
    if (!cert.ok() || !key.ok()) {
      spdlog::critical("event=start_failed error=\"cannot read tls.cert/tls.key\"");
      return 3;
    }
    grpc::SslServerCredentialsOptions opts;
    opts.pem_key_cert_pairs.push_back({*key, *cert});
    transport = grpc::SslServerCredentials(opts);
  }
  absl::StatusOr<std::unique_ptr<beibu::daemon::ServerHost>> started =
      beibu::daemon::ServerHost::Start({
          .listen_address = config->listen,
          .handshake =
              [hub] {
                beibu::channel::HandshakeConfig c;
                c.credentials = hub->credentials();
                c.trust = hub->bundle();
                c.allowed_peer_roles = {beibu::pki::Role::kEdge, beibu::pki::Role::kOperator};
                c.allow_anonymous_peer = true;  // enrolment; services check roles per call
                return c;
              },
          .services = {&registry, &admin, &info},
          .transport = transport,
      });
  if (!started.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", started.status().message());
    return 3;
  }
  host = *std::move(started);
  hub->SetRevocationListener([&host](const std::string& serial) {
    int n = host->tunnel().CloseSessions(
        [&](const beibu::pki::Identity& peer) { return peer.serial_hex == serial; });
    spdlog::info("event=sessions_closed serial={} count={}", serial, n);
  });
  if (!port_file.empty()) {
    if (absl::Status s = beibu::config::WriteFileAtomic(port_file, std::to_string(host->port()));
        !s.ok()) {
      spdlog::critical("event=start_failed error=\"{}\"", s.message());
      return 3;
    }
  }
  spdlog::info("event=started listen={} port={} ca_fingerprint={} crypto=\"{}\"", config->listen,
               host->port(), hub->bundle()->roots().front().FingerprintHex(),
               beibu::crypto::ProviderVersion());
  int sig = beibu::daemon::WaitForShutdownSignal();
  spdlog::info("event=stopping signal={}", sig);
  host->Shutdown();
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  beibu::daemon::BlockShutdownSignals();
  CLI::App app{kDescription};
  std::string config_path, port_file;
  app.add_option("-c,--config", config_path, "YAML configuration file")->required()->check(CLI::ExistingFile);
  app.add_option("--port-file", port_file,
                 "write the bound port here once listening (useful with listen: host:0)");
  app.set_version_flag("--version", "beibu-hub 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return Run(config_path, port_file);
}
