// Running helper programs (the openssl CLI, Beibu's binaries) from tests.
#pragma once

#include <string>
#include <vector>

namespace beibu::testing {

struct RunResult {
  int exit_code = -1;  // -1 if the program could not be started or was killed
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (searched in PATH) with `argv`, feeding `stdin_data`; waits.
RunResult Run(const std::vector<std::string>& argv, const std::string& stdin_data = "");

// Path of a Beibu binary (beibu, beibu-hub, beibu-edge) under $BEIBU_BIN_DIR.
std::string BinPath(const std::string& name);

}  // namespace beibu::testing
