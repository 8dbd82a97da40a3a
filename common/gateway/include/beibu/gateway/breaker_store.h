// Breakers across restarts: a RocksDB (beibu_storage) holding one
// v1.Breaker per scope, key "b/<scope text>", every write synced. Used by the
// edge (data_dir/gateway) and by the hub for its hub-wide set
// (data_dir/gateway).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/gateway/breaker_board.h"
#include "beibu/storage/db.h"

namespace beibu::gateway {

class DbBreakerStore final : public BreakerBoard::Store {
 public:
  // Creates the directory's database if absent.
  static absl::StatusOr<std::unique_ptr<DbBreakerStore>> Open(const std::string& dir);

  // Every saved breaker. A value that does not parse is skipped and logged
  // (event=breaker_record_unreadable key=...), not fatal: the edge must
  // start, and an operator can trip the scope again.
  absl::StatusOr<std::vector<v1::Breaker>> LoadAll() const;

  absl::Status Save(const v1::Breaker& breaker) override;
  absl::Status Erase(const std::string& scope) override;

 private:
  explicit DbBreakerStore(std::unique_ptr<storage::Db> db) : db_(std::move(db)) {}
  std::unique_ptr<storage::Db> db_;
};

}  // namespace beibu::gateway
