// The edge's copy of the signed compliance database (docs/policy-distribution.md):
// verifies what the hub pushes, persists it, and swaps it into the
// PolicyHolder the data plane decides with.
//
// State: data_dir/policy/current.pb, the beibu.v1.SignedPolicy last applied,
// replaced atomically. It is written BEFORE the holder switches, so a crash
// never leaves the edge enforcing a version it cannot reload. At start it is
// verified again (the trust bundle may have changed); if it does not verify
// the edge enforces its compiled-in baseline and the hub pushes again.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/pki/trust_bundle.h"
#include "beibu/policy/signed_policy.h"
#include "beibu/v1/registry.pb.h"
#include "exchange/policy_holder.h"

namespace beibu::edge {

class PolicyStore {
 public:
  struct Options {
    std::string data_dir;  // the edge's data_dir; state in data_dir/policy
    // The trust bundle signatures are checked against (the edge's current one).
    std::function<std::shared_ptr<const pki::TrustBundle>()> trust;
    PolicyHolder* holder = nullptr;    // what the data plane enforces; not owned
    audit::AuditLog* audit = nullptr;  // edge.policy_applied/refused; may be null
    // Called after a new version came into force, with the one it replaced
    // (risk warnings); may be empty.
    std::function<void(const policy::Database& old_db, const policy::Database& new_db)> on_applied;
  };

  // Creates data_dir/policy and installs the persisted version into the
  // holder when it verifies and is above the holder's. A persisted file that
  // does not verify is logged (event=policy_persisted_invalid) and ignored.
  // FAILED_PRECONDITION only when data_dir/policy cannot be created.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(Options options);

  // Verifies `signed_policy` (VerifyPolicy: UNAUTHENTICATED / INVALID_ARGUMENT),
  // refuses a version not above the enforced one (FAILED_PRECONDITION), then
  // persists it and makes the holder enforce it. Every refusal is logged as
  // event=policy_refused with the reason.
  absl::Status Apply(const v1::SignedPolicy& signed_policy);

  // The version and digest the holder enforces: what the heartbeat reports.
  std::pair<uint64_t, std::string> Enforced() const;

 private:
  explicit PolicyStore(Options options) : options_(std::move(options)) {}
  std::string StatePath() const;
  void AuditEvent(const std::string& operation, absl::StatusCode code, const std::string& detail);

  Options options_;
  std::mutex apply_mu_;  // serialises check, persist, swap
};

// The wire message as the struct VerifyPolicy checks. INVALID_ARGUMENT when a
// path appears twice.
absl::StatusOr<policy::SignedPolicy> SignedPolicyFromProto(const v1::SignedPolicy& p);

}  // namespace beibu::edge
