// The `beibu` command tree. Each Add*Commands() registers one group of
// subcommands; a command's callback stores the process exit code in
// *exit_code using the codes below.
#pragma once

#include <CLI/CLI.hpp>

#include "absl/status/status.h"

namespace beibu::cli {

// Exit codes shared by every command (documented in docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;  // a check ran and failed (bad signature, invalid proof)
inline constexpr int kExitUsage = 2;    // bad arguments or malformed input
inline constexpr int kExitFailure = 3;  // runtime failure (I/O, network, server refused)

// The exit code for a command's final status: OK 0; UNAUTHENTICATED (a
// check failed) 1; bad input (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED,
// ALREADY_EXISTS, FAILED_PRECONDITION, OUT_OF_RANGE) 2; anything else 3.
int ExitCodeFor(const absl::Status& status);
// Prints a failure as "beibu <command>: <message>" and records the exit code.
void FinishCommand(const char* command, const absl::Status& status, int* exit_code);

void AddCryptoCommands(CLI::App& app, int* exit_code);
void AddPkiCommands(CLI::App& app, int* exit_code);
void AddNodeCommands(CLI::App& app, int* exit_code);
void AddEvidenceCommands(CLI::App& app, int* exit_code);
void AddAuditCommands(CLI::App& app, int* exit_code);
// `beibu audit query|tail|export|prove` (audit_query_cmd.cc), added to the audit group.
void AddAuditQueryCommands(CLI::App& audit, int* exit_code);
void AddPolicyCommands(CLI::App& app, int* exit_code);  // scan, route, mask, policy (policy_cmd.cc)
// The data plane: `beibu send`, `send-file`, `transfer` (exchange_cmd.cc), `inbox` (inbox_cmd.cc).
void AddExchangeCommands(CLI::App& app, int* exit_code);
void AddInboxCommand(CLI::App& app, int* exit_code);
void AddWarningsCommand(CLI::App& app, int* exit_code);  // warnings_cmd.cc
void AddRelayCommands(CLI::App& app, int* exit_code);    // relay_cmd.cc
void AddBreakerCommands(CLI::App& app, int* exit_code);  // breaker_cmd.cc

}  // namespace beibu::cli
