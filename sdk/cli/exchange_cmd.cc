// `beibu send`, `beibu send-file` and `beibu transfer`: an enterprise sends
// data across the border through its edge and follows what became of it
// (proto/beibu/v1/exchange.proto, through the SDK).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "beibu/client/client.h"
#include "commands.h"
#include "connection.h"
#include "progress.h"
#include "transfer_format.h"

namespace beibu::cli {
namespace {

constexpr uint64_t kMaxSendBytes = 4ull << 20;

struct SendFlags {
  ConnectionFlags conn;
  TransferFlags transfer;
  std::string file, data;
  bool json = false;
};

// The payload from FILE, "-" (stdin) or --data; refuses more than 4 MiB.
absl::StatusOr<std::string> ReadPayload(const SendFlags& f) {
  if (!f.data.empty() && !f.file.empty()) {
    return absl::InvalidArgumentError("give either FILE (or -) or --data, not both");
  }
  if (f.file.empty()) {
    if (f.data.empty())
      return absl::InvalidArgumentError("nothing to send: give FILE, - or --data TEXT");
    return f.data;
  }
  std::FILE* in = f.file == "-" ? stdin : std::fopen(f.file.c_str(), "rb");
  if (in == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", f.file));
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) {
    out.append(buf, n);
    if (out.size() > kMaxSendBytes) break;
  }
  bool failed = std::ferror(in);
  if (in != stdin) std::fclose(in);
  if (failed) return absl::DataLossError(absl::StrCat("error reading ", f.file));
  if (out.size() > kMaxSendBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(f.file, " is larger than 4 MiB: use `beibu send-file` (streamed, resumable)"));
  }
  return out;
}

void PrintStatus(const v1::TransferStatus& st, bool json) {
  std::cout << (json ? ToJson(st) : DescribeStatus(st)) << "\n";
}

void RunSend(const SendFlags& f, int* exit_code) {
  absl::StatusOr<v1::TransferHeader> header = f.transfer.ToHeader();
  if (!header.ok()) return FinishCommand("send", header.status(), exit_code);
  absl::StatusOr<std::string> payload = ReadPayload(f);
  if (!payload.ok()) return FinishCommand("send", payload.status(), exit_code);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(f.conn.ToClientOptions());
  if (!client.ok()) return FinishCommand("send", client.status(), exit_code);
  absl::StatusOr<v1::TransferStatus> st = (*client)->Send(*header, *payload);
  if (!st.ok()) return FinishCommand("send", st.status(), exit_code);
  PrintStatus(*st, f.json);
  *exit_code = TransferExitCode(*st);
}

// Redraws the progress line at most ten times a second, on a terminal only.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  void Update(uint64_t sent, uint64_t total) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (sent < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s", RenderProgressBar(sent, total, secs).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void Done() {
    if (drawn_) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

void RunSendFile(const SendFlags& f, int* exit_code) {
  absl::StatusOr<v1::TransferHeader> header = f.transfer.ToHeader();
  if (!header.ok()) return FinishCommand("send-file", header.status(), exit_code);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(f.conn.ToClientOptions());
  if (!client.ok()) return FinishCommand("send-file", client.status(), exit_code);
  bool tty = ::isatty(STDERR_FILENO) == 1;
  if (tty) {
    std::fprintf(stderr, "sending %s as transfer %s (to resume later: --id %s)\n", f.file.c_str(),
                 header->transfer_id().c_str(), header->transfer_id().c_str());
  }
  ProgressLine line(tty);
  absl::StatusOr<v1::TransferStatus> st = (*client)->SendFile(
      f.file, *header, [&](uint64_t sent, uint64_t total) { line.Update(sent, total); });
  line.Done();
  if (!st.ok()) return FinishCommand("send-file", st.status(), exit_code);
  PrintStatus(*st, f.json);
  *exit_code = TransferExitCode(*st);
}

struct TransferCmdFlags {
  ConnectionFlags conn;
  std::string id;
  std::vector<std::string> wait;
  double timeout_seconds = 60;
  bool json = false;
};

void RunTransfer(const TransferCmdFlags& f, int* exit_code) {
  std::set<v1::TransferState> states;
  for (const std::string& name : f.wait) {
    absl::StatusOr<v1::TransferState> s = ParseTransferState(name);
    if (!s.ok()) return FinishCommand("transfer", s.status(), exit_code);
    states.insert(*s);
  }
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(f.conn.ToClientOptions());
  if (!client.ok()) return FinishCommand("transfer", client.status(), exit_code);
  absl::StatusOr<v1::TransferStatus> st =
      states.empty()
          ? (*client)->GetTransfer(f.id)
          : (*client)->WaitForState(
                f.id, states,
                std::chrono::milliseconds(static_cast<int64_t>(f.timeout_seconds * 1000)));
  if (!st.ok()) return FinishCommand("transfer", st.status(), exit_code);
  std::cout << (f.json ? ToJson(*st) + "\n" : DescribeTransfer(*st));
  *exit_code = kExitOk;
}

void AddSendCommand(CLI::App& app, int* exit_code, bool streamed) {
  auto f = std::make_shared<SendFlags>();
  CLI::App* cmd =
      streamed
          ? app.add_subcommand(
                "send-file",
                "Send a file of any size to an enterprise abroad, streamed in 1 MiB chunks;\n"
                "resumes by itself after a broken connection (and across runs with the same\n"
                "--id). Exit 0 accepted (FAST, MASK, REVIEW), 1 refused by policy (DENY,\n"
                "SANDBOX_ONLY)")
          : app.add_subcommand(
                "send",
                "Send up to 4 MiB to an enterprise abroad through your edge, which classifies\n"
                "it and decides. Exit 0 accepted (FAST, MASK, REVIEW), 1 refused by policy\n"
                "(DENY, SANDBOX_ONLY)");
  f->conn.AddTo(cmd);
  f->transfer.AddTo(cmd);
  if (streamed) {
    cmd->add_option("FILE", f->file, "the file to send")->required()->check(CLI::ExistingFile);
  } else {
    cmd->add_option("FILE", f->file, "the file to send, or - for stdin");
    cmd->add_option("--data", f->data, "send this text instead of a file");
  }
  cmd->add_flag("--json", f->json, "print the TransferStatus as JSON");
  cmd->callback([f, exit_code, streamed] {
    if (streamed) {
      RunSendFile(*f, exit_code);
    } else {
      RunSend(*f, exit_code);
    }
  });
}

}  // namespace

void AddExchangeCommands(CLI::App& app, int* exit_code) {
  AddSendCommand(app, exit_code, /*streamed=*/false);
  AddSendCommand(app, exit_code, /*streamed=*/true);

  auto t = std::make_shared<TransferCmdFlags>();
  CLI::App* cmd = app.add_subcommand(
      "transfer", "Show what became of a transfer you sent: state, decision, rules, steps");
  t->conn.AddTo(cmd);
  cmd->add_option("ID", t->id, "the transfer id")->required();
  cmd->add_option("--wait", t->wait,
                  "wait until the transfer reaches this state (repeat for any of several), e.g. "
                  "DELIVERED, ACKNOWLEDGED; a later state on the way IN_FLIGHT, DELIVERED, "
                  "ACKNOWLEDGED counts as reaching an earlier one");
  cmd->add_option("--timeout", t->timeout_seconds, "seconds to wait with --wait (default 60)");
  cmd->add_flag("--json", t->json, "print the TransferStatus as JSON");
  cmd->callback([t, exit_code] { RunTransfer(*t, exit_code); });
}

}  // namespace beibu::cli
