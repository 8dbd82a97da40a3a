// `beibu breaker list|trip|reset`: the data circuit breakers of an edge, or
// the hub-wide ones (docs/gateway.md §4, §6). Operators only.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <iostream>

#include "beibu/v1/gateway.pb.h"
#include "commands.h"
#include "connection.h"

namespace beibu::cli {
namespace {

constexpr char kScopeForms[] =
    "Scopes:\n"
    "  global                       every flow (of the edge; against the hub: of every edge)\n"
    "  route:VN>CN                  sends from VN to CN (ISO 3166-1 alpha-2, upper case;\n"
    "                               quote it: the shell reads > as a redirection)\n"
    "  enterprise:<certificate id>  the sends of one enterprise\n";

struct BreakerFlags {
  ConnectionFlags conn;
  std::string scope;
  std::string reason;
  bool json = false;
};

std::string StateName(v1::BreakerState s) {
  switch (s) {
    case v1::BREAKER_OPEN:
      return "open";
    case v1::BREAKER_HALF_OPEN:
      return "half-open";
    case v1::BREAKER_CLOSED:
      return "closed";
    default:
      return "unknown";
  }
}

std::string TimeOrDash(bool has, const google::protobuf::Timestamp& t) {
  return has ? google::protobuf::util::TimeUtil::ToString(t) : std::string("-");
}

void PrintJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  std::cout << out << "\n";
}

void PrintTable(const google::protobuf::RepeatedPtrField<v1::Breaker>& breakers,
                const char* indent) {
  if (breakers.empty()) {
    std::printf("%s(no open breakers)\n", indent);
    return;
  }
  std::printf("%s%-28s %-10s %-28s %-24s %s\n", indent, "SCOPE", "STATE", "BY", "SINCE", "REASON");
  for (const v1::Breaker& b : breakers) {
    std::string state = StateName(b.state());
    std::printf("%s%-28s %-10s %-28s %-24s %s\n", indent, b.scope().c_str(), state.c_str(),
                b.tripped_by().c_str(), TimeOrDash(b.has_tripped_at(), b.tripped_at()).c_str(),
                b.reason().c_str());
  }
}

absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> Connect(const ConnectionFlags& conn) {
  return conn.Connect({pki::Role::kHub, pki::Role::kEdge});
}

absl::Status RunList(const BreakerFlags& f) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = Connect(f.conn);
  if (!client.ok()) return client.status();
  v1::ListBreakersResponse resp;
  if (absl::Status s =
          (*client)->Call("/beibu.v1.Gateway/ListBreakers", v1::ListBreakersRequest(), &resp);
      !s.ok()) {
    return s;
  }
  if (f.json) {
    PrintJson(resp);
    return absl::OkStatus();
  }
  const bool hub = (*client)->server().role == pki::Role::kHub;
  std::printf("%s\n", hub ? "Hub-wide breakers (imposed on every edge):"
                          : "Breakers of this edge (its own and the hub's):");
  PrintTable(resp.breakers(), "  ");
  if (hub) {
    std::printf("\nReported by the edges (last heartbeat):\n");
    if (resp.edges().empty()) std::printf("  (no edge has reported breakers yet)\n");
    for (const v1::EdgeBreakers& e : resp.edges()) {
      std::printf("  %s (%s), reported %s\n", e.node_id().c_str(), e.country().c_str(),
                  TimeOrDash(e.has_reported_at(), e.reported_at()).c_str());
      PrintTable(e.breakers(), "    ");
    }
  }
  return absl::OkStatus();
}

absl::Status Require(const std::string& value, const char* what) {
  if (value.empty()) return absl::InvalidArgumentError(std::string(what));
  return absl::OkStatus();
}

absl::Status RunTrip(const BreakerFlags& f) {
  // Checked before connecting: a missing reason is a usage error, not the server's.
  if (absl::Status s = Require(f.reason,
                               "--reason is required: it goes to the audit log and to every "
                               "refused sender (--reason \"incident 4711\")");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = Connect(f.conn);
  if (!client.ok()) return client.status();
  v1::TripBreakerRequest req;
  req.set_scope(f.scope);
  req.set_reason(f.reason);
  v1::Breaker b;
  if (absl::Status s = (*client)->Call("/beibu.v1.Gateway/TripBreaker", req, &b); !s.ok()) {
    return s;
  }
  if (f.json) {
    PrintJson(b);
    return absl::OkStatus();
  }
  const bool hub = (*client)->server().role == pki::Role::kHub;
  std::printf("tripped %s on %s (%s): %s\n", b.scope().c_str(),
              hub ? "every edge, via the hub" : (*client)->server().id.c_str(),
              b.tripped_by().c_str(), b.reason().c_str());
  std::printf("held until `beibu breaker reset --scope '%s'` against the same %s\n",
              b.scope().c_str(), hub ? "hub" : "edge");
  return absl::OkStatus();
}

absl::Status RunReset(const BreakerFlags& f) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = Connect(f.conn);
  if (!client.ok()) return client.status();
  v1::ResetBreakerRequest req;
  req.set_scope(f.scope);
  req.set_reason(f.reason);
  v1::Breaker b;
  if (absl::Status s = (*client)->Call("/beibu.v1.Gateway/ResetBreaker", req, &b); !s.ok()) {
    return s;
  }
  if (f.json) {
    PrintJson(b);
    return absl::OkStatus();
  }
  std::printf("reset %s: flows under it pass again; held outbound data leaves in its order\n",
              b.scope().empty() ? f.scope.c_str() : b.scope().c_str());
  return absl::OkStatus();
}

}  // namespace

void AddBreakerCommands(CLI::App& app, int* exit_code) {
  CLI::App* breaker = app.add_subcommand(
      "breaker", "Data circuit breakers of an edge, or hub-wide ones at the hub (operators)");
  breaker->require_subcommand(1);
  breaker->footer(std::string(kScopeForms) +
                  "\nExamples:\n"
                  "  beibu breaker list  --server edge-vn:7443 --identity ~/.beibu/op\n"
                  "  beibu breaker trip  --server hub:7443 --identity ~/.beibu/op \\\n"
                  "      --scope 'route:VN>CN' --reason \"incident 4711\"\n"
                  "  beibu breaker reset --server hub:7443 --identity ~/.beibu/op \\\n"
                  "      --scope 'route:VN>CN' --reason \"cleared\"\n"
                  "\nAgainst an edge: that edge only; against the hub: every edge, within a\n"
                  "second of the trip. An edge cannot reset a breaker the hub imposed.\n");

  auto list = std::make_shared<BreakerFlags>();
  CLI::App* cmd = breaker->add_subcommand(
      "list",
      "Open and half-open breakers: scope, state, who tripped it, since when, why; against the "
      "hub also what every edge reported");
  list->conn.AddTo(cmd);
  cmd->add_flag("--json", list->json, "the ListBreakersResponse as JSON");
  cmd->callback([=] { FinishCommand("breaker list", RunList(*list), exit_code); });

  auto trip = std::make_shared<BreakerFlags>();
  cmd = breaker->add_subcommand(
      "trip",
      "Open a breaker, held until reset: new sends under the scope are refused, queued "
      "outbound data is held");
  trip->conn.AddTo(cmd);
  cmd->add_option("--scope", trip->scope, "global | route:XX>YY | enterprise:<id>")->required();
  cmd->add_option("--reason", trip->reason,
                  "why (required): audited and shown to every refused sender");
  cmd->add_flag("--json", trip->json, "the Breaker as JSON");
  cmd->footer(
      std::string(kScopeForms) +
      "\nExample:\n"
      "  beibu breaker trip --server hub:7443 --identity ~/.beibu/op \\\n"
      "      --scope enterprise:vn-shipper --reason \"suspected exfiltration, ticket 88\"\n");
  cmd->callback([=] { FinishCommand("breaker trip", RunTrip(*trip), exit_code); });

  auto reset = std::make_shared<BreakerFlags>();
  cmd = breaker->add_subcommand(
      "reset", "Close a breaker; outbound data it held leaves in its original order");
  reset->conn.AddTo(cmd);
  cmd->add_option("--scope", reset->scope, "the scope as `beibu breaker list` shows it")
      ->required();
  cmd->add_option("--reason", reset->reason, "why it is safe again (required, audited)");
  cmd->add_flag("--json", reset->json, "the Breaker as JSON");
  cmd->footer(std::string(kScopeForms) +
              "\nExample:\n"
              "  beibu breaker reset --server edge-vn:7443 --identity ~/.beibu/op \\\n"
              "      --scope global --reason \"false alarm, checked with vn-shipper\"\n");
  cmd->callback([=] { FinishCommand("breaker reset", RunReset(*reset), exit_code); });
}

}  // namespace beibu::cli
