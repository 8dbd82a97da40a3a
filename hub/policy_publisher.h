// The hub's signed compliance database: the version it distributes to the
// edges (docs/policy-distribution.md). Operators publish a new version; the
// hub loads it, signs it with its own key, persists it and wakes every
// heartbeat stream so that connected edges receive it at once.
//
// State: data_dir/policy/current.pb, a serialised beibu.v1.SignedPolicy,
// replaced atomically (temp file, fsync, rename). At first start it is the
// baseline compiled into the binary, signed by the hub.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/identity.h"
#include "beibu/v1/registry.pb.h"

namespace beibu::policy {
struct Database;
}

namespace beibu::hub {

// What the registry services use: an interface, so that they need neither
// the policy engine nor the publisher's storage to build.
class PolicySource {
 public:
  virtual ~PolicySource() = default;
  // The signed version the hub distributes now; never null.
  virtual std::shared_ptr<const v1::SignedPolicy> current() const = 0;
  virtual absl::StatusOr<v1::PublishPolicyResponse> Publish(const v1::PublishPolicyRequest& req,
                                                            const pki::Identity& by) = 0;
};

class PolicyPublisher final : public PolicySource {
 public:
  struct Options {
    std::string data_dir;              // the hub's data_dir; state in data_dir/policy
    crypto::Sm2PrivateKey key;         // the hub key (signs)
    std::string certificate_pem;       // the hub certificate (chain) of `key`
    audit::AuditLog* audit = nullptr;  // `policy.publish` events; may be null in tests
  };

  // Loads data_dir/policy/current.pb, or signs the baseline when there is
  // none. A stored version signed under another hub certificate (renewed)
  // is re-signed; a stored version below the compiled-in baseline's is
  // replaced by the baseline. DATA_LOSS naming the file when it is corrupt
  // (restore it from a backup, or move it away to start from the baseline).
  static absl::StatusOr<std::unique_ptr<PolicyPublisher>> Open(Options options);

  // The signed version the hub distributes now.
  std::shared_ptr<const v1::SignedPolicy> current() const override;
  uint64_t version() const;

  // Loads, signs, persists and distributes `req.files`:
  //   INVALID_ARGUMENT    no files, a path twice, or the database does not load
  //                       ("file:line: reason")
  //   FAILED_PRECONDITION its manifest version is not above the current one
  // Each attempt is audited as `policy.publish` with the caller and outcome.
  absl::StatusOr<v1::PublishPolicyResponse> Publish(const v1::PublishPolicyRequest& req,
                                                    const pki::Identity& by) override;

  // Blocks until the version differs from `seen` or `timeout` passes;
  // returns the current version.
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;

 private:
  explicit PolicyPublisher(Options options) : options_(std::move(options)) {}
  std::string StatePath() const;
  // Signs `files`, persists the result and makes it current. Caller holds publish_mu_.
  absl::Status SignAndInstall(const std::map<std::string, std::string>& files, policy::Database db);
  void Audit(const pki::Identity& who, absl::StatusCode code, const std::string& detail);

  Options options_;
  std::mutex publish_mu_;  // serialises publications (check, sign, persist)
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::shared_ptr<const v1::SignedPolicy> current_;     // guarded by mu_
  std::shared_ptr<const policy::Database> current_db_;  // guarded by publish_mu_
};

}  // namespace beibu::hub
