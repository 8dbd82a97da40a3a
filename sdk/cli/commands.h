// The `beibu` command tree. Each Add*Commands() registers one group of
// subcommands; a command's callback stores the process exit code in
// *exit_code using the codes below.
#pragma once

#include <CLI/CLI.hpp>

namespace beibu::cli {

// Exit codes shared by every command (documented in docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;    // a check ran and failed (bad signature, invalid proof)
inline constexpr int kExitUsage = 2;      // bad arguments or malformed input
inline constexpr int kExitFailure = 3;    // runtime failure (I/O, network, server refused)

void AddCryptoCommands(CLI::App& app, int* exit_code);
void AddPkiCommands(CLI::App& app, int* exit_code);
void AddNodeCommands(CLI::App& app, int* exit_code);
void AddEvidenceCommands(CLI::App& app, int* exit_code);
void AddAuditCommands(CLI::App& app, int* exit_code);
// `beibu audit query|tail|export|prove` (audit_query_cmd.cc), added to the audit group.
void AddAuditQueryCommands(CLI::App& audit, int* exit_code);

}  // namespace beibu::cli
