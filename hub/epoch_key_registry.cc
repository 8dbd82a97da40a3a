#include "epoch_key_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace beibu::hub {
namespace {

constexpr char kKeyPrefix[] = "k/";

std::string KeyOf(const std::string& edge_id, const std::string& key_id) {
  return absl::StrCat(kKeyPrefix, edge_id, absl::string_view("\0", 1), key_id);
}

}  // namespace

absl::Time ToAbslTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::StatusOr<bool> EpochKeyRegistry::Put(const v1::EpochKey& key) {
  if (key.edge_id().empty() || key.edge_id().find('\0') != std::string::npos ||
      key.key_id().empty()) {
    return absl::InvalidArgumentError("an epoch key needs an edge_id and a key_id");
  }
  const std::string k = KeyOf(key.edge_id(), key.key_id());
  const std::string value = key.SerializeAsString();
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::string> old = db_->Get(k);
  if (old.ok() && *old == value) return false;
  if (!old.ok() && !absl::IsNotFound(old.status())) return old.status();
  if (absl::Status s = db_->Put(k, value); !s.ok()) return s;
  return true;
}

absl::StatusOr<std::vector<v1::EpochKey>> EpochKeyRegistry::List(
    const std::vector<std::string>& edge_ids, absl::Time now) {
  std::vector<v1::EpochKey> out;
  std::vector<std::pair<std::string, std::string>> expired;  // key, value seen
  auto visit = [&](std::string_view key, std::string_view value) {
    v1::EpochKey k;
    // A corrupt record is dropped like an expired one: the edge republishes.
    if (!k.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
        ToAbslTime(k.not_after()) <= now) {
      expired.emplace_back(key, value);
      return true;
    }
    out.push_back(std::move(k));
    return true;
  };
  if (edge_ids.empty()) {
    if (absl::Status s = db_->Scan(kKeyPrefix, visit); !s.ok()) return s;
  } else {
    std::vector<std::string> ids = edge_ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const std::string& id : ids) {
      if (id.empty() || id.find('\0') != std::string::npos) continue;
      if (absl::Status s = db_->Scan(KeyOf(id, ""), visit); !s.ok()) return s;
    }
  }
  if (!expired.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    storage::WriteBatch batch;
    // Only what is still the record we saw: a concurrent Put may have renewed it.
    for (const auto& [k, v] : expired) {
      absl::StatusOr<std::string> now_stored = db_->Get(k);
      if (now_stored.ok() && *now_stored == v) batch.Delete(k);
    }
    if (absl::Status s = db_->Write(batch); !s.ok()) return s;
  }
  return out;
}

}  // namespace beibu::hub
