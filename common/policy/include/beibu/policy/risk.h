// What changes between two versions of the policy database: the rule-level
// difference (`beibu policy diff OLD NEW`) and the risk warnings for recent
// routes whose decision changes under the new version (what the hub sends to
// the enterprises concerned).
#pragma once

#include <string>
#include <vector>

#include "beibu/policy/database.h"
#include "beibu/policy/route.h"

namespace beibu::policy {

struct DatabaseChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind = Kind::kChanged;
  std::string what;    // "rule", "category", "profile", "mechanism", "jurisdiction", "negative-list-entry"
  std::string id;      // the rule id, category id, ...
  std::string detail;  // what differs, e.g. "persons_max 1000000 -> 500000"
};

// Sorted by (what, id). Empty when the two databases mean the same thing
// (comments and formatting do not count).
std::vector<DatabaseChange> DiffDatabases(const Database& old_db, const Database& new_db);

struct RecentRoute {
  std::string exporter;  // enterprise id
  RouteRequest request;
};

struct RiskWarning {
  std::string exporter;
  RouteRequest request;
  RouteDecision before;
  RouteDecision after;
  std::vector<std::string> rules_added;    // fired after, not before
  std::vector<std::string> rules_removed;  // fired before, not after
  std::string reason;                      // plain words: "FAST -> REVIEW: CN-PI-002 ..."
};

// One warning per route whose decision, mask profile or fired rules change.
// A route that the old or the new database cannot decide (e.g. a category
// removed) yields a warning whose reason says so.
std::vector<RiskWarning> RiskWarnings(const Database& old_db, const Database& new_db,
                                      const std::vector<RecentRoute>& routes);

}  // namespace beibu::policy
