// The hub-wide data circuit breakers (docs/gateway.md §4): the set the hub
// imposes on every edge, kept in data_dir/gateway (synced) and pushed on
// every heartbeat stream when it changes. Trips here are operators' trips,
// held until an operator resets them at the hub.
//
//   auto hub = HubBreakers::Open({.dir = data_dir + "/gateway", .hub_id = "hub",
//                                 .audit = &state->audit()});
//   (*hub)->Trip("route:VN>CN", "incident 4711", op);    // every edge, at once
//   uint64_t v = (*hub)->WaitForChange(seen, 250ms);    // heartbeat loops wake
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/gateway/breaker_board.h"
#include "beibu/gateway/breaker_store.h"
#include "beibu/pki/identity.h"
#include "beibu/v1/gateway.pb.h"

namespace beibu::hub {

class HubBreakers {
 public:
  struct Options {
    std::string dir;                   // the breakers' RocksDB (data_dir/gateway)
    std::string hub_id;                // pushed breakers say tripped_by "hub:<hub_id>"
    audit::AuditLog* audit = nullptr;  // hub.breaker_tripped / hub.breaker_reset; may be null
  };

  // Opens (creating) the store and resumes the breakers it holds.
  static absl::StatusOr<std::unique_ptr<HubBreakers>> Open(Options options);
  ~HubBreakers();

  // Opens `scope_text`'s breaker on every edge, held until Reset.
  // INVALID_ARGUMENT for a scope that does not parse (the message lists the
  // forms) or an empty reason. Returns the breaker as the edges receive it.
  absl::StatusOr<v1::Breaker> Trip(const std::string& scope_text, const std::string& reason,
                                   const pki::Identity& by);
  // Closes it everywhere. NOT_FOUND when the hub holds no such breaker.
  absl::StatusOr<v1::Breaker> Reset(const std::string& scope_text, const std::string& reason,
                                    const pki::Identity& by);

  // The set pushed to edges (each from_hub, tripped_by "hub:<hub_id>"), and
  // the change counter it belongs to: the set is at least as new as `version`.
  struct Snapshot {
    uint64_t version = 0;
    std::vector<v1::Breaker> breakers;
  };
  Snapshot Current() const;
  uint64_t version() const;
  // Blocks until the counter differs from `seen` or `timeout` passes;
  // returns the counter.
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;

 private:
  HubBreakers(Options options, std::unique_ptr<gateway::DbBreakerStore> store,
              std::vector<v1::Breaker> loaded);
  v1::Breaker AsPushed(v1::Breaker b) const;
  void Changed();
  void Audit(const std::string& operation, const pki::Identity& who, const std::string& detail);

  Options options_;
  std::unique_ptr<gateway::DbBreakerStore> store_;  // outlives board_
  std::unique_ptr<gateway::BreakerBoard> board_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  uint64_t version_ = 1;
};

}  // namespace beibu::hub
