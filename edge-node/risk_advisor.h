// Risk warnings for an edge's exporters (docs/policy-distribution.md): the
// routes decided recently are remembered (exporter + route request, at most
// `capacity` distinct ones, the oldest forgotten first; in memory, so a
// restarted edge warns about routes decided since it started), and when a new
// policy version is applied each is decided under both versions
// (policy::RiskWarnings). Warnings are audited (`policy.risk_warning`),
// logged (event=risk_warning) and kept in data_dir/policy/warnings.pb (the
// newest `keep` of them) for Advisories.ListRiskWarnings.
//
// Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/policy/risk.h"
#include "beibu/v1/advisory.pb.h"

namespace beibu::edge {

class RiskAdvisor {
 public:
  struct Options {
    std::string state_path;  // data_dir/policy/warnings.pb
    audit::AuditLog* audit = nullptr;
    size_t capacity = 4096;  // distinct recent routes remembered
    size_t keep = 1000;      // warnings kept
  };
  // Loads the kept warnings. DATA_LOSS if the state file does not parse.
  static absl::StatusOr<std::unique_ptr<RiskAdvisor>> Open(Options options);

  // Remembers a route the edge just decided for `exporter`.
  void Record(const std::string& exporter, const policy::RouteRequest& request);
  // Re-decides the remembered routes; returns the warnings issued.
  std::vector<v1::RiskWarning> OnPolicyApplied(const policy::Database& old_db,
                                               const policy::Database& new_db);
  // The warnings of one exporter, newest first.
  std::vector<v1::RiskWarning> For(const std::string& exporter) const;

 private:
  explicit RiskAdvisor(Options options) : options_(std::move(options)) {}
  absl::Status Persist();  // under mu_

  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, policy::RecentRoute> routes_;  // by RouteKey
  std::deque<std::string> order_;                      // keys, oldest first
  std::deque<v1::RiskWarning> warnings_;               // oldest first
};

}  // namespace beibu::edge
