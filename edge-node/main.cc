// beibu-edge: a mirror edge node of a Beibu data space, one per jurisdiction.
// Enrolls with the hub once (join token), then serves the enterprises,
// officers and regulators of its country over the secure channel and keeps a
// heartbeat stream to the hub. See docs/operations.md.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "beibu/config/files.h"
#include "beibu/crypto/crypto.h"
#include "beibu/daemon/logging.h"
#include "beibu/daemon/node_info_service.h"
#include "beibu/daemon/server_host.h"
#include "edge_config.h"
#include "edge_identity.h"
#include "hub_link.h"

namespace {

constexpr char kDescription[] = R"(beibu-edge - a mirror edge node of a Beibu cross-border data space.

On first start the edge enrols with the hub using the join_token from its
configuration (the key is generated locally and never leaves); afterwards it
loads its identity from data_dir/identity and never enrols again. It keeps a
heartbeat stream to the hub, installs the trust bundle and revocation list the
hub pushes, and serves local clients over the SM2/SM4 secure channel. With the
hub unreachable it keeps serving and reconnects with backoff.

  beibu pki token create --id edge-vn --role edge --country VN   # on the hub side
  beibu-edge --config edge-vn.yaml                               # see deploy/edge.example.yaml

Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 for a bad command
line or configuration, 3 when the edge cannot start (enrolment, files, port).)";

int Run(const std::string& config_path, const std::string& port_file) {
  absl::StatusOr<beibu::edge::EdgeConfig> config = beibu::edge::LoadEdgeConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "beibu-edge: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (absl::Status s =
          beibu::daemon::InitLogging(config->node_id, config->log_level, config->log_file);
      !s.ok()) {
    std::fprintf(stderr, "beibu-edge: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = beibu::crypto::CheckProvider(); !s.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", s.message());
    return 3;
  }
  absl::StatusOr<std::unique_ptr<beibu::edge::EdgeIdentity>> identity =
      beibu::edge::EdgeIdentity::LoadOrEnroll(*config);
  if (!identity.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", identity.status().message());
    return 3;
  }
  beibu::edge::EdgeIdentity* id = identity->get();
  beibu::daemon::NodeInfoService info(id->self(), [id] { return id->trust_digest(); });

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
  absl::StatusOr<std::unique_ptr<beibu::daemon::ServerHost>> host =
      beibu::daemon::ServerHost::Start({
          .listen_address = config->listen,
          .handshake =
              [id] {
                beibu::channel::HandshakeConfig c;
                c.credentials = id->credentials();
                c.trust = id->trust();
                c.allowed_peer_roles = {beibu::pki::Role::kEnterprise, beibu::pki::Role::kOfficer,
                                        beibu::pki::Role::kRegulator, beibu::pki::Role::kOperator,
                                        beibu::pki::Role::kEdge, beibu::pki::Role::kHub};
                return c;
              },
          .services = {&info},
          .transport = transport,
      });
  if (!host.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", host.status().message());
    return 3;
  }
  beibu::daemon::ServerHost* server = host->get();
  if (!port_file.empty()) {
    if (absl::Status s = beibu::config::WriteFileAtomic(port_file, std::to_string(server->port()));
        !s.ok()) {
      spdlog::critical("event=start_failed error=\"{}\"", s.message());
      return 3;
    }
  }
  beibu::edge::HubLink link(
      *config, id, [server] { return static_cast<uint32_t>(server->tunnel().active_sessions()); },
      [server, id] {
        auto trust = id->trust();
        int n = server->tunnel().CloseSessions(
            [&](const beibu::pki::Identity& peer) { return trust->IsRevoked(peer); });
        if (n > 0) spdlog::warn("event=revoked_sessions_closed count={}", n);
      });
  link.Start();
  spdlog::info("event=started id={} country={} listen={} port={} hub={}", id->self().id,
               id->self().country, config->listen, server->port(), config->hub);
  int sig = beibu::daemon::WaitForShutdownSignal();
  spdlog::info("event=stopping signal={}", sig);
  link.Stop();
  server->Shutdown();
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
  app.set_version_flag("--version", "beibu-edge 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return Run(config_path, port_file);
}
