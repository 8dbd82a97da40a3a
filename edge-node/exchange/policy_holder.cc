#include "exchange/policy_holder.h"

#include "absl/strings/str_cat.h"

namespace beibu::edge {

absl::StatusOr<std::unique_ptr<PolicyHolder>> PolicyHolder::CreateWithBaseline() {
  const policy::PolicyFiles& files = policy::BaselineFiles();
  if (files.empty()) {
    return absl::InternalError(
        "this edge has no baseline policy database compiled in; rebuild with deploy/policy");
  }
  absl::StatusOr<policy::Database> db = policy::LoadDatabase(files);
  if (!db.ok()) {
    return absl::InternalError(absl::StrCat("the compiled-in baseline policy database is invalid: ",
                                            std::string(db.status().message())));
  }
  std::unique_ptr<PolicyHolder> holder(new PolicyHolder());
  if (absl::Status s = holder->Replace(*std::move(db)); !s.ok()) return s;
  return holder;
}

std::shared_ptr<const PolicySnapshot> PolicyHolder::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

absl::Status PolicyHolder::Replace(policy::Database db) {
  // The detector is built outside the lock: it compiles patterns.
  auto snapshot = std::make_shared<PolicySnapshot>();
  snapshot->db = std::move(db);
  snapshot->detector = std::make_shared<const policy::Detector>();
  std::lock_guard<std::mutex> lock(mu_);
  if (current_ && snapshot->db.version <= current_->db.version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "policy database version ", snapshot->db.version, " is not above the enforced version ",
        current_->db.version, "; publish a database with a higher version"));
  }
  current_ = std::move(snapshot);
  return absl::OkStatus();
}

}  // namespace beibu::edge
