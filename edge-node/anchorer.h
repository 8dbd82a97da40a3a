// Anchors the edge's audit log at the hub: about once a second while the log
// grows, signs a checkpoint and submits it with a consistency proof from the
// checkpoint the hub last accepted; keeps the hub's cosigned note in
// data_dir/audit/anchored.note. With the hub away the edge keeps logging and
// catches up when it returns (one submission covers everything since).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "beibu/audit/audit_log.h"
#include "beibu/rpc/tunnel_client.h"
#include "edge_config.h"
#include "edge_identity.h"

namespace beibu::edge {

class Anchorer {
 public:
  Anchorer(const EdgeConfig& config, EdgeIdentity* identity, audit::AuditLog* log);
  ~Anchorer();  // Stop()s

  void Start();
  void Stop();

 private:
  void Run();
  // One round: checkpoint, and submit it if the hub lacks it.
  absl::Status AnchorOnce();
  absl::Status Connect();

  EdgeConfig config_;
  EdgeIdentity* identity_;
  audit::AuditLog* log_;
  std::unique_ptr<rpc::TunnelClient> client_;
  std::optional<uint64_t> hub_size_;  // what the hub holds, once asked
  Bytes hub_root_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace beibu::edge
