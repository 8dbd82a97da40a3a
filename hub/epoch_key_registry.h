// The edges' published epoch keys, as the hub stores and serves them (issue
// 5). Verification (signature, validity) is the caller's job (RelayService);
// this class only stores records and drops expired ones. Records live in the
// relay database under k/<edge>\0<key_id> (see relay_queue.h).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "beibu/storage/db.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::hub {

class EpochKeyRegistry {
 public:
  explicit EpochKeyRegistry(storage::Db* db) : db_(db) {}  // db not owned

  // Stores `key` (edge_certificate should hold the certificate that verified
  // it). Returns true when the record is new or changed, false when the very
  // same record was already stored (a retried publish).
  absl::StatusOr<bool> Put(const v1::EpochKey& key);

  // Every stored key with not_after > now, of `edge_ids` (all when empty),
  // in (edge_id, key_id) order. Deletes the expired ones it meets.
  absl::StatusOr<std::vector<v1::EpochKey>> List(const std::vector<std::string>& edge_ids,
                                                 absl::Time now);

 private:
  storage::Db* db_;
  std::mutex mu_;  // Put's compare-and-store is atomic
};

// Timestamp conversion shared by the relay code.
absl::Time ToAbslTime(const google::protobuf::Timestamp& t);

}  // namespace beibu::hub
