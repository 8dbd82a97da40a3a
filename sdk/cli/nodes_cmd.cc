// `beibu nodes`, `beibu node info` and `beibu enroll`.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <filesystem>
#include <iomanip>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "beibu/daemon/identity_files.h"
#include "beibu/enroll/enroll.h"
#include "beibu/v1/registry.pb.h"
#include "commands.h"
#include "connection.h"

namespace beibu::cli {
namespace {

using google::protobuf::util::TimeUtil;

std::string Ago(const google::protobuf::Timestamp& now, const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "never";
  int64_t ms = TimeUtil::DurationToMilliseconds(now - t);
  if (ms < 1000) return absl::StrCat(ms, "ms ago");
  if (ms < 120000) return absl::StrCat(ms / 1000, "s ago");
  return absl::StrCat(ms / 60000, "m ago");
}

int RunNodes(const ConnectionFlags& conn, bool all, bool json) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = conn.Connect({pki::Role::kHub});
  if (!client.ok()) return ReportError(client.status());
  v1::ListNodesResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Admin/ListNodes", v1::ListNodesRequest(), &resp);
      !s.ok()) {
    return ReportError(s);
  }
  if (!all) {
    auto* nodes = resp.mutable_nodes();
    nodes->erase(std::remove_if(nodes->begin(), nodes->end(),
                                [](const v1::NodeRecord& n) { return n.role() != "edge"; }),
                 nodes->end());
  }
  if (json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(resp, &out, opts);
    std::cout << out << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(18) << "NODE" << std::setw(9) << "COUNTRY" << std::setw(12)
            << "ROLE" << std::setw(9) << "HEALTH" << std::setw(16) << "LAST HEARTBEAT"
            << std::setw(9) << "VERSION" << std::setw(8) << "POLICY"
            << "SESSIONS\n";
  for (const v1::NodeRecord& n : resp.nodes()) {
    std::cout << std::left << std::setw(18) << n.node_id() << std::setw(9) << n.country()
              << std::setw(12) << n.role() << std::setw(9) << n.health() << std::setw(16)
              << Ago(resp.hub_time(), n.last_heartbeat()) << std::setw(9)
              << (n.last_status().software_version().empty() ? "-"
                                                             : n.last_status().software_version())
              << std::setw(8)
              // The compliance database version the edge enforces (0: not reported).
              << (n.last_status().policy_version() == 0
                      ? std::string("-")
                      : std::to_string(n.last_status().policy_version()))
              << n.last_status().load().active_sessions() << "\n";
  }
  return kExitOk;
}

int RunInfo(const ConnectionFlags& conn) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client =
      conn.Connect({pki::Role::kHub, pki::Role::kEdge});
  if (!client.ok()) return ReportError(client.status());
  v1::NodeInfoResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Node/Info", v1::NodeInfoRequest(), &resp);
      !s.ok()) {
    return ReportError(s);
  }
  std::cout << "node:          " << resp.node_id() << " (" << resp.role() << ", " << resp.country()
            << ")\n"
            << "version:       " << resp.software_version() << "\n"
            << "trust bundle:  " << resp.trust_bundle_digest() << "\n"
            << "channel suite: " << channel::SuiteName((*client)->suite()) << "\n"
            << "you are:       " << resp.peer_id() << " (" << resp.peer_role() << ")\n";
  return kExitOk;
}

int RunEnroll(const std::string& hub, const std::string& token, const std::string& out,
              const std::string& id, const std::string& tls_ca) {
  // Check before the token is spent: an existing key is never replaced.
  if (std::filesystem::exists(std::filesystem::path(out) / enroll::kKeyFile)) {
    return ReportError(absl::AlreadyExistsError(out + "/" + enroll::kKeyFile +
                                                " already exists; enrol into a new directory"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> transport =
      daemon::LoadClientTransport(tls_ca);
  if (!transport.ok()) return ReportError(transport.status());
  absl::StatusOr<enroll::Enrolled> e = enroll::Enroll(hub, token, id, *transport);
  if (!e.ok()) return ReportError(e.status());
  if (absl::Status s = enroll::SaveIdentity(*e, out); !s.ok()) return ReportError(s);
  std::cout << "enrolled " << pki::Describe(e->identity) << ", serial " << e->identity.serial_hex
            << "\nwrote " << out << "/{key.pem,cert.pem,trust-bundle.pem}\n";
  return kExitOk;
}

}  // namespace

void AddNodeCommands(CLI::App& app, int* exit_code) {
  auto conn = std::make_shared<ConnectionFlags>();
  CLI::App* nodes = app.add_subcommand(
      "nodes",
      "List the edges enrolled at the hub with country, health and last heartbeat (operator)");
  conn->AddTo(nodes);
  auto all = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  nodes->add_flag("--all", *all, "include enterprises, officers, regulators and operators");
  nodes->add_flag("--json", *json, "print the hub's answer as JSON");
  nodes->callback([=] { *exit_code = RunNodes(*conn, *all, *json); });

  auto conn2 = std::make_shared<ConnectionFlags>();
  CLI::App* node = app.add_subcommand("node", "Ask a hub or edge about itself");
  node->require_subcommand(1);
  CLI::App* info =
      node->add_subcommand("info", "Who the daemon is, its trust bundle and who you are to it");
  conn2->AddTo(info);
  info->callback([=] { *exit_code = RunInfo(*conn2); });

  auto hub = std::make_shared<std::string>();
  auto token = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto tls_ca = std::make_shared<std::string>();
  CLI::App* enroll = app.add_subcommand(
      "enroll",
      "Enrol with the hub using a one-time join token: generates an SM2 key locally and writes\n"
      "OUT/key.pem (0600), OUT/cert.pem and OUT/trust-bundle.pem");
  enroll->add_option("--hub", *hub, "hub address host:port")->envname("BEIBU_HUB")->required();
  enroll->add_option("--token", *token, "join token from `beibu pki token create`")->required();
  enroll->add_option("--out", *out, "directory for the new identity")->required();
  enroll->add_option("--id", *id, "the id you expect the token to name (checked)");
  enroll->add_option("--tls-ca", *tls_ca, "PEM roots for the hub's TLS transport, if it uses TLS")
      ->envname("BEIBU_TLS_CA");
  enroll->callback([=] { *exit_code = RunEnroll(*hub, *token, *out, *id, *tls_ca); });
}

}  // namespace beibu::cli
