#include "source_dir.h"

#include <cstdlib>

namespace beibu::testing {

std::string SourceDir() {
  const char* env = std::getenv("BEIBU_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(BEIBU_SOURCE_DIR_AT_BUILD);
}

}  // namespace beibu::testing
