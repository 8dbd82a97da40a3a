#include "relay_queue.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace beibu::hub {
namespace {

constexpr char kQueuePrefix[] = "q/";
constexpr char kDepthPrefix[] = "d/";
constexpr char kWatermarkPrefix[] = "w/";
constexpr char kUndeliverablePrefix[] = "u/";
constexpr size_t kDepthRecordSize = 24;

uint64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DepthRecord(uint64_t last, uint64_t items, uint64_t bytes) {
  return absl::StrCat(EncodeU64(last), EncodeU64(items), EncodeU64(bytes));
}

absl::Status CheckId(const std::string& what, const std::string& id) {
  if (id.empty() || id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", id, "' is not a valid node id (empty or contains NUL)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t DecodeU64(std::string_view b) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

std::string RelayQueuePrefix(const std::string& destination) {
  return absl::StrCat(kQueuePrefix, destination, absl::string_view("\0", 1));
}

absl::StatusOr<std::unique_ptr<RelayQueue>> RelayQueue::Open(storage::Db* db, RelayLimits limits,
                                                             std::function<uint64_t()> now_ms,
                                                             audit::AuditJournal* journal) {
  if (!now_ms) now_ms = SystemNowMs;
  std::unique_ptr<RelayQueue> q(new RelayQueue(db, limits, std::move(now_ms), journal));
  if (absl::Status s = q->Load(); !s.ok()) return s;
  return q;
}

absl::Status RelayQueue::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  bool corrupt = false;
  std::string bad;
  absl::Status s = db_->Scan(kDepthPrefix, [&](std::string_view key, std::string_view value) {
    if (value.size() != kDepthRecordSize) {
      corrupt = true;
      bad = std::string(key);
      return false;
    }
    Meta& m = meta_[std::string(key.substr(sizeof(kDepthPrefix) - 1))];
    m.last_hub_sequence = DecodeU64(value.substr(0, 8));
    m.items = DecodeU64(value.substr(8, 8));
    m.bytes = DecodeU64(value.substr(16, 8));
    return true;
  });
  if (!s.ok()) return s;
  s = db_->Scan(kWatermarkPrefix, [&](std::string_view key, std::string_view value) {
    if (value.size() != 8) {
      corrupt = true;
      bad = std::string(key);
      return false;
    }
    watermarks_[std::string(key.substr(sizeof(kWatermarkPrefix) - 1))] = DecodeU64(value);
    return true;
  });
  if (!s.ok()) return s;
  if (corrupt) {
    return absl::DataLossError(absl::StrCat("relay database ", db_->path(), ": record '", bad,
                                            "' is corrupt; restore data_dir/relay from a backup"));
  }
  for (auto& [dest, m] : meta_) {
    absl::StatusOr<uint64_t> oldest = OldestLocked(dest);
    if (!oldest.ok()) return oldest.status();
    m.oldest_ms = *oldest;
  }
  return absl::OkStatus();
}

// A destination's queue holds the consecutive hub sequences (last - items,
// last]: items are appended at the end and acknowledged as a prefix. Reads
// therefore go by key: a prefix scan would walk the tombstones of every item
// ever acknowledged, which made each Pull read and Ack O(items relayed).
uint64_t RelayQueue::FirstLocked(const std::string& destination) const {
  auto it = meta_.find(destination);
  if (it == meta_.end()) return 1;
  return it->second.last_hub_sequence - it->second.items + 1;
}

absl::StatusOr<uint64_t> RelayQueue::OldestLocked(const std::string& destination) const {
  auto it = meta_.find(destination);
  if (it == meta_.end() || it->second.items == 0) return 0;
  absl::StatusOr<std::string> v =
      db_->Get(RelayQueuePrefix(destination) + EncodeU64(FirstLocked(destination)));
  if (absl::IsNotFound(v.status())) return 0;
  if (!v.ok()) return v.status();
  return v->size() >= 8 ? DecodeU64(*v) : 0;
}

uint64_t RelayQueue::Watermark(const std::string& source) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = watermarks_.find(source);
  return it == watermarks_.end() ? 0 : it->second;
}

absl::StatusOr<size_t> RelayQueue::Enqueue(const std::string& source,
                                           const std::vector<RelayItem>& items,
                                           const std::function<bool()>& give_up,
                                           const BeforeCommit& before_commit,
                                           const OnWait& on_wait) {
  if (absl::Status s = CheckId("source", source); !s.ok()) return s;
  for (const RelayItem& item : items) {
    if (absl::Status s = CheckId("destination", item.destination); !s.ok()) return s;
  }
  for (size_t i = 1; i < items.size(); ++i) {
    if (items[i].envelope.relay_sequence() <= items[i - 1].envelope.relay_sequence()) {
      return absl::InvalidArgumentError("relay_sequence must increase strictly within a batch");
    }
  }
  std::vector<std::string> serialized(items.size());
  for (size_t i = 0; i < items.size(); ++i) serialized[i] = items[i].envelope.SerializeAsString();

  std::unique_lock<std::mutex> lock(mu_);
  std::vector<size_t> accepted;  // indexes into items
  bool waited = false;
  for (;;) {
    auto wm = watermarks_.find(source);
    const uint64_t watermark = wm == watermarks_.end() ? 0 : wm->second;
    accepted.clear();
    std::map<std::string, std::pair<uint64_t, uint64_t>> adds;  // dest -> items, bytes
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].envelope.relay_sequence() <= watermark) continue;
      accepted.push_back(i);
      auto& [n, b] = adds[items[i].destination];
      ++n;
      b += serialized[i].size();
    }
    const QueueDepth* full = nullptr;
    QueueDepth depth;
    for (const auto& [dest, add] : adds) {
      auto it = meta_.find(dest);
      if (it == meta_.end() || it->second.items == 0) continue;  // empty: always room
      const Meta& m = it->second;
      if (m.items + add.first > limits_.max_queue_items ||
          m.bytes + add.second > limits_.max_queue_bytes) {
        depth = {dest, m.items, m.bytes, m.oldest_ms, m.last_hub_sequence};
        full = &depth;
        break;
      }
    }
    if (full == nullptr) break;
    if (!waited && on_wait) on_wait(*full);
    waited = true;
    if (give_up && give_up()) {
      return absl::CancelledError(
          absl::StrCat("gave up waiting for room in the queue of ", full->destination));
    }
    ++waiting_;
    cv_.wait_for(lock, std::chrono::milliseconds(100));
    --waiting_;
  }
  if (accepted.empty()) return 0;

  std::vector<v1::AuditEvent> events;
  if (before_commit) {
    std::vector<const RelayItem*> view;
    view.reserve(accepted.size());
    for (size_t i : accepted) view.push_back(&items[i]);
    absl::StatusOr<std::vector<v1::AuditEvent>> staged = before_commit(view);
    if (!staged.ok()) return staged.status();
    events = *std::move(staged);
  }

  const uint64_t now = now_ms_();
  std::map<std::string, Meta> updated;
  storage::WriteBatch batch;
  for (size_t i : accepted) {
    const std::string& dest = items[i].destination;
    auto u = updated.find(dest);
    if (u == updated.end()) {
      auto it = meta_.find(dest);
      u = updated.emplace(dest, it == meta_.end() ? Meta{} : it->second).first;
    }
    Meta& m = u->second;
    ++m.last_hub_sequence;
    ++m.items;
    m.bytes += serialized[i].size();
    if (m.oldest_ms == 0) m.oldest_ms = now;
    batch.Put(RelayQueuePrefix(dest) + EncodeU64(m.last_hub_sequence),
              EncodeU64(now) + serialized[i]);
  }
  for (const auto& [dest, m] : updated) {
    batch.Put(kDepthPrefix + dest, DepthRecord(m.last_hub_sequence, m.items, m.bytes));
  }
  const uint64_t new_watermark = items[accepted.back()].envelope.relay_sequence();
  batch.Put(kWatermarkPrefix + source, EncodeU64(new_watermark));
  absl::Status written = journal_ ? journal_->Write(batch, std::move(events)) : db_->Write(batch);
  if (!written.ok()) return written;
  for (auto& [dest, m] : updated) meta_[dest] = m;
  watermarks_[source] = new_watermark;
  ++changes_;
  cv_.notify_all();
  return accepted.size();
}

absl::StatusOr<std::vector<QueuedItem>> RelayQueue::Read(const std::string& destination,
                                                         uint64_t after, size_t max_items,
                                                         uint64_t max_bytes) const {
  std::vector<QueuedItem> out;
  if (max_items == 0) return out;
  uint64_t bytes = 0;
  bool corrupt = false;
  const std::string prefix = RelayQueuePrefix(destination);
  uint64_t first = 0, last = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = meta_.find(destination);
    if (it == meta_.end()) return out;
    first = FirstLocked(destination);
    last = it->second.last_hub_sequence;
  }
  for (uint64_t seq = std::max(after + 1, first); seq <= last && out.size() < max_items; ++seq) {
    absl::StatusOr<std::string> value = db_->Get(prefix + EncodeU64(seq));
    if (absl::IsNotFound(value.status())) continue;  // acknowledged meanwhile
    if (!value.ok()) return value.status();
    if (value->size() < 8) {
      corrupt = true;
      break;
    }
    std::string_view envelope = std::string_view(*value).substr(8);
    if (!out.empty() && bytes + envelope.size() > max_bytes) break;
    bytes += envelope.size();
    out.push_back({seq, DecodeU64(*value), std::string(envelope)});
  }
  if (corrupt) {
    return absl::DataLossError(
        absl::StrCat("a queued item of ", destination, " is corrupt in ", db_->path()));
  }
  return out;
}

absl::StatusOr<size_t> RelayQueue::Ack(const std::string& destination, uint64_t through) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = meta_.find(destination);
  if (it == meta_.end() || it->second.items == 0) return 0;
  const std::string prefix = RelayQueuePrefix(destination);
  std::vector<std::string> keys;
  uint64_t bytes = 0;
  const uint64_t last = std::min(through, it->second.last_hub_sequence);
  for (uint64_t seq = FirstLocked(destination); seq <= last; ++seq) {
    std::string key = prefix + EncodeU64(seq);
    absl::StatusOr<std::string> value = db_->Get(key);
    if (absl::IsNotFound(value.status())) continue;
    if (!value.ok()) return value.status();
    bytes += value->size() >= 8 ? value->size() - 8 : 0;
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return 0;
  Meta m = it->second;
  m.items = m.last_hub_sequence - last;  // what stays queued: (last, last_hub_sequence]
  m.bytes = m.bytes >= bytes ? m.bytes - bytes : 0;
  storage::WriteBatch batch;
  for (const std::string& k : keys) batch.Delete(k);
  batch.Put(kDepthPrefix + destination, DepthRecord(m.last_hub_sequence, m.items, m.bytes));
  // Not synced: a lost delete only resends what the destination dedupes.
  if (absl::Status w = db_->Write(batch, storage::Durability::kBuffered); !w.ok()) return w;
  absl::StatusOr<uint64_t> oldest = OldestLocked(destination);
  m.oldest_ms = oldest.ok() ? *oldest : 0;
  it->second = m;
  ++changes_;
  cv_.notify_all();
  return keys.size();
}

namespace {

std::string UndeliverablePrefix(const std::string& source) {
  return std::string(kUndeliverablePrefix) + source + std::string(1, '\0');
}

}  // namespace

absl::Status RelayQueue::RecordUndeliverable(const std::string& source,
                                             const std::vector<v1::UndeliverableItem>& items,
                                             uint64_t through) {
  if (absl::Status s = CheckId("source", source); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  storage::WriteBatch batch;
  for (const v1::UndeliverableItem& u : items) {
    batch.Put(UndeliverablePrefix(source) + EncodeU64(u.relay_sequence()), u.SerializeAsString());
  }
  auto it = watermarks_.find(source);
  const bool raise = it == watermarks_.end() || it->second < through;
  if (raise) batch.Put(kWatermarkPrefix + source, EncodeU64(through));
  if (absl::Status w = db_->Write(batch); !w.ok()) return w;  // synced
  if (raise) watermarks_[source] = through;
  return absl::OkStatus();
}

std::optional<v1::UndeliverableItem> RelayQueue::Undeliverable(const std::string& source,
                                                               uint64_t relay_sequence) const {
  absl::StatusOr<std::string> v = db_->Get(UndeliverablePrefix(source) + EncodeU64(relay_sequence));
  v1::UndeliverableItem u;
  if (!v.ok() || !u.ParseFromString(*v)) return std::nullopt;
  return u;
}

absl::Status RelayQueue::ForgetUndeliverable(const std::string& source, uint64_t relay_sequence) {
  const std::string prefix = UndeliverablePrefix(source);
  std::vector<std::string> keys;
  absl::Status s = db_->Scan(prefix, [&](std::string_view key, std::string_view) {
    if (DecodeU64(key.substr(prefix.size())) >= relay_sequence) return false;
    keys.emplace_back(key);
    return true;
  });
  if (!s.ok() || keys.empty()) return s;
  storage::WriteBatch batch;
  for (const std::string& k : keys) batch.Delete(k);
  // Not synced: a lost delete only keeps a record that is never asked for.
  return db_->Write(batch, storage::Durability::kBuffered);
}

absl::StatusOr<size_t> RelayQueue::RenumberAbove(const std::string& destination, uint64_t through) {
  if (absl::Status s = CheckId("destination", destination); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = meta_.find(destination);
  Meta m = it == meta_.end() ? Meta{} : it->second;
  if (through <= m.last_hub_sequence) return 0;
  // Far beyond anything assigned at any real rate, and far enough from the
  // top that the loops over (first, last] here, in Read and in Ack cannot
  // wrap around: an ack near 2^64 is a broken edge, not a restored store.
  constexpr uint64_t kMaxHubSequence = uint64_t{1} << 62;
  if (m.items > kMaxHubSequence || through > kMaxHubSequence - m.items) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot renumber the queue of ", destination, " above hub_sequence ", through,
                     ": no hub assigns sequences that high (limit ", kMaxHubSequence,
                     "); the destination edge's watermark is corrupt"));
  }
  // The queue holds the consecutive sequences (last - items, last]; they
  // move, as one block, to (through, through + items].
  const std::string prefix = RelayQueuePrefix(destination);
  storage::WriteBatch batch;
  uint64_t next = through;
  for (uint64_t seq = FirstLocked(destination); seq <= m.last_hub_sequence; ++seq) {
    std::string key = prefix + EncodeU64(seq);
    absl::StatusOr<std::string> value = db_->Get(key);
    if (!value.ok()) {
      // Missing would break the block the counters describe: not something
      // to paper over while moving every queued item.
      return absl::DataLossError(absl::StrCat("renumbering the queue of ", destination, " in ",
                                              db_->path(), ": queued item ", seq,
                                              " cannot be read: ", value.status().ToString()));
    }
    batch.Delete(key);
    batch.Put(prefix + EncodeU64(++next), *value);
  }
  // Moved even when the queue is empty: the next enqueue must land above
  // what the destination holds. Items and bytes stay: the same items.
  m.last_hub_sequence = through + m.items;
  batch.Put(kDepthPrefix + destination, DepthRecord(m.last_hub_sequence, m.items, m.bytes));
  if (absl::Status w = db_->Write(batch); !w.ok()) return w;  // synced
  meta_[destination] = m;
  ++changes_;
  cv_.notify_all();
  return static_cast<size_t>(m.items);
}

uint64_t RelayQueue::WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return changes_ != seen; });
  return changes_;
}

uint64_t RelayQueue::changes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_;
}

void RelayQueue::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  ++changes_;
  cv_.notify_all();
}

size_t RelayQueue::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

std::vector<QueueDepth> RelayQueue::Depths() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<QueueDepth> out;
  for (const auto& [dest, m] : meta_) {
    out.push_back({dest, m.items, m.bytes, m.oldest_ms, m.last_hub_sequence});
  }
  return out;
}

QueueDepth RelayQueue::Depth(const std::string& destination) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = meta_.find(destination);
  if (it == meta_.end()) return {destination};
  const Meta& m = it->second;
  return {destination, m.items, m.bytes, m.oldest_ms, m.last_hub_sequence};
}

}  // namespace beibu::hub
