#include "beibu/review/requirement.h"

#include <algorithm>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace beibu::review {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

template <typename T>
bool AnyOrContains(const std::vector<T>& list, const T& value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

bool Matches(const policy::AuthorizationRule& rule, const std::string& from, const std::string& to,
             const std::string& category, policy::Level level) {
  if (!AnyOrContains(rule.from, from) || !AnyOrContains(rule.to, to) ||
      !AnyOrContains(rule.levels, level))
    return false;
  return rule.categories.empty() ||
         std::any_of(rule.categories.begin(), rule.categories.end(),
                     [&](const std::string& p) { return policy::CategoryMatches(p, category); });
}

const policy::AuthorizationRule& Resolve(const policy::Database& db, const std::string& from,
                                         const std::string& to, const std::string& category,
                                         policy::Level level) {
  for (const policy::AuthorizationRule& rule : db.authorization_rules) {
    if (Matches(rule, from, to, category, level)) return rule;
  }
  return db.default_authorization;
}

// held_at + hours, saturating: the loader bounds hours to a year, but a
// Database built in code or a hostile clock value must not overflow.
int64_t Deadline(int64_t held_at_ms, int64_t hours) {
  hours = std::clamp<int64_t>(hours, 0, std::numeric_limits<int64_t>::max() / kHourMs);
  int64_t out = 0;
  if (__builtin_add_overflow(held_at_ms, hours * kHourMs, &out))
    return std::numeric_limits<int64_t>::max();
  return out;
}

std::string Describe(const std::string& rule_id, uint32_t approvals,
                     const std::vector<std::string>& roles) {
  return absl::StrCat(rule_id, " (", approvals, " of ", absl::StrJoin(roles, ", "), ")");
}

}  // namespace

Requirement ResolveRequirement(const policy::Database& db, const std::string& from_country,
                               const std::string& to_country, const std::string& category,
                               policy::Level level, int64_t held_at_ms) {
  const policy::AuthorizationRule& rule = Resolve(db, from_country, to_country, category, level);
  Requirement r;
  r.rule_id = rule.id;
  r.approvals = rule.approvals;
  r.roles = rule.roles;
  r.deadline_ms = Deadline(held_at_ms, rule.deadline_hours);
  return r;
}

absl::Status CheckAtLeastAsStrict(const Requirement& carried, const policy::Database& db,
                                  const std::string& from_country, const std::string& to_country,
                                  const std::string& category, policy::Level level) {
  const policy::AuthorizationRule& local = Resolve(db, from_country, to_country, category, level);
  const std::set<std::string> carried_roles(carried.roles.begin(), carried.roles.end());
  auto weaker = [&](const std::string& why) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the approvals were asked for ",
        Describe(carried.rule_id, carried.approvals, carried.roles),
        ", weaker than this database's ", Describe(local.id, local.approvals, local.roles), ": ",
        why, "; the transfer must be reviewed again under the stricter rule"));
  };
  if (carried.approvals < local.approvals)
    return weaker(
        absl::StrCat("fewer approvals (", carried.approvals, " < ", local.approvals, ")"));
  for (const std::string& role : local.roles) {
    if (carried_roles.count(role) == 0) return weaker(absl::StrCat("role ", role, " is missing"));
  }
  // Extra roles widen the ways to reach M: M approvals of the carried roles
  // must include local M of the local roles even when they fill every extra
  // role first (2 of {source, destination, data_owner} is weaker than 2 of
  // {source, destination}: source + data_owner would do).
  const size_t extra =
      std::count_if(carried_roles.begin(), carried_roles.end(), [&](const auto& r) {
        return std::find(local.roles.begin(), local.roles.end(), r) == local.roles.end();
      });
  if (static_cast<uint64_t>(carried.approvals) < uint64_t{local.approvals} + extra)
    return weaker(absl::StrCat(extra, " extra role(s) could stand in for required ones; ",
                               uint64_t{local.approvals} + extra, " approvals would be needed"));
  return absl::OkStatus();
}

}  // namespace beibu::review
