// Where the source tree is, for tests that read files from it (e.g. the
// baseline policy database in deploy/policy): $BEIBU_SOURCE_DIR when set,
// else the tree the test was built from.
#pragma once

#include <string>

namespace beibu::testing {

std::string SourceDir();

}  // namespace beibu::testing
