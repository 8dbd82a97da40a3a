// Example: send a message to an enterprise abroad and print what the edge
// decided. Build target beibu_example_send.
//
//   beibu_example_send --server 127.0.0.1:7401 --identity ./vn-shipper
//       --to CN --to-enterprise cn-importer --category logistics.track
//       --content-type text/csv --file events.csv
//
// Prints "<transfer id> <decision> <state>" and exits 0 when the edge
// accepted the transfer, 1 when policy refused it, 2 on bad arguments, 3 on
// any other error (message on stderr).
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "beibu/client/client.h"

namespace {

int Fail(const absl::Status& s, int code = 3) {
  std::cerr << "beibu_example_send: " << s.message() << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  beibu::ClientOptions options;
  beibu::v1::TransferHeader header;
  std::string file, data;
  // Minimal flag parsing: every flag takes one value.
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--server")
      options.server = value;
    else if (flag == "--identity")
      options.identity_dir = value;
    else if (flag == "--tls-ca")
      options.tls_ca = value;
    else if (flag == "--to")
      header.set_to_country(value);
    else if (flag == "--to-enterprise")
      header.set_to_enterprise(value);
    else if (flag == "--category")
      header.set_category(value);
    else if (flag == "--content-type")
      header.set_content_type(value);
    else if (flag == "--id")
      header.set_transfer_id(value);
    else if (flag == "--file")
      file = value;
    else if (flag == "--data")
      data = value;
    else
      return Fail(absl::InvalidArgumentError("unknown flag " + flag), 2);
  }
  if (file.empty() == data.empty()) {
    return Fail(absl::InvalidArgumentError("give --file PATH or --data TEXT"), 2);
  }
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Fail(absl::NotFoundError("cannot open " + file), 2);
    std::ostringstream buf;
    buf << in.rdbuf();
    data = buf.str();
  }

  // 1. Connect: loads the identity from `beibu enroll` and authenticates the edge.
  absl::StatusOr<std::unique_ptr<beibu::Client>> client = beibu::Client::Connect(options);
  if (!client.ok()) return Fail(client.status());

  // 2. Send. The SDK picks a transfer id when none is given and retries
  //    with the same id if the connection breaks (the edge is idempotent).
  absl::StatusOr<beibu::v1::TransferStatus> status = (*client)->Send(header, data);
  if (!status.ok()) return Fail(status.status(), absl::IsInvalidArgument(status.status()) ? 2 : 3);

  // 3. The edge answers after it decided: FAST, MASK, REVIEW, SANDBOX_ONLY or DENY.
  std::cout << status->transfer_id() << " " << status->decision().decision() << " "
            << beibu::v1::TransferState_Name(status->state()) << "\n";
  if (!status->decision().reason().empty()) std::cout << status->decision().reason() << "\n";
  bool refused = status->state() == beibu::v1::DENIED || status->state() == beibu::v1::SANDBOX_ONLY;
  return refused ? 1 : 0;
}
