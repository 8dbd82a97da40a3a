// `beibu relay queues`: the hub's store-and-forward queues, one per
// destination edge (docs/data-plane.md). Operators and regulators.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <iostream>

#include "beibu/v1/relay.pb.h"
#include "commands.h"
#include "connection.h"

namespace beibu::cli {
namespace {

absl::Status RunQueues(const ConnectionFlags& conn, bool json) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = conn.Connect({pki::Role::kHub});
  if (!client.ok()) return client.status();
  v1::RelayQueuesResponse resp;
  if (absl::Status s =
          (*client)->Call("/beibu.v1.Relay/ListQueues", v1::RelayQueuesRequest(), &resp);
      !s.ok()) {
    return s;
  }
  if (json) {
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(resp, &out, opts);
    std::cout << out << "\n";
    return absl::OkStatus();
  }
  std::printf("%-16s %10s %14s  %-9s %s\n", "DESTINATION", "ITEMS", "BYTES", "PULLING",
              "OLDEST QUEUED");
  for (const v1::RelayQueue& q : resp.queues()) {
    std::string oldest = q.items() == 0 || !q.has_oldest()
                             ? "-"
                             : google::protobuf::util::TimeUtil::ToString(q.oldest());
    std::printf("%-16s %10llu %14llu  %-9s %s\n", q.edge_id().c_str(),
                static_cast<unsigned long long>(q.items()),
                static_cast<unsigned long long>(q.bytes()), q.connected() ? "yes" : "no",
                oldest.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddRelayCommands(CLI::App& app, int* exit_code) {
  CLI::App* relay = app.add_subcommand("relay", "The hub's store-and-forward relay");
  relay->require_subcommand(1);
  auto conn = std::make_shared<ConnectionFlags>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = relay->add_subcommand(
      "queues",
      "Queue depth per destination edge at the hub: items and bytes waiting, whether the edge "
      "is pulling, the oldest item's arrival (operators and regulators)");
  conn->AddTo(cmd);
  cmd->add_flag("--json", *json, "the RelayQueuesResponse as JSON");
  cmd->callback([=] { FinishCommand("relay queues", RunQueues(*conn, *json), exit_code); });
}

}  // namespace beibu::cli
