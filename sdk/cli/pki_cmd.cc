// `beibu pki ...`: the offline commands (init, show, issue) and the ones that
// ask the hub (token create, revoke).
#include <google/protobuf/util/time_util.h>

#include <iostream>

#include "beibu/v1/registry.pb.h"
#include "commands.h"
#include "connection.h"
#include "pki_offline_cmd.h"

namespace beibu::cli {
namespace {

int RunTokenCreate(const ConnectionFlags& conn, const v1::CreateJoinTokenRequest& req) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = conn.Connect({pki::Role::kHub});
  if (!client.ok()) return ReportError(client.status());
  v1::CreateJoinTokenResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Admin/CreateJoinToken", req, &resp); !s.ok()) {
    return ReportError(s);
  }
  // The token alone on stdout, so scripts can capture it.
  std::cout << resp.token() << "\n";
  std::cerr << "join token for " << req.id() << " (" << req.role() << ", " << req.country()
            << "), single use, expires "
            << google::protobuf::util::TimeUtil::ToString(resp.expires_at()) << "\n";
  return kExitOk;
}

int RunRevoke(const ConnectionFlags& conn, const v1::RevokeRequest& req) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = conn.Connect({pki::Role::kHub});
  if (!client.ok()) return ReportError(client.status());
  v1::RevokeResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Admin/Revoke", req, &resp); !s.ok()) {
    return ReportError(s);
  }
  std::cout << "revoked serial " << resp.serial_hex() << "; CRL number " << resp.crl_number()
            << " is being pushed to every edge\n";
  return kExitOk;
}

}  // namespace

void AddPkiCommands(CLI::App& app, int* exit_code) {
  CLI::App* pki = app.add_subcommand(
      "pki", "Certificate authority: init, show and issue offline; join tokens and revocation at the hub");
  pki->require_subcommand(1);
  AddPkiOfflineCommands(*pki, exit_code);

  CLI::App* token = pki->add_subcommand("token", "One-time join tokens (operator, at the hub)");
  token->require_subcommand(1);
  auto conn = std::make_shared<ConnectionFlags>();
  auto req = std::make_shared<v1::CreateJoinTokenRequest>();
  CLI::App* create = token->add_subcommand(
      "create", "Create a single-use join token; prints only the token on stdout");
  conn->AddTo(create);
  create->add_option_function<std::string>("--id", [req](const std::string& v) { req->set_id(v); },
                                           "node or entity id the certificate will name")
      ->required();
  create->add_option_function<std::string>(
            "--role", [req](const std::string& v) { req->set_role(v); },
            "edge, enterprise, officer, regulator or operator")
      ->required();
  create->add_option_function<std::string>(
            "--country", [req](const std::string& v) { req->set_country(v); },
            "ISO 3166 alpha-2 jurisdiction, e.g. VN")
      ->required();
  create->add_option_function<std::string>(
      "--org", [req](const std::string& v) { req->set_organization(v); }, "organization name");
  create->add_option_function<uint32_t>(
      "--ttl", [req](uint32_t v) { req->set_ttl_seconds(v); }, "seconds until the token expires (default 3600)");
  create->callback([=] { *exit_code = RunTokenCreate(*conn, *req); });

  auto conn2 = std::make_shared<ConnectionFlags>();
  auto rreq = std::make_shared<v1::RevokeRequest>();
  CLI::App* revoke = pki->add_subcommand(
      "revoke", "Revoke a certificate at the hub; live sessions end and the CRL reaches every edge");
  conn2->AddTo(revoke);
  auto* serial = revoke->add_option_function<std::string>(
      "--serial", [rreq](const std::string& v) { rreq->set_serial_hex(v); }, "certificate serial (hex)");
  auto* node = revoke->add_option_function<std::string>(
      "--node", [rreq](const std::string& v) { rreq->set_node_id(v); },
      "revoke the current certificate of this node or party");
  serial->excludes(node);
  revoke->callback([=] {
    if (rreq->target_case() == v1::RevokeRequest::TARGET_NOT_SET) {
      std::cerr << "beibu: give --serial or --node\n";
      *exit_code = kExitUsage;
      return;
    }
    *exit_code = RunRevoke(*conn2, *rreq);
  });
}

}  // namespace beibu::cli
