// `beibu warnings`: the risk warnings an enterprise's edge issued to it when
// a new compliance database version came into force
// (docs/policy-distribution.md).
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <iostream>

#include "absl/strings/str_join.h"
#include "beibu/v1/advisory.pb.h"
#include "commands.h"
#include "connection.h"

namespace beibu::cli {
namespace {

absl::Status RunWarnings(const ConnectionFlags& conn, bool json) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = conn.Connect({pki::Role::kEdge});
  if (!client.ok()) return client.status();
  v1::ListRiskWarningsResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Advisories/ListRiskWarnings",
                                       v1::ListRiskWarningsRequest(), &resp);
      !s.ok()) {
    return s;
  }
  if (json) {
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    for (const v1::RiskWarning& w : resp.warnings()) {
      std::string line;
      (void)google::protobuf::util::MessageToJsonString(w, &line, opts);
      std::cout << line << "\n";
    }
    return absl::OkStatus();
  }
  if (resp.warnings().empty()) {
    std::cout << "no risk warnings: none of your recent routes changes under the policy in force\n";
    return absl::OkStatus();
  }
  for (const v1::RiskWarning& w : resp.warnings()) {
    std::cout << google::protobuf::util::TimeUtil::ToString(w.issued_at()) << "  policy "
              << w.old_version() << " -> " << w.new_version() << "  " << w.from_country() << ">"
              << w.to_country() << " " << w.category() << ": " << w.before() << " -> " << w.after()
              << "\n  " << w.reason() << "\n";
    if (!w.rules_added().empty()) {
      std::cout << "  rules added: " << absl::StrJoin(w.rules_added(), ", ") << "\n";
    }
    if (!w.rules_removed().empty()) {
      std::cout << "  rules removed: " << absl::StrJoin(w.rules_removed(), ", ") << "\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AddWarningsCommand(CLI::App& app, int* exit_code) {
  auto conn = std::make_shared<ConnectionFlags>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "warnings",
      "Risk warnings your edge issued to you: recent routes whose decision changes under a new "
      "compliance database version");
  conn->AddTo(cmd);
  cmd->add_flag("--json", *json, "one JSON object per warning");
  cmd->callback([=] { FinishCommand("warnings", RunWarnings(*conn, *json), exit_code); });
}

}  // namespace beibu::cli
