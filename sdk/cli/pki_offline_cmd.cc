#include "pki_offline_cmd.h"

namespace beibu::cli {
void AddPkiOfflineCommands(CLI::App& pki, int* exit_code) {}
}  // namespace beibu::cli
