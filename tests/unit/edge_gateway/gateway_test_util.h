// Shared pieces of the edge gateway tests: an audit log on disk and the
// operations it holds.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "beibu/audit/audit_log.h"
#include "beibu/crypto/sm2.h"
#include "temp_dir.h"

namespace beibu::edge::testing {

inline std::unique_ptr<audit::AuditLog> OpenAudit(const beibu::testing::TempDir& dir,
                                                  const std::string& country = "VN") {
  return audit::AuditLog::Open({.dir = (dir / "audit").string(),
                                .node_id = "edge-" + country,
                                .key = crypto::Sm2PrivateKey::Generate().value(),
                                .node_country = country,
                                .checkpoint_interval = std::chrono::milliseconds(0)})
      .value();
}

// Every audit event in the log, in order.
inline std::vector<v1::AuditEvent> Events(audit::AuditLog& log) {
  std::vector<v1::AuditEvent> out;
  for (uint64_t i = 0; i < log.store().size(); ++i) {
    absl::StatusOr<v1::AuditEvent> e = audit::DecodeAuditEvent(log.store().Entry(i).value());
    if (e.ok()) out.push_back(*std::move(e));
  }
  return out;
}

inline std::vector<v1::AuditEvent> EventsOf(audit::AuditLog& log, const std::string& operation) {
  std::vector<v1::AuditEvent> out;
  for (v1::AuditEvent& e : Events(log)) {
    if (e.operation() == operation) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace beibu::edge::testing
