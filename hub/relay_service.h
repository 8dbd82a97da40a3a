// beibu.v1.Relay on the hub (issue 5, docs/data-plane.md): store and forward
// of sealed transfers between edges, and the edges' epoch key directory.
//
//  * Push: a source edge's envelopes, checked (the edge sends as itself, to
//    an enrolled and unrevoked edge, a sane chunk range), audited
//    (`transfer.relayed` / `transfer.notice`), then stored in the
//    destination's queue; acknowledged only after the synced write. A full
//    destination queue stops the acknowledgements (backpressure), nothing is
//    dropped. A bad item fails the call and is audited as `relay.refused`.
//  * Pull: the caller's own queue in hub_sequence order, a bounded window in
//    flight; acknowledged items are deleted. One Pull per edge: a new one
//    replaces the old.
//  * PublishEpochKey / GetEpochKeys: keys signed by the edge's current
//    certificate key, served with that certificate.
//  * ListQueues: depths for operators and regulators.
//
// The hub reads envelope headers only; it never decrypts anything.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "beibu/audit/audit_log.h"
#include "beibu/crypto/sm2.h"
#include "beibu/rpc/direct_methods.h"
#include "beibu/storage/db.h"
#include "beibu/v1/relay_api.grpc.pb.h"
#include "epoch_key_registry.h"
#include "relay_queue.h"

namespace beibu::hub {

class HubState;

// What the relay needs to know about enrolled nodes.
struct RelayNode {
  std::string id;
  std::string role;     // "edge", "operator", ...
  std::string country;  // of the current certificate
  std::string certificate_pem;
  bool revoked = false;  // the current certificate is revoked
};

class RelayDirectory {
 public:
  virtual ~RelayDirectory() = default;
  // NOT_FOUND when `node_id` is not enrolled.
  virtual absl::StatusOr<RelayNode> FindNode(const std::string& node_id) const = 0;
  // The public key of the node's current certificate.
  virtual absl::StatusOr<crypto::Sm2PublicKey> NodeKey(const std::string& node_id) const = 0;
};

// The hub's registry as a RelayDirectory.
class HubRelayDirectory final : public RelayDirectory {
 public:
  explicit HubRelayDirectory(HubState* state) : state_(state) {}
  absl::StatusOr<RelayNode> FindNode(const std::string& node_id) const override;
  absl::StatusOr<crypto::Sm2PublicKey> NodeKey(const std::string& node_id) const override;

 private:
  HubState* state_;
};

struct RelayServiceOptions {
  std::string dir;  // the relay database, data_dir/relay
  RelayLimits limits;
  RelayDirectory* directory = nullptr;  // not owned
  audit::AuditLog* audit = nullptr;     // not owned: the hub's log
  // How often `event=relay_queues` is logged while a queue is non-empty.
  std::chrono::milliseconds depth_log_interval{10000};
};

class RelayService final : public v1::Relay::Service, public rpc::DirectService {
 public:
  // Opens (or creates) the relay database. FAILED_PRECONDITION if another
  // process holds it; DATA_LOSS for corrupt records.
  static absl::StatusOr<std::unique_ptr<RelayService>> Open(RelayServiceOptions options);
  ~RelayService() override;  // Stop()s

  // Ends every Push and Pull stream (UNAVAILABLE) and refuses new ones, so
  // that the server can shut down. Idempotent.
  void Stop();

  grpc::Status Push(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<v1::RelayAck, v1::RelayBatch>* stream) override;
  grpc::Status Pull(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<v1::RelayBatch, v1::RelayAck>* stream) override;
  grpc::Status PublishEpochKey(grpc::ServerContext* ctx, const v1::EpochKey* key,
                               v1::PublishEpochKeyResponse* resp) override;
  grpc::Status GetEpochKeys(grpc::ServerContext* ctx, const v1::GetEpochKeysRequest* req,
                            v1::GetEpochKeysResponse* resp) override;
  grpc::Status ListQueues(grpc::ServerContext* ctx, const v1::RelayQueuesRequest* req,
                          v1::RelayQueuesResponse* resp) override;
  // Push and Pull: every relayed item crosses them (rpc/direct_methods.h).
  void AddDirectMethods(rpc::DirectMethods& methods) override;

  RelayQueue& queue() { return *queue_; }
  // Waits until the relay's staged audit events are in the audit log.
  absl::Status FlushAudit(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return journal_->Flush(timeout);
  }

  // Pull window and batch limits (docs/data-plane.md).
  static constexpr size_t kMaxInFlightItems = 1024;
  // Batches sent and not acknowledged: each costs the destination a synced
  // write, so a slow destination gets fewer, larger batches.
  static constexpr size_t kMaxInFlightBatches = 2;
  static constexpr uint64_t kMaxInFlightBytes = uint64_t{8} << 20;
  static constexpr size_t kMaxBatchItems = 256;
  static constexpr uint64_t kMaxBatchBytes = uint64_t{4} << 20;
  // Clock skew accepted on an epoch key's not_before.
  static constexpr absl::Duration kMaxKeySkew = absl::Minutes(5);

 private:
  explicit RelayService(RelayServiceOptions options) : options_(std::move(options)) {}

  using PushStream = grpc::ServerReaderWriterInterface<v1::RelayAck, v1::RelayBatch>;
  using PullStream = grpc::ServerReaderWriterInterface<v1::RelayBatch, v1::RelayAck>;
  grpc::Status ServePush(rpc::CallScope& call, PushStream* stream);
  grpc::Status ServePull(rpc::CallScope& call, PullStream* stream);

  // The destination queue of one pushed envelope, or why it is refused.
  absl::StatusOr<std::string> Route(const pki::Identity& caller, const v1::Envelope& env) const;
  absl::Status CheckDestination(const std::string& edge_id) const;
  // Audit events of a batch about to be stored (transfer.relayed, notices).
  static std::vector<v1::AuditEvent> AuditEvents(const pki::Identity& caller,
                                                 const std::vector<const RelayItem*>& accepted);
  grpc::Status Refuse(const pki::Identity& caller, const std::string& operation,
                      const std::string& transfer_id, const absl::Status& why);
  void Audit(const pki::Identity& caller, const std::string& operation, absl::StatusCode code,
             const std::string& detail);

  // Live streams, so that Stop() and a replacing Pull can cancel them.
  bool RegisterStream(rpc::CallScope* call);
  void UnregisterStream(rpc::CallScope* call);
  uint64_t RegisterPuller(const std::string& edge, rpc::CallScope* call);
  void UnregisterPuller(const std::string& edge, uint64_t generation);
  bool PullerCurrent(const std::string& edge, uint64_t generation) const;

  void DepthLogLoop();

  RelayServiceOptions options_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<audit::AuditJournal> journal_;  // on db_; destroyed before it
  std::unique_ptr<RelayQueue> queue_;
  std::unique_ptr<EpochKeyRegistry> keys_;

  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  std::set<rpc::CallScope*> streams_;  // every live Push and Pull
  struct Puller {
    rpc::CallScope* call;
    uint64_t generation;
  };
  std::map<std::string, Puller> pullers_;  // edge id -> its current Pull
  uint64_t next_generation_ = 1;
  std::thread depth_logger_;
};

}  // namespace beibu::hub
