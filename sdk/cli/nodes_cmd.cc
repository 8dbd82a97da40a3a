#include "commands.h"

namespace beibu::cli {
void AddNodeCommands(CLI::App& app, int* exit_code) {}
}  // namespace beibu::cli
