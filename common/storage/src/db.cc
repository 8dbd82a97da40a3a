#include "beibu/storage/db.h"

#include <rocksdb/db.h>

#include <rocksdb/write_batch.h>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace beibu::storage {
namespace {

absl::Status Convert(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::FailedPreconditionError(
        absl::StrCat(msg, " (is another process using this data directory?)"));
  }
  return absl::InternalError(msg);
}

rocksdb::Slice ToSlice(std::string_view v) { return rocksdb::Slice(v.data(), v.size()); }

}  // namespace

WriteBatch::WriteBatch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}
WriteBatch::~WriteBatch() = default;
void WriteBatch::Put(std::string_view key, std::string_view value) {
  batch_->Put(ToSlice(key), ToSlice(value));
}
void WriteBatch::Delete(std::string_view key) { batch_->Delete(ToSlice(key)); }

Db::Db(std::unique_ptr<rocksdb::DB> db, std::string path, DbOptions options)
    : db_(std::move(db)), path_(std::move(path)), options_(options) {}
Db::~Db() = default;

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, DbOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", path, ": ", ec.message()));
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  opts.keep_log_file_num = 3;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, path, &raw);
  if (!s.ok()) return Convert(s, absl::StrCat("cannot open database ", path));
  return std::unique_ptr<Db>(new Db(std::unique_ptr<rocksdb::DB>(raw), path, options));
}

absl::StatusOr<std::string> Db::Get(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no key ", std::string(key)));
  if (!s.ok()) return Convert(s, absl::StrCat("read of ", path_));
  return value;
}

absl::Status Db::Put(std::string_view key, std::string_view value) {
  WriteBatch b;
  b.Put(key, value);
  return Write(b);
}

absl::Status Db::Delete(std::string_view key) {
  WriteBatch b;
  b.Delete(key);
  return Write(b);
}

absl::Status Db::Write(WriteBatch& batch, Durability durability) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes && durability == Durability::kDefault;
  return Convert(db_->Write(wo, batch.batch_.get()), absl::StrCat("write to ", path_));
}

absl::Status Db::Scan(std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!visit(key, std::string_view(it->value().data(), it->value().size()))) break;
  }
  return Convert(it->status(), absl::StrCat("scan of ", path_));
}

}  // namespace beibu::storage
