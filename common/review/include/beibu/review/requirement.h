// What a REVIEW transfer needs before it may leave its source edge: M signed
// approvals out of N named roles before a deadline (docs/review.md), resolved
// from the compliance database's authorization rules (authorization.yaml,
// docs/policy-database.md). Pure: no files, no RPC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "beibu/policy/database.h"

namespace beibu::review {

// The roles an authorization rule can name.
inline constexpr char kSourceOfficer[] = "source_officer";            // officer of the source country
inline constexpr char kDestinationOfficer[] = "destination_officer";  // officer of the destination country
inline constexpr char kDataOwner[] = "data_owner";                    // the sending enterprise itself

struct Requirement {
  std::string rule_id;             // the authorization rule, or "default"
  uint32_t approvals = 0;          // M
  std::vector<std::string> roles;  // the N roles, each counted at most once
  int64_t deadline_ms = 0;         // Unix ms: approvals signed later do not count
  bool operator==(const Requirement&) const = default;
};

// The first authorization rule of `db` (file order) that matches the route,
// the category and the level, else the database's default rule; the
// deadline is `held_at_ms` plus the rule's deadline.
Requirement ResolveRequirement(const policy::Database& db, const std::string& from_country,
                               const std::string& to_country, const std::string& category,
                               policy::Level level, int64_t held_at_ms);

// At the destination: whether `carried` (what the source edge asked the
// officers for, covered by their signatures) is at least as strict as what
// `db` requires for this route now: its roles include every role of the
// local rule (none can be dropped), and its M is at least the local M plus
// the number of roles it adds. The second condition matters: 2 of {source,
// destination, data_owner} against a local 2 of {source, destination}
// would let the source officer and the data owner release without the
// destination officer; every M approvals of the carried roles must include
// at least the local M of the local roles. The carried deadline is not
// compared (the destination cannot know when the transfer was held).
// PERMISSION_DENIED naming both when it is weaker.
absl::Status CheckAtLeastAsStrict(const Requirement& carried, const policy::Database& db,
                                  const std::string& from_country, const std::string& to_country,
                                  const std::string& category, policy::Level level);

}  // namespace beibu::review
