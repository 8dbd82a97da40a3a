// What each edge last reported of its open and half-open breakers
// (EdgeStatus.breakers, docs/gateway.md §4 "Raised at the hub"), kept in
// memory for `beibu breaker list` against the hub. A scope newly open at an
// edge is logged (event=edge_breaker_tripped) and, when the edge raised it
// itself, audited (hub.edge_breaker); one gone is logged
// (event=edge_breaker_closed) and audited the same way. Breakers the hub
// imposed are logged when an edge reports them (confirming it applied them)
// but not audited again: the hub's own trip is.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "beibu/audit/audit_log.h"
#include "beibu/pki/identity.h"
#include "beibu/v1/gateway.pb.h"
#include "beibu/v1/registry.pb.h"

namespace beibu::hub {

class EdgeBreakerReports {
 public:
  explicit EdgeBreakerReports(audit::AuditLog* audit = nullptr) : audit_(audit) {}

  // Records `status`'s breakers if the edge reports them (breakers_reported);
  // statuses of older edges are ignored.
  void Record(const pki::Identity& edge, const v1::EdgeStatus& status);
  // The last report of every edge that sent one since the hub started, by node id.
  std::vector<v1::EdgeBreakers> All() const;

 private:
  void Audit(const pki::Identity& edge, const std::string& detail);

  audit::AuditLog* audit_;
  mutable std::mutex mu_;
  std::map<std::string, v1::EdgeBreakers> reports_;  // node id → last report
};

}  // namespace beibu::hub
