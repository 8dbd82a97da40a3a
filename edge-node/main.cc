// beibu-edge: a mirror edge node of a Beibu data space, one per jurisdiction.
// Enrols with the hub once (join token), then serves the enterprises,
// officers and regulators of its country over the secure channel and keeps a
// heartbeat stream to the hub. See docs/operations.md.
#include <spdlog/spdlog.h>

#include <atomic>

#include "advisory_service.h"
#include "anchorer.h"
#include "beibu/audit/audit_log.h"
#include "beibu/audit/audit_query_service.h"
#include "beibu/crypto/crypto.h"
#include "beibu/daemon/daemon_main.h"
#include "beibu/daemon/logging.h"
#include "beibu/daemon/node_info_service.h"
#include "beibu/daemon/server_host.h"
#include "edge_config.h"
#include "edge_identity.h"
#include "evidence_service.h"
#include "exchange/epoch_keys.h"
#include "exchange/exchange_service.h"
#include "exchange/exchange_store.h"
#include "exchange/policy_holder.h"
#include "exchange/relay_link.h"
#include "gateway/edge_gateway.h"
#include "gateway/gateway_service.h"
#include "hub_link.h"
#include "policy_store.h"
#include "risk_advisor.h"

namespace {

using beibu::daemon::kExitBadConfig;
using beibu::daemon::kExitCannotStart;

constexpr char kDescription[] =
    R"(beibu-edge - a mirror edge node of a Beibu cross-border data space.

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

int CannotStart(const absl::Status& s) {
  spdlog::critical("event=start_failed error=\"{}\"", s.message());
  return kExitCannotStart;
}

int Run(const beibu::daemon::DaemonArgs& args) {
  absl::StatusOr<beibu::edge::EdgeConfig> config = beibu::edge::LoadEdgeConfig(args.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "beibu-edge: %s\n", std::string(config.status().message()).c_str());
    return kExitBadConfig;
  }
  if (absl::Status s =
          beibu::daemon::InitLogging(config->node_id, config->log_level, config->log_file);
      !s.ok()) {
    std::fprintf(stderr, "beibu-edge: %s\n", std::string(s.message()).c_str());
    return kExitBadConfig;
  }
  if (absl::Status s = beibu::crypto::CheckProvider(); !s.ok()) return CannotStart(s);
  absl::StatusOr<std::unique_ptr<beibu::edge::EdgeIdentity>> identity =
      beibu::edge::EdgeIdentity::LoadOrEnroll(*config);
  if (!identity.ok()) return CannotStart(identity.status());
  beibu::edge::EdgeIdentity* id = identity->get();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> transport =
      beibu::daemon::LoadServerTransport(config->tls_cert, config->tls_key);
  if (!transport.ok()) return CannotStart(transport.status());

  absl::StatusOr<std::unique_ptr<beibu::audit::AuditLog>> audit_log =
      beibu::audit::AuditLog::Open({.dir = config->data_dir + "/audit",
                                    .node_id = id->self().id,
                                    .key = id->credentials().key,
                                    .node_country = id->self().country});
  if (!audit_log.ok()) return CannotStart(audit_log.status());
  beibu::audit::AuditLog* audit = audit_log->get();
  // The data plane (docs/data-plane.md): the compliance database in force,
  // the end-to-end keys, the store and the link that forwards through the hub.
  auto policy_holder = beibu::edge::PolicyHolder::CreateWithBaseline();
  if (!policy_holder.ok()) return CannotStart(policy_holder.status());
  auto risk_advisor = beibu::edge::RiskAdvisor::Open(
      {.state_path = config->data_dir + "/policy/warnings.pb", .audit = audit});
  if (!risk_advisor.ok()) return CannotStart(risk_advisor.status());
  beibu::edge::RiskAdvisor* advisor = risk_advisor->get();
  auto policy_store = beibu::edge::PolicyStore::Open(
      {.data_dir = config->data_dir,
       .trust = [id] { return id->trust(); },
       .holder = policy_holder->get(),
       .audit = audit,
       .on_applied =
           [advisor](const beibu::policy::Database& old_db, const beibu::policy::Database& new_db) {
             advisor->OnPolicyApplied(old_db, new_db);
           }});
  if (!policy_store.ok()) return CannotStart(policy_store.status());
  beibu::edge::PolicyStore* policy = policy_store->get();
  auto epoch_keys = beibu::edge::EpochKeys::Open({.dir = config->data_dir + "/epoch"}, id);
  if (!epoch_keys.ok()) return CannotStart(epoch_keys.status());
  // Destroyed before the audit log: its journal appends what is staged.
  auto exchange_store = beibu::edge::ExchangeStore::Open(config->data_dir + "/exchange", audit);
  if (!exchange_store.ok()) return CannotStart(exchange_store.status());
  beibu::edge::ExchangeStore* store = exchange_store->get();
  // The gateway's defences (docs/gateway.md), opened just below: the relay
  // link asks it, before pushing, whether a breaker holds a transfer.
  std::unique_ptr<beibu::edge::EdgeGateway> gateway_holder;
  beibu::edge::RelayLinkOptions relay_options;
  if (config->gateway.enabled) {
    relay_options.holds_outbound = [&gateway_holder](const beibu::v1::EnvelopeHeader& h) {
      return gateway_holder->HoldsOutbound(h);
    };
  }
  beibu::edge::RelayLink relay(*config, id, store, epoch_keys->get(), audit, relay_options);
  // A breaker change wakes the heartbeat (the hub hears at once) and, on a
  // close, asks the relay link to send what the breaker held. The hub link
  // is created further down; changes before it exists reach the hub with
  // its first heartbeat. The release itself runs on the relay link's
  // releaser thread: this callback runs on the thread that changed the
  // breaker (an Admit, the hub link, a Reset RPC), which must not wait for
  // the store.
  std::atomic<beibu::edge::HubLink*> link_for_gateway{nullptr};
  auto gateway = beibu::edge::EdgeGateway::Open(
      {.config = config->gateway,
       .dir = config->data_dir + "/gateway",
       .country = id->self().country,
       .audit = audit,
       .on_breaker_change = [&link_for_gateway, &relay](beibu::gateway::BreakerBoard::Change change,
                                                        const beibu::v1::Breaker&) {
         if (beibu::edge::HubLink* l = link_for_gateway.load()) l->ReportNow();
         if (change == beibu::gateway::BreakerBoard::Change::kClosed) relay.RequestRelease();
       }});
  if (!gateway.ok()) return CannotStart(gateway.status());
  gateway_holder = *std::move(gateway);
  beibu::edge::EdgeGateway* gw = gateway_holder.get();
  beibu::edge::ExchangeService exchange(
      {.secret_path = config->data_dir + "/exchange-secret",
       .on_outbox = [&relay] { relay.Notify(); },
       .on_decided =
           [advisor](const std::string& exporter, const beibu::policy::RouteRequest& request) {
             advisor->Record(exporter, request);
           },
       .gateway = gw},
      id->self(), store, epoch_keys->get(), policy_holder->get());
  beibu::edge::GatewayService gateway_service(gw);
  beibu::edge::AdvisoryService advisories(advisor, id->self().country);
  beibu::daemon::NodeInfoService info(id->self(), [id] { return id->trust_digest(); });
  beibu::edge::EvidenceService evidence(audit, id, config->data_dir + "/audit");
  beibu::audit::AuditQueryService audit_query(audit, id->self().country);
  absl::StatusOr<std::unique_ptr<beibu::daemon::ServerHost>> host =
      beibu::daemon::ServerHost::Start({
          .listen_address = config->listen,
          .handshake =
              [id] {
                beibu::channel::HandshakeConfig c;
                c.credentials = id->credentials();
                c.trust = id->trust();
                c.allowed_peer_roles = {beibu::pki::Role::kEnterprise, beibu::pki::Role::kOfficer,
                                        beibu::pki::Role::kRegulator,  beibu::pki::Role::kOperator,
                                        beibu::pki::Role::kEdge,       beibu::pki::Role::kHub};
                return c;
              },
          .services = {&info, &evidence, &audit_query, &exchange, &advisories, &gateway_service},
          .transport = *transport,
          .on_handshake_refused = [gw](const std::string& who) { gw->ObserveAuthFailure(who); },
      });
  if (!host.ok()) return CannotStart(host.status());
  beibu::daemon::ServerHost* server = host->get();
  if (absl::Status s = beibu::daemon::WritePortFile(args.port_file, server->port()); !s.ok()) {
    return CannotStart(s);
  }
  // Report the address clients really reach (listen may say port 0).
  beibu::edge::EdgeConfig reported = *config;
  reported.listen =
      config->listen.substr(0, config->listen.rfind(':') + 1) + std::to_string(server->port());
  beibu::edge::HubLink link(
      reported, id, [server] { return static_cast<uint32_t>(server->tunnel().active_sessions()); },
      [server, id, audit] {
        auto trust = id->trust();
        int n = server->tunnel().CloseSessions(
            [&](const beibu::pki::Identity& peer) { return trust->IsRevoked(peer); });
        if (n > 0) spdlog::warn("event=revoked_sessions_closed count={}", n);
        beibu::v1::AuditEvent e;
        e.set_operation("edge.trust_bundle_installed");
        e.mutable_who()->set_role("hub");
        e.set_detail("bundle " + trust->DigestHex().substr(0, 16) + ", CRL " +
                     std::to_string(id->crl_number()) + ", " + std::to_string(n) +
                     " revoked sessions closed");
        if (auto i = audit->Append(std::move(e)); !i.ok()) {
          spdlog::error("event=audit_append_failed error=\"{}\"", i.status().message());
        }
      });
  link.SetPolicyHandlers([policy](const beibu::v1::SignedPolicy& p) { return policy->Apply(p); },
                         [policy] { return policy->Enforced(); });
  link.SetBreakerHandlers([gw] { return gw->Breakers(); },
                          [gw, &relay](const std::vector<beibu::v1::Breaker>& set) {
                            gw->board().ApplyHubSet(set);
                            // A hub-wide breaker lifted while the hub link was down closes here
                            // (kClosed, above); asking again is cheap and covers a set that
                            // changed what the edge holds in any other way.
                            relay.RequestRelease();
                          });
  link_for_gateway = &link;
  // Data held by breakers that closed while the edge was down (or by a
  // gateway since disabled) leaves as soon as the relay link starts.
  relay.RequestRelease();
  link.Start();
  relay.Start();
  {
    beibu::v1::AuditEvent started;
    started.set_operation("edge.started");
    started.mutable_who()->set_id(id->self().id);
    started.mutable_who()->set_role("edge");
    started.set_detail("serving on port " + std::to_string(server->port()));
    if (auto i = audit->Append(std::move(started)); !i.ok()) return CannotStart(i.status());
  }
  beibu::edge::Anchorer anchorer(*config, id, audit);
  anchorer.Start();
  spdlog::info("event=started id={} country={} listen={} port={} hub={}", id->self().id,
               id->self().country, config->listen, server->port(), config->hub);
  beibu::daemon::ServeUntilSignal(
      *server, [&link, &link_for_gateway, &anchorer, &audit_query, &exchange, &relay] {
        audit_query.Stop();
        exchange.Stop();
        relay.Stop();
        anchorer.Stop();
        link.Stop();
        link_for_gateway = nullptr;  // `link` goes before the gateway
      });
  return beibu::daemon::kExitClean;
}

}  // namespace

int main(int argc, char** argv) {
  return beibu::daemon::DaemonMain(argc, argv, kDescription, "beibu-edge 0.1.0", Run);
}
