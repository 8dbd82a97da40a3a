// Everything the hub knows and decides, independent of RPC: the CA, join
// tokens, revocations and the CRL, the trust bundle it distributes, and the
// registry of enrolled parties. Persistent state lives in RocksDB; the CA key
// in the PKI directory.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/channel/handshake.h"
#include "beibu/pki/authority.h"
#include "beibu/storage/db.h"
#include "beibu/v1/registry.pb.h"
#include "hub_config.h"

namespace beibu::hub {

class HubState {
 public:
  // Opens the database and the CA. FAILED_PRECONDITION naming the file when
  // the PKI directory is incomplete (run `beibu pki init`).
  static absl::StatusOr<std::unique_ptr<HubState>> Open(const HubConfig& config);

  const pki::Identity& self() const { return self_; }
  const channel::Credentials& credentials() const { return *credentials_; }

  // The current bundle (roots + CRL) and a counter that grows on each change.
  std::shared_ptr<const pki::TrustBundle> bundle() const;
  uint64_t bundle_version() const;
  // Blocks until the version differs from `seen` or `timeout` passes.
  uint64_t WaitForBundleChange(uint64_t seen, std::chrono::milliseconds timeout) const;

  absl::StatusOr<v1::CreateJoinTokenResponse> CreateJoinToken(const v1::CreateJoinTokenRequest& req,
                                                              const pki::Identity& by);
  // Single use, atomically: a token enrols exactly one party.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& req);
  // Revokes, re-issues the CRL and bumps the bundle version; then calls the
  // revocation listener (which ends live sessions of that certificate).
  absl::StatusOr<v1::RevokeResponse> Revoke(const v1::RevokeRequest& req, const pki::Identity& by);
  void SetRevocationListener(std::function<void(const std::string& serial_hex)> listener);
  bool IsRevoked(const std::string& serial_hex) const;

  // False when `node_id` has no registry record (registry restored from an
  // older backup, say); the status is then dropped.
  bool RecordHeartbeat(const std::string& node_id, const v1::EdgeStatus& status);
  void SetConnected(const pki::Identity& edge, bool connected);

  // Anchoring records (the caller serialises them; see AnchorService).
  // The last cosigned checkpoint note of `node_id`; NOT_FOUND if none.
  absl::StatusOr<std::string> AnchoredNote(const std::string& node_id) const;
  // The registry record of `node_id` (role, country, serial, certificate
  // PEM); NOT_FOUND if it is not enrolled.
  absl::StatusOr<v1::NodeRecord> FindNode(const std::string& node_id) const;
  // The public key of the node's current certificate.
  absl::StatusOr<crypto::Sm2PublicKey> NodeKey(const std::string& node_id) const;
  // Records an accepted, cosigned checkpoint and appends it to the hub's log;
  // returns the hub log index.
  absl::StatusOr<uint64_t> RecordAnchor(const pki::Identity& edge, const std::string& cosigned);
  // Records a refused checkpoint; `alarm` for forks and rewrites.
  void RecordAnchorRefusal(const pki::Identity& edge, const absl::Status& why, bool alarm);

  // The hub's own audit log (data_dir/audit), checkpointed every second.
  audit::AuditLog& audit() { return *audit_; }
  v1::ListNodesResponse ListNodes() const;

 private:
  HubState() = default;
  absl::Status LoadRevocations();
  // Re-issues the CRL and rebuilds the bundle; caller holds mu_.
  absl::Status RebuildBundleLocked();
  absl::StatusOr<v1::NodeRecord> LoadNode(const std::string& node_id) const;

  HubConfig config_;
  pki::Identity self_;
  std::optional<channel::Credentials> credentials_;  // set by the factory
  std::optional<pki::CertificateAuthority> ca_;
  std::vector<pki::Certificate> extra_roots_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<audit::AuditLog> audit_;
  // Appends an event; a failure is logged, never hidden (and never blocks
  // the operation that already happened).
  void Audit(const std::string& operation, const pki::Identity& who, absl::StatusCode code,
             const std::string& detail);

  mutable std::mutex mu_;
  mutable std::condition_variable bundle_cv_;
  std::shared_ptr<const pki::TrustBundle> bundle_;
  uint64_t bundle_version_ = 1;
  uint64_t crl_number_ = 0;
  std::map<std::string, pki::RevokedEntry> revoked_;    // serial → entry
  std::map<std::string, int> connected_;                // node id → live heartbeat streams
  std::mutex enroll_mu_;                                // serialises token use
  std::function<void(const std::string&)> on_revoked_;  // set once before serving
};

}  // namespace beibu::hub
