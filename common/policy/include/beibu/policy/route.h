// The routing decision: a pure function from a transfer's description to
// FAST | MASK | REVIEW | SANDBOX_ONLY | DENY with the rule ids behind it.
// Same database and request, same answer (no clock, no I/O, no randomness).
//
// Evaluation (docs/policy.md has the full text):
//  1. Effective classification: the category's level, raised (never lowered)
//     by the declared level; PI if the category is PI, the request says so, or
//     a finding's type is in pi_finding_types; SPI likewise with
//     spi_finding_types (SPI implies PI).
//  2. Candidate rules: the global rules, the source jurisdiction's export
//     rules, and the matching entries of the negative list of the request's
//     FTZ (when the zone's source country is the source). A rule with
//     ftz_exemptable is skipped when the data has FTZ origin and no entry of
//     that zone's list matches (the zone's exemption_rule_id is then reported).
//  3. A rule applies when all its conditions hold. Applied rules whose
//     mechanisms are not attested contribute their decision; satisfied ones
//     contribute nothing. A sandbox_only category contributes SANDBOX_ONLY
//     (rule id "TAXONOMY:<category>").
//  4. The most restrictive contribution wins; none means FAST. A FAST
//     decision on PI data whose category has a mask profile becomes MASK with
//     that profile (rule id "PROFILE:<profile>").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/policy/database.h"
#include "beibu/policy/types.h"

namespace beibu::policy {

struct RouteRequest {
  std::string from;      // source country, ISO alpha-2 upper-case
  std::string to;        // destination country
  std::string category;  // taxonomy id
  std::optional<Level> declared_level;  // can only raise the category's level
  bool declared_pi = false;
  bool declared_spi = false;               // implies declared_pi
  std::vector<std::string> finding_types;  // types found in the content (duplicates allowed)
  // P: persons whose PI the exporter has sent out of the source country this
  // calendar year, this transfer included.
  int64_t persons = 0;
  std::string purpose;                // free text id, e.g. "contract-necessity"; may be empty
  std::vector<std::string> attested;  // mechanism ids the exporter attests
  std::string ftz;                    // "" or a zone, e.g. "gx"
};

struct FiredRule {
  std::string id;
  Decision outcome = Decision::kFast;  // what it contributed (kFast when satisfied)
  bool satisfied = false;              // a listed mechanism was attested
  std::string reason;                  // rule summary + how it was (not) satisfied
};

struct RouteDecision {
  Decision decision = Decision::kFast;
  std::vector<std::string> rules;           // ids of every rule that fired, in evaluation order
  std::string reason;                       // plain words, one or more sentences
  std::optional<std::string> mask_profile;  // set iff decision is MASK
  Level level = Level::kGeneral;            // effective classification
  bool pi = false;
  bool spi = false;
  bool high_risk = false;
  std::vector<FiredRule> trace;
};

// INVALID_ARGUMENT for an unknown category or country (not in the
// database), from == to (not a cross-border transfer), negative persons, an
// unknown FTZ zone or an attested mechanism no jurisdiction defines.
absl::StatusOr<RouteDecision> Decide(const Database& db, const RouteRequest& request);

}  // namespace beibu::policy
