// The compliance database an edge enforces, swapped atomically when a new
// signed version arrives (docs/policy.md). Readers take a snapshot and use it
// for the whole decision, so a transfer is never decided against two versions.
#pragma once

#include <memory>
#include <mutex>

#include "beibu/policy/database.h"
#include "beibu/policy/detector.h"

namespace beibu::edge {

struct PolicySnapshot {
  policy::Database db;
  std::shared_ptr<const policy::Detector> detector;
};

class PolicyHolder {
 public:
  // Starts with the embedded baseline database. INTERNAL if it does not load.
  static absl::StatusOr<std::unique_ptr<PolicyHolder>> CreateWithBaseline();
  std::shared_ptr<const PolicySnapshot> current() const;
  // FAILED_PRECONDITION if `db.version` is not above the current version.
  absl::Status Replace(policy::Database db);

 private:
  PolicyHolder() = default;
  mutable std::mutex mu_;
  std::shared_ptr<const PolicySnapshot> current_;
};

}  // namespace beibu::edge
