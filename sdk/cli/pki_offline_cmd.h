// `beibu pki init` and `beibu pki show`: PKI commands that need no hub.
#pragma once

#include <CLI/CLI.hpp>

namespace beibu::cli {

void AddPkiOfflineCommands(CLI::App& pki, int* exit_code);

}  // namespace beibu::cli
