#include "commands.h"

namespace beibu::cli {
void AddCryptoCommands(CLI::App& app, int* exit_code) {}
}  // namespace beibu::cli
