// Example: receive deliveries, store each payload and acknowledge it.
// Build target beibu_example_inbox.
//
//   beibu_example_inbox --server 127.0.0.1:7402 --identity ./cn-importer --out ./received
//
// Writes each payload to OUT/<transfer id> (atomically, digest checked), then
// acknowledges it, and prints "<transfer id> <from> <category> <size>". Stops
// when no delivery arrives for --idle-ms (default 2000) or after --max N.
#include <filesystem>
#include <iostream>
#include <string>

#include "beibu/client/client.h"

namespace {

int Fail(const absl::Status& s, int code = 3) {
  std::cerr << "beibu_example_inbox: " << s.message() << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  beibu::ClientOptions options;
  std::string out_dir = ".";
  long max = 0, idle_ms = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--server")
      options.server = value;
    else if (flag == "--identity")
      options.identity_dir = value;
    else if (flag == "--tls-ca")
      options.tls_ca = value;
    else if (flag == "--out")
      out_dir = value;
    else if (flag == "--max")
      max = std::atol(value.c_str());
    else if (flag == "--idle-ms")
      idle_ms = std::atol(value.c_str());
    else
      return Fail(absl::InvalidArgumentError("unknown flag " + flag), 2);
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);

  absl::StatusOr<std::unique_ptr<beibu::Client>> client = beibu::Client::Connect(options);
  if (!client.ok()) return Fail(client.status());
  // The inbox starts with every delivery not yet acknowledged, oldest first.
  absl::StatusOr<std::unique_ptr<beibu::InboxReader>> inbox = (*client)->OpenInbox();
  if (!inbox.ok()) return Fail(inbox.status());

  long received = 0;
  while (max == 0 || received < max) {
    beibu::ReceivedTransfer delivery;
    absl::Status s =
        (*inbox)->NextToDirectory(out_dir, &delivery, std::chrono::milliseconds(idle_ms));
    if (absl::IsDeadlineExceeded(s)) break;  // nothing more for now
    if (absl::IsDataLoss(s)) {               // corrupted in transit: not acked, it comes again
      std::cerr << "skipped: " << s.message() << "\n";
      continue;
    }
    if (!s.ok()) return Fail(s);
    // Acknowledge only once the payload is safely on disk: the edge then drops it.
    absl::StatusOr<uint32_t> acked = (*inbox)->Ack({delivery.info.transfer_id()});
    if (!acked.ok()) return Fail(acked.status());
    std::cout << delivery.info.transfer_id() << " " << delivery.info.from_enterprise() << " "
              << delivery.info.category() << " " << delivery.info.size() << "\n";
    ++received;
  }
  return 0;
}
