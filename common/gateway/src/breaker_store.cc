// Breakers in a RocksDB (breaker_store.h): key "b/<scope>", value a
// serialized v1.Breaker, every write synced.
#include "beibu/gateway/breaker_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace beibu::gateway {
namespace {

constexpr std::string_view kPrefix = "b/";

std::string Key(const std::string& scope) { return absl::StrCat("b/", scope); }

}  // namespace

absl::StatusOr<std::unique_ptr<DbBreakerStore>> DbBreakerStore::Open(const std::string& dir) {
  storage::DbOptions options;
  options.sync_writes = true;  // a breaker is saved before it takes effect
  absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(dir, options);
  if (!db.ok()) {
    return absl::Status(db.status().code(), absl::StrCat("cannot open the breaker store in ", dir,
                                                         ": ", db.status().message()));
  }
  return std::unique_ptr<DbBreakerStore>(new DbBreakerStore(std::move(*db)));
}

absl::StatusOr<std::vector<v1::Breaker>> DbBreakerStore::LoadAll() const {
  std::vector<v1::Breaker> out;
  absl::Status s = db_->Scan(kPrefix, [&](std::string_view key, std::string_view value) {
    v1::Breaker b;
    std::string_view scope = key.substr(kPrefix.size());
    if (!b.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      spdlog::error(
          "event=breaker_record_unreadable key={} error=\"not a Breaker record; trip "
          "the scope again if it should be open\"",
          std::string(key));
      return true;
    }
    if (b.scope().empty()) b.set_scope(std::string(scope));
    out.push_back(std::move(b));
    return true;
  });
  if (!s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("cannot read the breakers in ", db_->path(), ": ", s.message()));
  }
  return out;
}

absl::Status DbBreakerStore::Save(const v1::Breaker& breaker) {
  storage::WriteBatch batch;
  batch.Put(Key(breaker.scope()), breaker.SerializeAsString());
  absl::Status s = db_->Write(batch, storage::Durability::kDefault);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("cannot save breaker ", breaker.scope(), ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status DbBreakerStore::Erase(const std::string& scope) {
  storage::WriteBatch batch;
  batch.Delete(Key(scope));
  absl::Status s = db_->Write(batch, storage::Durability::kDefault);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("cannot erase breaker ", scope, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace beibu::gateway
