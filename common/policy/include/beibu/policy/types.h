// The vocabulary shared by the policy engine: classification levels
// (GB/T 43697-2024) and routing decisions, with their stable names. The names
// are part of the CLI's JSON contract and of the data files; never rename one.
#pragma once

#include <optional>
#include <string_view>

namespace beibu::policy {

// Ordered: a higher value is more restrictive. PI and SPI are flags that sit
// inside GENERAL, not levels of their own.
enum class Level { kGeneral = 0, kImportant = 1, kCore = 2 };

// Ordered: when several rules fire, the highest value wins
// (DENY > SANDBOX_ONLY > REVIEW > MASK > FAST).
enum class Decision { kFast = 0, kMask = 1, kReview = 2, kSandboxOnly = 3, kDeny = 4 };

// "GENERAL", "IMPORTANT", "CORE".
std::string_view LevelName(Level level);
// Accepts the names above in any letter case; nullopt otherwise.
std::optional<Level> ParseLevel(std::string_view name);

// "FAST", "MASK", "REVIEW", "SANDBOX_ONLY", "DENY".
std::string_view DecisionName(Decision decision);
// Accepts the names above in any letter case; nullopt otherwise.
std::optional<Decision> ParseDecision(std::string_view name);

// The jurisdictions the baseline database covers (ISO 3166-1 alpha-2), in a
// fixed order: CN, BN, KH, ID, LA, MY, MM, PH, SG, TH, VN.
inline constexpr std::string_view kJurisdictions[] = {"CN", "BN", "KH", "ID", "LA", "MY",
                                                      "MM", "PH", "SG", "TH", "VN"};

}  // namespace beibu::policy
