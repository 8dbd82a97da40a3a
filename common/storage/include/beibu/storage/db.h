// A key-value store on RocksDB: the one place Beibu touches RocksDB directly.
// Writes are synced by default, so an acknowledged write survives kill -9 and
// power loss.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace beibu::storage {

struct DbOptions {
  bool sync_writes = true;
};

// How far a write must have reached when Write returns.
enum class Durability {
  // As DbOptions::sync_writes says (synced by default): survives power loss.
  kDefault,
  // In the operating system's page cache: survives kill -9 of the process,
  // not a power loss or kernel crash. For writes that the next synced write
  // makes durable anyway, or whose loss only repeats work that is
  // deduplicated (deleting what a peer acknowledged), so they do not pay
  // an fsync each.
  kBuffered,
};

class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);

 private:
  friend class Db;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

class Db {
 public:
  // Opens or creates the database in directory `path`. FAILED_PRECONDITION if
  // another process holds it; DATA_LOSS if RocksDB reports corruption.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path, DbOptions options = {});
  ~Db();

  // NOT_FOUND if absent.
  absl::StatusOr<std::string> Get(std::string_view key) const;
  absl::Status Put(std::string_view key, std::string_view value);
  absl::Status Delete(std::string_view key);
  // Atomic: all of the batch or none of it. RocksDB keeps one write-ahead
  // log, so a synced write also makes every buffered write before it durable.
  absl::Status Write(WriteBatch& batch, Durability durability = Durability::kDefault);
  // Calls `visit` for each key starting with `prefix`, in key order, until it
  // returns false.
  absl::Status Scan(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

  const std::string& path() const { return path_; }

 private:
  Db(std::unique_ptr<rocksdb::DB> db, std::string path, DbOptions options);
  std::unique_ptr<rocksdb::DB> db_;
  std::string path_;
  DbOptions options_;
};

}  // namespace beibu::storage
