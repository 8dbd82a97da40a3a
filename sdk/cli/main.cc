// `beibu`: the command-line tool of operators, enterprises, compliance officers
// and regulators. See docs/cli.md.
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "beibu - client and operator tool of the Beibu cross-border trusted data space.\n"
      "Run `beibu COMMAND --help` for the details of a command."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "beibu 0.1.0");
  int exit_code = beibu::cli::kExitOk;
  beibu::cli::AddCryptoCommands(app, &exit_code);
  beibu::cli::AddPkiCommands(app, &exit_code);
  beibu::cli::AddNodeCommands(app, &exit_code);
  beibu::cli::AddEvidenceCommands(app, &exit_code);
  beibu::cli::AddAuditCommands(app, &exit_code);
  beibu::cli::AddPolicyCommands(app, &exit_code);
  beibu::cli::AddExchangeCommands(app, &exit_code);
  beibu::cli::AddInboxCommand(app, &exit_code);
  beibu::cli::AddWarningsCommand(app, &exit_code);
  beibu::cli::AddRelayCommands(app, &exit_code);
  beibu::cli::AddBreakerCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : beibu::cli::kExitUsage;
  }
  return exit_code;
}
