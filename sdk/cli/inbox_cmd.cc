// `beibu inbox`: receive what enterprises abroad sent you, optionally write
// each payload to a directory and acknowledge it (proto/beibu/v1/exchange.proto).
#include <google/protobuf/util/time_util.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "beibu/client/client.h"
#include "commands.h"
#include "connection.h"
#include "progress.h"
#include "transfer_format.h"

namespace beibu::cli {
namespace {

// Without --follow: the backlog is over when nothing arrives for this long.
constexpr std::chrono::milliseconds kBacklogIdle{1000};

struct InboxFlags {
  ConnectionFlags conn;
  std::string out_dir;
  bool follow = false, ack = false, json = false;
  uint64_t max = 0;
  uint32_t max_unacked = 0;
};

void PrintHeader() {
  std::cout << std::left << std::setw(34) << "TRANSFER" << std::setw(24) << "FROM" << std::setw(22)
            << "CATEGORY" << std::setw(14) << "DECISION" << std::setw(12) << "SIZE"
            << "SM3\n";
}

void PrintDelivery(const ReceivedTransfer& r, const InboxFlags& f, const std::string& file,
                   bool acked) {
  const v1::Delivery& d = r.info;
  if (f.json) {
    nlohmann::json j = nlohmann::json::parse(ToJson(d), nullptr, false);
    if (!file.empty()) j["file"] = file;
    j["acknowledged"] = acked;
    std::cout << j.dump() << "\n" << std::flush;
    return;
  }
  std::string from = d.from_enterprise() + (d.from_country().empty() ? "" : "/" + d.from_country());
  std::cout << std::left << std::setw(34) << d.transfer_id() << std::setw(24) << from
            << std::setw(22) << d.category() << std::setw(14) << d.decision().decision()
            << std::setw(12) << FormatBytes(d.size()) << d.payload_sm3() << "\n"
            << std::flush;
}

// Receives until the backlog is drained (or for ever with --follow, reopening
// the stream after a break). Returns the command's final status.
absl::Status RunInbox(const InboxFlags& f) {
  if (!f.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(f.out_dir, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot create --out ", f.out_dir, ": ", ec.message()));
    }
  }
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(f.conn.ToClientOptions());
  if (!client.ok()) return client.status();
  if (!f.json) PrintHeader();
  absl::Status worst;  // a delivery that failed its digest: reported, and the exit code says so
  uint64_t received = 0;
  int reopen = 0;
  while (f.max == 0 || received < f.max) {
    absl::StatusOr<std::unique_ptr<InboxReader>> reader = (*client)->OpenInbox(f.max_unacked);
    if (!reader.ok()) return reader.status();
    absl::Status s;
    while (f.max == 0 || received < f.max) {
      ReceivedTransfer r;
      std::optional<std::chrono::milliseconds> wait;
      if (!f.follow) wait = kBacklogIdle;
      std::string file;
      if (f.out_dir.empty()) {
        s = (*reader)->Next(
            &r, [](std::string_view) { return absl::OkStatus(); }, wait);
      } else {
        s = (*reader)->NextToDirectory(f.out_dir, &r, wait);
        if (s.ok()) file = (std::filesystem::path(f.out_dir) / r.info.transfer_id()).string();
      }
      if (absl::IsDataLoss(s) || absl::IsResourceExhausted(s)) {
        std::cerr << "beibu inbox: " << s.message() << "\n";
        worst = s;
        continue;
      }
      if (!s.ok()) break;
      reopen = 0;
      bool acked = false;
      if (f.ack) {
        absl::StatusOr<uint32_t> n = (*reader)->Ack({r.info.transfer_id()});
        if (!n.ok()) return n.status();
        acked = true;
      }
      PrintDelivery(r, f, file, acked);
      ++received;
    }
    if (s.ok() || absl::IsDeadlineExceeded(s)) break;  // --max reached, or the backlog is done
    if (!f.follow) {
      return absl::IsOutOfRange(s) ? worst : s;
    }
    // --follow: the stream ended or broke; reopen (unacknowledged deliveries come again).
    std::cerr << "beibu inbox: " << s.message() << "; reconnecting\n";
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(200 << std::min(reopen, 4), 3000)));
    ++reopen;
  }
  return worst;
}

}  // namespace

void AddInboxCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<InboxFlags>();
  CLI::App* cmd = app.add_subcommand(
      "inbox",
      "Receive what enterprises abroad sent you: lists each delivery (digest checked);\n"
      "--out DIR writes the payloads, --ack acknowledges them. Stops after the backlog\n"
      "unless --follow");
  f->conn.AddTo(cmd);
  cmd->add_option("--out", f->out_dir,
                  "write each payload to DIR/<transfer id> (atomically, before any --ack)");
  cmd->add_flag("--ack", f->ack,
                "acknowledge each delivery once received (and written): the edge drops it");
  cmd->add_flag("--follow", f->follow, "keep receiving new deliveries until interrupted");
  cmd->add_option("--max", f->max, "stop after this many deliveries");
  cmd->add_option("--max-unacked", f->max_unacked,
                  "deliveries in flight before an acknowledgement (default: the edge's, 64)");
  cmd->add_flag("--json", f->json, "one JSON object per delivery (JSON Lines)");
  cmd->callback([f, exit_code] { FinishCommand("inbox", RunInbox(*f), exit_code); });
}

}  // namespace beibu::cli
