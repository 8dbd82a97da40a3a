// Helpers for the policy database tests: where the baseline directory is,
// the line of a text in a file, and an authorization.yaml fixture (the
// baseline has none).
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

// Valid with the baseline's countries and categories (docs/review.md).
inline constexpr char kAuthorizationYaml[] =
    "# Who must approve a REVIEW transfer (test fixture).\n"
    "default: {approvals: 1, roles: [destination_officer], deadline_hours: 24}\n"
    "rules:\n"
    "  - id: AUTH-HEALTH-VN-CN\n"
    "    from: [VN]\n"
    "    to: [CN]\n"
    "    categories: [health.*]\n"
    "    approvals: 3\n"
    "    roles: [source_officer, destination_officer, data_owner]\n"
    "    deadline_hours: 48\n"
    "  - id: AUTH-IMPORTANT\n"
    "    levels: [IMPORTANT, CORE]\n"
    "    approvals: 2\n"
    "    roles: [source_officer, destination_officer]\n";

// The baseline plus the fixture above.
inline PolicyFiles WithAuthorization() {
  PolicyFiles files = BaselineFiles();
  files["authorization.yaml"] = kAuthorizationYaml;
  return files;
}

}  // namespace beibu::policy::testing
