// Helpers for the policy database tests: where the baseline directory is and
// the line of a text in a file.
#pragma once

#include <string>

#include "beibu/policy/database.h"
#include "gtest/gtest.h"
#include "source_dir.h"

namespace beibu::policy::testing {

inline std::string BaselineDir() { return beibu::testing::SourceDir() + "/deploy/policy"; }

// 1-based line of the first occurrence of `needle` in `text` (0 if absent).
inline int LineOf(const std::string& text, const std::string& needle) {
  const size_t pos = text.find(needle);
  if (pos == std::string::npos) return 0;
  int line = 1;
  for (size_t i = 0; i < pos; ++i) line += text[i] == '\n';
  return line;
}

}  // namespace beibu::policy::testing
