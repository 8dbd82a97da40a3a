// `beibu pki ...`: the offline commands (init, show) and the online ones that
// ask the hub (token, revoke).
#include "commands.h"
#include "pki_offline_cmd.h"

namespace beibu::cli {

void AddPkiCommands(CLI::App& app, int* exit_code) {
  CLI::App* pki = app.add_subcommand("pki", "Certificate authority: init, show, join tokens, revocation");
  pki->require_subcommand(1);
  AddPkiOfflineCommands(*pki, exit_code);
}

}  // namespace beibu::cli
