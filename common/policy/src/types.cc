#include "beibu/policy/types.h"

#include <array>
#include <cctype>

namespace beibu::policy {
namespace {

constexpr std::array<std::string_view, 3> kLevelNames = {"GENERAL", "IMPORTANT", "CORE"};
constexpr std::array<std::string_view, 5> kDecisionNames = {"FAST", "MASK", "REVIEW",
                                                            "SANDBOX_ONLY", "DENY"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::string_view LevelName(Level level) { return kLevelNames[static_cast<size_t>(level)]; }

std::optional<Level> ParseLevel(std::string_view name) {
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (EqualsIgnoreCase(name, kLevelNames[i])) return static_cast<Level>(i);
  }
  return std::nullopt;
}

std::string_view DecisionName(Decision decision) {
  return kDecisionNames[static_cast<size_t>(decision)];
}

std::optional<Decision> ParseDecision(std::string_view name) {
  for (size_t i = 0; i < kDecisionNames.size(); ++i) {
    if (EqualsIgnoreCase(name, kDecisionNames[i])) return static_cast<Decision>(i);
  }
  return std::nullopt;
}

}  // namespace beibu::policy
