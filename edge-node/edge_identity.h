// The edge's identity: its key and certificate and the trust bundle it
// enforces. Enrols with the join token on first start; afterwards loads the
// files from data_dir/identity, so a restarted edge never enrols again.
#pragma once

#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"
#include "edge_config.h"

namespace beibu::edge {

class EdgeIdentity {
 public:
  static absl::StatusOr<std::unique_ptr<EdgeIdentity>> LoadOrEnroll(const EdgeConfig& config);

  const pki::Identity& self() const { return self_; }
  const channel::Credentials& credentials() const { return *credentials_; }
  std::shared_ptr<const pki::TrustBundle> trust() const;
  std::string trust_digest() const;
  uint64_t crl_number() const;

  // Installs a bundle pushed by the hub: it must still contain the root that
  // issued this edge's certificate. Persisted atomically before it is used.
  absl::Status ReplaceTrust(const std::string& bundle_pem);

 private:
  EdgeIdentity() = default;
  std::string dir_;
  pki::Identity self_;
  std::optional<channel::Credentials> credentials_;  // set by the factory
  mutable std::mutex mu_;
  std::shared_ptr<const pki::TrustBundle> trust_;
};

}  // namespace beibu::edge
