// The baseline under test: deploy/policy of the source tree, loaded once.
#include <cstdlib>
#include <iostream>
#include <string>

#include "source_dir.h"
#include "test_support.h"

namespace beibu::policy::testing {

const Database& Baseline() {
  static const Database* db = [] {
    absl::StatusOr<Database> loaded =
        LoadDatabaseDir(beibu::testing::SourceDir() + "/deploy/policy");
    if (!loaded.ok()) {
      std::cerr << "the baseline in deploy/policy does not load: " << loaded.status() << "\n";
      std::abort();
    }
    return new Database(*std::move(loaded));
  }();
  return *db;
}

}  // namespace beibu::policy::testing
