// A node's audit log: audit events appended to its Merkle log (LogStore),
// and the node's signed checkpoints over it (C2SP signed notes, SM2).
//
//   auto log = AuditLog::Open({.dir = data_dir + "/audit", .node_id = "edge-vn", .key = key});
//   (*log)->Append(event);            // durable when it returns
//   (*log)->Checkpoint();             // signs the current head if it grew
//
// On disk: dir/log (the RocksDB log store) and dir/checkpoint.note (the last
// signed checkpoint, written atomically after signing). Open refuses to
// serve a log that does not contain its last signed checkpoint: a rewritten
// or truncated log fails with DATA_LOSS, so the node never signs over it.
//
// Entry encoding: "BBAE" 0x01 then the deterministic protobuf serialization
// of the v1.AuditEvent. (Notarization entries start with "BBNZ" 0x01; see
// docs/evidence.md.) Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "beibu/audit/checkpoint.h"
#include "beibu/audit/log_store.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/identity.h"
#include "beibu/v1/audit.pb.h"

namespace beibu::audit {

inline constexpr char kAuditEventMagic[] = "BBAE\x01";

struct AuditLogOptions {
  std::string dir;
  std::string node_id;  // key name; origin is LogOrigin(node_id)
  std::optional<crypto::Sm2PrivateKey> key;
  std::string node_country;
  // Sign a checkpoint this often while the log grows; 0 = only on Checkpoint().
  std::chrono::milliseconds checkpoint_interval{1000};
  std::function<uint64_t()> now_ms;  // defaults to the system clock
};

// "BBAE" 0x01 || AuditEvent; and back (INVALID_ARGUMENT for other entries).
Bytes EncodeAuditEvent(const v1::AuditEvent& event);
absl::StatusOr<v1::AuditEvent> DecodeAuditEvent(ByteView entry);

// The event's `who` for a certificate identity; an empty id is "anonymous".
v1::Actor ActorOf(const pki::Identity& identity);

class AuditLog {
 public:
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(AuditLogOptions options);
  ~AuditLog();  // stops the checkpoint thread after a last checkpoint

  // Fills schema_version, time (if unset), node_id and node_country, then
  // appends. Returns the entry's index once durable.
  absl::StatusOr<uint64_t> Append(v1::AuditEvent event);
  // Appends several events at consecutive indexes with one durable write per
  // LogStore batch (a relay batch logs one event per transfer). Returns the
  // first index. INVALID_ARGUMENT when empty.
  absl::StatusOr<uint64_t> AppendBatch(std::vector<v1::AuditEvent> events);
  // Appends an already-encoded entry (notarization records).
  absl::StatusOr<uint64_t> AppendEntry(ByteView entry);

  // Signs and persists a checkpoint of the current head when the log grew
  // since the last one; returns the last signed note either way (empty when
  // the log is empty and nothing was ever signed).
  absl::StatusOr<std::string> Checkpoint();
  std::string last_checkpoint_note() const;

  LogStore& store() { return *store_; }
  const std::string& node_id() const { return options_.node_id; }

 private:
  explicit AuditLog(AuditLogOptions options) : options_(std::move(options)) {}
  void CheckpointLoop();
  // Fills schema_version, time (if unset), node_id and node_country.
  void Stamp(v1::AuditEvent& event) const;

  AuditLogOptions options_;
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<CheckpointSigner> signer_;
  mutable std::mutex mu_;  // guards note_ and checkpointing
  std::string note_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread checkpointer_;
};

}  // namespace beibu::audit
