// The flags a transfer is declared with, and how `beibu send`, `send-file`
// and `transfer` put a TransferStatus in words (pure, unit-tested).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/v1/exchange.pb.h"
#include "google/protobuf/message.h"

namespace beibu::cli {

struct TransferFlags {
  std::string to, to_enterprise, category, id, level, purpose, ftz, content_type;
  bool pi = false, spi = false;
  uint64_t persons = 0;
  std::vector<std::string> attest;

  void AddTo(CLI::App* cmd);
  // The header, validated (beibu::ValidateHeader); a random id when --id is absent.
  absl::StatusOr<v1::TransferHeader> ToHeader() const;
};

// One line: "transfer ID: FAST — delivered to the outbox for CN (rules: a, b)".
std::string DescribeStatus(const v1::TransferStatus& status);
// Several lines for `beibu transfer`: state, decision, rules, reason, steps by time.
std::string DescribeTransfer(const v1::TransferStatus& status);
// 1 when policy refused the transfer (DENIED, SANDBOX_ONLY), else 0.
int TransferExitCode(const v1::TransferStatus& status);
// "delivered" or "DELIVERED" -> DELIVERED; INVALID_ARGUMENT listing the names otherwise.
absl::StatusOr<v1::TransferState> ParseTransferState(const std::string& name);
// Proto JSON with the proto field names.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace beibu::cli
