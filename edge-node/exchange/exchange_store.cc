#include "exchange/exchange_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "beibu/audit/audit_journal.h"
#include "beibu/storage/db.h"
#include "exchange/transfer_id.h"
#include "google/protobuf/util/time_util.h"

namespace beibu::edge {
namespace {

// Counters under m/. The source sequence is reserved in blocks: the stored
// value is the first sequence not yet handed out by any run, so a restart
// skips the rest of the block and never reuses one.
constexpr char kSourceLimitKey[] = "m/source_limit";
constexpr char kRelayNextKey[] = "m/relay_next";
constexpr char kInboxNextKey[] = "m/inbox_next";
constexpr char kHubWatermarkKey[] = "m/hub_watermark";
constexpr char kHubAckedKey[] = "m/hub_acked";
constexpr uint64_t kSourceBlock = 1024;
// envelope::kChunkTagSize (seal.h); this library does not link the envelope code.
constexpr size_t kTagSize = 32;

std::string Pad(uint64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llu", width, static_cast<unsigned long long>(v));
  return buf;
}

std::string TransferKey(const std::string& id) { return "t/" + id; }
std::string RawPrefix(const std::string& id) { return "r/" + id + "/"; }
std::string RawKey(const std::string& id, uint64_t offset) {
  return RawPrefix(id) + Pad(offset, 20);
}
std::string PartPrefix(const std::string& id) { return "p/" + id + "/"; }
std::string PartKey(const std::string& id, uint32_t part) { return PartPrefix(id) + Pad(part, 10); }
std::string OutboxKey(uint64_t seq) { return "o/" + Pad(seq, 20); }
constexpr char kHeldItemPrefix[] = "h/";
std::string HeldItemKey(uint64_t seq) { return kHeldItemPrefix + Pad(seq, 20); }
std::string DeliveryKey(const std::string& id) { return "d/" + id; }
constexpr char kHeldPrefix[] = "dn/";
std::string HeldKey(const std::string& id) { return kHeldPrefix + id; }
std::string ChunkKey(const std::string& id, uint32_t i) { return "c/" + id + "/" + Pad(i, 10); }
std::string InboxPrefix(const std::string& enterprise) { return "i/" + enterprise + "/"; }
std::string InboxKey(const std::string& enterprise, uint64_t seq) {
  return InboxPrefix(enterprise) + Pad(seq, 20);
}
std::string PersonsKey(const std::string& exporter, int year) {
  return absl::StrCat("n/", exporter, "/", year);
}

// Parses a fixed-width decimal key suffix; false if it is anything else
// (e.g. the key of an enterprise whose id continues with '/').
bool ParseSuffix(std::string_view key, size_t prefix_len, size_t width, uint64_t* out) {
  if (key.size() != prefix_len + width) return false;
  std::string_view digits = key.substr(prefix_len);
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), out);
}

// Order of held notices: their `at`, then the order they were held.
using HeldOrder = std::tuple<int64_t, int32_t, uint64_t>;

google::protobuf::Timestamp& Step(v1::TransferRecord& r, v1::TransferState state) {
  return (*r.mutable_status()->mutable_steps())[v1::TransferState_Name(state)];
}

}  // namespace

struct ExchangeStore::State {
  std::unique_ptr<storage::Db> db;
  std::unique_ptr<audit::AuditJournal> journal;  // after db: destroyed first
  mutable std::mutex mu;                         // serializes writes and guards everything below
  mutable std::condition_variable outbox_cv;
  mutable std::condition_variable inbox_cv;
  uint64_t next_source = 1;
  uint64_t source_limit = 1;  // first sequence not covered by the persisted block
  uint64_t next_relay = 1;
  // The outbox is the consecutive relay sequences [outbox_begin, outbox_end):
  // the hub acknowledges a prefix, commits append. Published for ReadOutbox,
  // which reads by key instead of scanning past the deleted (acknowledged)
  // items, whose tombstones would make every read O(items ever sent).
  std::atomic<uint64_t> outbox_begin{1};
  std::atomic<uint64_t> outbox_end{1};
  uint64_t next_inbox = 1;
  uint64_t watermark = 0;
  uint64_t hub_acked = 0;           // m/hub_acked
  bool hub_acked_recorded = false;  // m/hub_acked exists (else derived at Open)
  OutboxStats stats;                // stats.held == held_items.size()
  // An outbox item held by a circuit breaker (h/ key).
  struct HeldItem {
    std::string value;  // the stored OutboxItem
    std::string transfer_id;
    uint32_t part = 0;
    // Size of its part when it was held (or the store opened); nullopt if
    // the part was not readable then. Release needs no part read for it.
    std::optional<uint64_t> bytes;
  };
  // relay_sequence -> held item, and how many parts of each transfer are held.
  std::map<uint64_t, HeldItem> held_items;
  std::map<std::string, size_t> held_transfers;
  // Sizes of staged sealed parts (outbox byte accounting without re-reading).
  std::map<std::string, std::map<uint32_t, uint64_t>> part_sizes;
  // enterprise -> inbox sequences of its complete, unacknowledged deliveries
  // (what WaitForInbox waits for; an acknowledged one must not wake it).
  std::map<std::string, std::set<uint64_t>> inbox_pending;
  // Held NOTICE_DELIVERED (dn/ keys): the notices in the order they are
  // released, and each transfer's position in it (for Acknowledge).
  std::map<HeldOrder, v1::TransferNotice> held;
  std::map<std::string, HeldOrder> held_by_id;
  uint64_t held_arrivals = 0;
  std::map<std::pair<std::string, int>, uint64_t> persons_durable;  // loaded lazily
  std::map<std::pair<std::string, int>, uint64_t> persons_reserved;

  // One synced write of `batch` with `events` staged in it.
  absl::Status Write(storage::WriteBatch& batch, std::vector<v1::AuditEvent> events) {
    if (journal) return journal->Write(batch, std::move(events));
    return db->Write(batch);
  }

  absl::StatusOr<uint64_t> GetCounter(const char* key, uint64_t fallback) const {
    absl::StatusOr<std::string> v = db->Get(key);
    if (absl::IsNotFound(v.status())) return fallback;
    if (!v.ok()) return v.status();
    uint64_t n = 0;
    if (!absl::SimpleAtoi(*v, &n)) {
      return absl::DataLossError(absl::StrCat("exchange store: counter ", key, " holds '", *v,
                                              "', not a number; restore the data directory"));
    }
    return n;
  }

  uint64_t& Durable(const std::string& exporter, int year) {
    auto key = std::make_pair(exporter, year);
    auto it = persons_durable.find(key);
    if (it != persons_durable.end()) return it->second;
    uint64_t n = 0;
    absl::StatusOr<std::string> v = db->Get(PersonsKey(exporter, year));
    if (v.ok()) (void)absl::SimpleAtoi(*v, &n);
    return persons_durable[key] = n;
  }

  absl::StatusOr<v1::TransferRecord> LoadTransfer(const std::string& id) const {
    absl::StatusOr<std::string> v = db->Get(TransferKey(id));
    if (!v.ok()) {
      if (absl::IsNotFound(v.status())) {
        return absl::NotFoundError(absl::StrCat("no transfer '", id, "' at this edge"));
      }
      return v.status();
    }
    v1::TransferRecord r;
    if (!r.ParseFromString(*v)) {
      return absl::DataLossError(absl::StrCat("transfer record '", id, "' does not parse"));
    }
    return r;
  }

  absl::StatusOr<v1::DeliveryRecord> LoadDelivery(const std::string& id) const {
    absl::StatusOr<std::string> v = db->Get(DeliveryKey(id));
    if (!v.ok()) {
      if (absl::IsNotFound(v.status())) {
        return absl::NotFoundError(absl::StrCat("no delivery of transfer '", id, "' arrived"));
      }
      return v.status();
    }
    v1::DeliveryRecord r;
    if (!r.ParseFromString(*v)) {
      return absl::DataLossError(absl::StrCat("delivery record '", id, "' does not parse"));
    }
    return r;
  }

  // Size of a stored part: from memory, else from the store; nullopt when
  // it is not there (or not readable).
  std::optional<uint64_t> StoredPartSize(const std::string& id, uint32_t part) const {
    auto it = part_sizes.find(id);
    if (it != part_sizes.end()) {
      auto p = it->second.find(part);
      if (p != it->second.end()) return p->second;
    }
    absl::StatusOr<std::string> v = db->Get(PartKey(id, part));
    if (!v.ok()) return std::nullopt;
    return v->size();
  }

  // Size of a part for outbox accounting: from memory, else from the store.
  uint64_t PartSize(const std::string& id, uint32_t part) const {
    auto it = part_sizes.find(id);
    if (it != part_sizes.end()) {
      auto p = it->second.find(part);
      if (p != it->second.end()) return p->second;
    }
    absl::StatusOr<std::string> v = db->Get(PartKey(id, part));
    return v.ok() ? v->size() : 0;
  }

  // A stored record that makes a new commit of `id` a duplicate: any decided
  // one (a SendStream's own RECEIVING record is what its commit replaces).
  absl::StatusOr<std::optional<v1::TransferRecord>> Decided(const std::string& id) const {
    absl::StatusOr<v1::TransferRecord> r = LoadTransfer(id);
    if (absl::IsNotFound(r.status())) return std::nullopt;
    if (!r.ok()) return r.status();
    if (r->status().state() == v1::RECEIVING) return std::nullopt;
    return *std::move(r);
  }

  // CommitTransfer(s) under `mu`: one synced batch for all of `commits`.
  absl::StatusOr<std::vector<std::optional<v1::TransferRecord>>> Commit(
      std::vector<ExchangeStore::TransferCommit>& commits, bool check_existing) {
    std::vector<std::optional<v1::TransferRecord>> dup(commits.size());
    std::map<std::string, size_t> in_batch;  // transfer id -> first commit carrying it
    std::map<std::pair<std::string, int>, uint64_t> persons_totals;
    std::map<std::string, std::map<uint32_t, uint64_t>> sizes;  // inline part sizes
    storage::WriteBatch batch;
    uint64_t relay = next_relay;
    uint64_t added_items = 0, added_bytes = 0;
    std::vector<v1::AuditEvent> events;
    for (size_t c = 0; c < commits.size(); ++c) {
      ExchangeStore::TransferCommit& t = commits[c];
      const std::string& id = t.record.header().transfer_id();
      if (check_existing) {
        if (auto first = in_batch.find(id); first != in_batch.end()) {
          dup[c] = commits[first->second].record;
          continue;
        }
        absl::StatusOr<std::optional<v1::TransferRecord>> stored = Decided(id);
        if (!stored.ok()) return stored.status();
        if (*stored) {
          dup[c] = *std::move(*stored);
          continue;
        }
      }
      in_batch.emplace(id, c);
      batch.Put(TransferKey(id), t.record.SerializeAsString());
      if (t.audit) events.push_back(*t.audit);
      if (t.persons > 0) {
        auto key = std::make_pair(t.exporter, t.year);
        auto [it, fresh] = persons_totals.try_emplace(key, 0);
        if (fresh) it->second = Durable(t.exporter, t.year);
        it->second += t.persons;
        batch.Put(PersonsKey(t.exporter, t.year), absl::StrCat(it->second));
      }
      for (uint32_t i = 0; i < t.inline_parts.size(); ++i) {
        std::string bytes = t.inline_parts[i].SerializeAsString();
        sizes[id][i] = bytes.size();
        batch.Put(PartKey(id, i), bytes);
      }
      if (absl::Status st = DeleteRaw(id, batch); !st.ok()) return st;
      if (!t.to_outbox) continue;
      for (uint32_t p = 0; p < t.parts; ++p) {
        v1::OutboxItem item;
        item.set_transfer_id(id);
        item.set_part(p);
        batch.Put(OutboxKey(relay++), item.SerializeAsString());
        auto it = sizes[id].find(p);
        added_bytes += it != sizes[id].end() ? it->second : PartSize(id, p);
        ++added_items;
      }
    }
    if (added_items > 0) batch.Put(kRelayNextKey, absl::StrCat(relay));
    if (absl::Status st = Write(batch, std::move(events)); !st.ok()) return st;
    // Durable now: move reservations into the durable counters.
    for (const auto& [key, total] : persons_totals) persons_durable[key] = total;
    for (size_t c = 0; c < commits.size(); ++c) {
      const ExchangeStore::TransferCommit& t = commits[c];
      if (t.persons > 0) {  // committed or a duplicate: no longer reserved
        uint64_t& reserved = persons_reserved[{t.exporter, t.year}];
        reserved -= std::min(reserved, t.persons);
      }
      if (!dup[c]) part_sizes.erase(t.record.header().transfer_id());
    }
    Appended(relay, added_bytes);
    return dup;
  }

  // Stages `notice` in `batch` as outbox item *next (then advanced).
  static void StageNotice(const v1::TransferNotice& notice, storage::WriteBatch& batch,
                          uint64_t* next, uint64_t* bytes) {
    v1::OutboxItem item;
    *item.mutable_notice() = notice;
    batch.Put(OutboxKey((*next)++), item.SerializeAsString());
    *bytes += notice.ByteSizeLong();
  }
  // After the write that added outbox items up to `next` (exclusive), of
  // `bytes` in all: counts them and wakes the pusher.
  void Appended(uint64_t next, uint64_t bytes) {
    if (next == next_relay) return;
    stats.items += next - next_relay;
    stats.bytes += bytes;
    next_relay = next;
    outbox_end.store(next);
    outbox_cv.notify_all();
  }

  // Records a held item (its h/ key is written). An item that does not
  // parse is recorded without a transfer: it is never released.
  void HoldItem(uint64_t seq, const std::string& value, std::optional<uint64_t> bytes) {
    HeldItem held{.value = value, .bytes = bytes};
    v1::OutboxItem item;
    if (item.ParseFromString(value) && !item.transfer_id().empty()) {
      held.transfer_id = item.transfer_id();
      held.part = item.part();
      ++held_transfers[held.transfer_id];
    }
    held_items[seq] = std::move(held);
    stats.held = held_items.size();
  }
  void UnholdItem(uint64_t seq) {
    auto it = held_items.find(seq);
    if (it == held_items.end()) return;
    if (!it->second.transfer_id.empty()) {
      auto t = held_transfers.find(it->second.transfer_id);
      if (t != held_transfers.end() && --t->second == 0) held_transfers.erase(t);
    }
    held_items.erase(it);
    stats.held = held_items.size();
  }
  // The outbox item at `seq` if it is part `part` of transfer `id` (the
  // stored value), else nullopt: another item, a notice, or none.
  absl::StatusOr<std::optional<std::string>> OutboxPartAt(uint64_t seq, const std::string& id,
                                                          uint32_t part) const {
    if (seq < outbox_begin.load() || seq >= outbox_end.load()) return std::nullopt;
    absl::StatusOr<std::string> v = db->Get(OutboxKey(seq));
    if (absl::IsNotFound(v.status())) return std::nullopt;
    if (!v.ok()) return v.status();
    v1::OutboxItem item;
    if (!item.ParseFromString(*v) || item.has_notice() || item.transfer_id() != id ||
        item.part() != part) {
      return std::nullopt;
    }
    return *std::move(v);
  }

  void Hold(const v1::TransferNotice& n) {
    Unhold(n.transfer_id());  // at most one held notice per transfer
    HeldOrder order{n.at().seconds(), n.at().nanos(), held_arrivals++};
    held_by_id[n.transfer_id()] = order;
    held[order] = n;
  }
  void Unhold(const std::string& id) {
    auto it = held_by_id.find(id);
    if (it == held_by_id.end()) return;
    held.erase(it->second);
    held_by_id.erase(it);
  }

  // Adds deletes of a transfer's staged SendStream bytes to `batch`.
  absl::Status DeleteRaw(const std::string& id, storage::WriteBatch& batch) const {
    std::vector<std::string> raw_keys;
    absl::Status st = db->Scan(RawPrefix(id), [&](std::string_view k, std::string_view) {
      raw_keys.emplace_back(k);
      return true;
    });
    for (const std::string& k : raw_keys) batch.Delete(k);
    return st;
  }
};

ExchangeStore::ExchangeStore(std::unique_ptr<State> state) : s_(std::move(state)) {}
ExchangeStore::~ExchangeStore() = default;

absl::Status ExchangeStore::FlushAudit(std::chrono::milliseconds timeout) {
  return s_->journal ? s_->journal->Flush(timeout) : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ExchangeStore>> ExchangeStore::Open(const std::string& dir,
                                                                   audit::AuditLog* audit) {
  auto state = std::make_unique<State>();
  absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(dir);
  if (!db.ok()) return db.status();
  state->db = *std::move(db);
  if (audit != nullptr) {
    absl::StatusOr<std::unique_ptr<audit::AuditJournal>> journal =
        audit::AuditJournal::Open({.db = state->db.get(), .log = audit});
    if (!journal.ok()) return journal.status();
    state->journal = *std::move(journal);
  }
  absl::StatusOr<uint64_t> limit = state->GetCounter(kSourceLimitKey, 1);
  absl::StatusOr<uint64_t> relay = state->GetCounter(kRelayNextKey, 1);
  absl::StatusOr<uint64_t> inbox = state->GetCounter(kInboxNextKey, 1);
  absl::StatusOr<uint64_t> mark = state->GetCounter(kHubWatermarkKey, 0);
  for (const absl::StatusOr<uint64_t>* c : {&limit, &relay, &inbox, &mark}) {
    if (!c->ok()) return c->status();
  }
  state->next_source = state->source_limit = *limit;
  state->next_relay = *relay;
  state->next_inbox = *inbox;
  state->watermark = *mark;
  // Outbox accounting and inbox heads are derived, not stored.
  std::vector<v1::OutboxItem> items;
  uint64_t first = state->next_relay;
  absl::Status s = state->db->Scan("o/", [&](std::string_view k, std::string_view v) {
    uint64_t seq = 0;
    if (ParseSuffix(k, 2, 20, &seq)) first = std::min(first, seq);
    v1::OutboxItem item;
    if (item.ParseFromArray(v.data(), static_cast<int>(v.size()))) items.push_back(item);
    return true;
  });
  if (!s.ok()) return s;
  state->outbox_begin.store(first);
  state->outbox_end.store(state->next_relay);
  for (const v1::OutboxItem& item : items) {
    ++state->stats.items;
    state->stats.bytes += item.has_notice() ? item.notice().ByteSizeLong()
                                            : state->PartSize(item.transfer_id(), item.part());
  }
  s = state->db->Scan("i/", [&](std::string_view k, std::string_view) {
    size_t slash = k.rfind('/');
    uint64_t seq = 0;
    if (slash == std::string_view::npos || slash < 2 || !ParseSuffix(k, slash + 1, 20, &seq)) {
      return true;
    }
    state->inbox_pending[std::string(k.substr(2, slash - 2))].insert(seq);
    return true;
  });
  if (!s.ok()) return s;
  // Items held by a circuit breaker.
  uint64_t lowest = first;  // the lowest relay_sequence queued or held
  s = state->db->Scan(kHeldItemPrefix, [&](std::string_view k, std::string_view v) {
    uint64_t seq = 0;
    if (!ParseSuffix(k, 2, 20, &seq)) {
      spdlog::error("event=held_item_unreadable key={} reason=\"not h/<relay_sequence:020>\"",
                    std::string(k));
      return true;
    }
    lowest = std::min(lowest, seq);
    v1::OutboxItem item;
    std::optional<uint64_t> bytes;
    if (item.ParseFromArray(v.data(), static_cast<int>(v.size())) && !item.transfer_id().empty()) {
      bytes = state->StoredPartSize(item.transfer_id(), item.part());
    }
    state->HoldItem(seq, std::string(v), bytes);
    return true;
  });
  if (!s.ok()) return s;
  // Without m/hub_acked (a store that never had an acknowledgement, or from
  // before it was recorded), everything below the lowest item still queued
  // or held was acknowledged. Held items count: a store whose first items
  // are all held has had none of them acknowledged. HoldOutbox records the
  // counter, so a release (new sequences) cannot mislead this later.
  absl::StatusOr<std::string> acked_value = state->db->Get(kHubAckedKey);
  if (!acked_value.ok() && !absl::IsNotFound(acked_value.status())) return acked_value.status();
  state->hub_acked_recorded = acked_value.ok();
  absl::StatusOr<uint64_t> acked = state->GetCounter(kHubAckedKey, lowest - 1);
  if (!acked.ok()) return acked.status();
  state->hub_acked = *acked;
  // Held notices, in key order (their arrival order is not stored).
  s = state->db->Scan(kHeldPrefix, [&](std::string_view k, std::string_view v) {
    v1::TransferNotice n;
    if (!n.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      spdlog::error(
          "event=held_notice_unreadable key={} action=\"skipped; the source will not "
          "see a DELIVERED step for this transfer until it is acknowledged\"",
          std::string(k));
      return true;
    }
    state->Hold(n);
    return true;
  });
  if (!s.ok()) return s;
  return std::unique_ptr<ExchangeStore>(new ExchangeStore(std::move(state)));
}

// ---- Source side ------------------------------------------------------------

absl::StatusOr<v1::TransferRecord> ExchangeStore::GetTransfer(
    const std::string& transfer_id) const {
  return s_->LoadTransfer(transfer_id);
}

absl::Status ExchangeStore::PutTransfer(const v1::TransferRecord& record) {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->db->Put(TransferKey(record.header().transfer_id()), record.SerializeAsString());
}

absl::StatusOr<uint64_t> ExchangeStore::AllocateSourceSequence() {
  std::lock_guard<std::mutex> lock(s_->mu);
  if (s_->next_source >= s_->source_limit) {
    uint64_t limit = s_->next_source + kSourceBlock;
    if (absl::Status st = s_->db->Put(kSourceLimitKey, absl::StrCat(limit)); !st.ok()) return st;
    s_->source_limit = limit;
  }
  return s_->next_source++;
}

absl::Status ExchangeStore::StageRaw(const v1::TransferRecord& record, uint64_t offset,
                                     std::string_view data) {
  const std::string& id = record.header().transfer_id();
  std::lock_guard<std::mutex> lock(s_->mu);
  uint64_t staged = 0;
  absl::StatusOr<v1::TransferRecord> existing = s_->LoadTransfer(id);
  if (existing.ok()) {
    if (existing->status().state() != v1::RECEIVING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "transfer '", id, "' is no longer receiving (state ",
          v1::TransferState_Name(existing->status().state()), "); ask GetTransfer for its status"));
    }
    staged = existing->status().size();
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  if (offset != staged) {
    return absl::FailedPreconditionError(
        absl::StrCat("transfer '", id, "': data at offset ", offset, " but ", staged,
                     " bytes are staged; resume from offset ", staged));
  }
  v1::TransferRecord r = record;
  r.mutable_status()->set_size(offset + data.size());
  storage::WriteBatch batch;
  if (!data.empty()) batch.Put(RawKey(id, offset), data);
  batch.Put(TransferKey(id), r.SerializeAsString());
  return s_->db->Write(batch);
}

absl::Status ExchangeStore::ReadRaw(
    const std::string& transfer_id,
    const std::function<bool(uint64_t offset, std::string_view data)>& visit) const {
  const std::string prefix = RawPrefix(transfer_id);
  return s_->db->Scan(prefix, [&](std::string_view k, std::string_view v) {
    uint64_t offset = 0;
    if (!ParseSuffix(k, prefix.size(), 20, &offset)) return true;
    return visit(offset, v);
  });
}

absl::StatusOr<std::string> ExchangeStore::ReadRawSegment(const std::string& transfer_id,
                                                          uint64_t offset) const {
  absl::StatusOr<std::string> v = s_->db->Get(RawKey(transfer_id, offset));
  if (absl::IsNotFound(v.status())) {
    return absl::NotFoundError(absl::StrCat("transfer '", transfer_id,
                                            "' has no staged bytes starting at offset ", offset));
  }
  return v;
}

absl::Status ExchangeStore::StagePart(const std::string& transfer_id, uint32_t part,
                                      const v1::Envelope& env) {
  std::string bytes = env.SerializeAsString();
  std::lock_guard<std::mutex> lock(s_->mu);
  if (absl::Status st = s_->db->Put(PartKey(transfer_id, part), bytes); !st.ok()) return st;
  s_->part_sizes[transfer_id][part] = bytes.size();
  return absl::OkStatus();
}

absl::Status ExchangeStore::CommitTransfer(const v1::TransferRecord& record,
                                           std::vector<v1::Envelope> inline_parts, uint32_t parts,
                                           bool to_outbox, const std::string& exporter, int year,
                                           uint64_t persons) {
  std::vector<TransferCommit> one(1);
  one[0] = TransferCommit{.record = record,
                          .inline_parts = std::move(inline_parts),
                          .parts = parts,
                          .to_outbox = to_outbox,
                          .exporter = exporter,
                          .year = year,
                          .persons = persons};
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->Commit(one, /*check_existing=*/false).status();
}

absl::StatusOr<std::vector<std::optional<v1::TransferRecord>>> ExchangeStore::CommitTransfers(
    std::vector<TransferCommit>& commits) {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->Commit(commits, /*check_existing=*/true);
}

uint64_t ExchangeStore::ReservePersons(const std::string& exporter, int year, uint64_t n) {
  std::lock_guard<std::mutex> lock(s_->mu);
  uint64_t& reserved = s_->persons_reserved[{exporter, year}];
  reserved += n;
  return s_->Durable(exporter, year) + reserved;
}

void ExchangeStore::ReleasePersons(const std::string& exporter, int year, uint64_t n) {
  std::lock_guard<std::mutex> lock(s_->mu);
  uint64_t& reserved = s_->persons_reserved[{exporter, year}];
  reserved -= std::min(reserved, n);
}

uint64_t ExchangeStore::PersonsSent(const std::string& exporter, int year) const {
  std::lock_guard<std::mutex> lock(s_->mu);
  uint64_t total = s_->Durable(exporter, year);
  auto it = s_->persons_reserved.find({exporter, year});
  return total + (it == s_->persons_reserved.end() ? 0 : it->second);
}

// ---- Outbox -----------------------------------------------------------------

absl::StatusOr<std::vector<v1::Envelope>> ExchangeStore::ReadOutbox(uint64_t after,
                                                                    size_t max_items,
                                                                    size_t max_bytes) const {
  std::vector<std::pair<uint64_t, v1::OutboxItem>> items;
  const uint64_t end = s_->outbox_end.load();
  for (uint64_t seq = std::max(after + 1, s_->outbox_begin.load());
       seq < end && items.size() < max_items; ++seq) {
    absl::StatusOr<std::string> v = s_->db->Get(OutboxKey(seq));
    if (absl::IsNotFound(v.status())) continue;  // acknowledged meanwhile
    if (!v.ok()) return v.status();
    v1::OutboxItem item;
    if (!item.ParseFromString(*v)) continue;
    items.emplace_back(seq, std::move(item));
  }
  std::vector<v1::Envelope> out;
  size_t bytes = 0;
  for (auto& [seq, item] : items) {
    v1::Envelope env;
    if (item.has_notice()) {
      *env.mutable_notice() = item.notice();
    } else {
      absl::StatusOr<std::string> part = s_->db->Get(PartKey(item.transfer_id(), item.part()));
      if (!part.ok()) {
        return absl::DataLossError(
            absl::StrCat("outbox item ", seq, " names part ", item.part(), " of transfer '",
                         item.transfer_id(), "' which is not stored: ", part.status().message()));
      }
      if (!env.ParseFromString(*part)) {
        return absl::DataLossError(absl::StrCat("sealed part ", item.part(), " of transfer '",
                                                item.transfer_id(), "' does not parse"));
      }
    }
    env.set_relay_sequence(seq);
    size_t size = env.ByteSizeLong();
    if (!out.empty() && (out.size() >= max_items || bytes + size > max_bytes)) break;
    bytes += size;
    out.push_back(std::move(env));
  }
  return out;
}

absl::Status ExchangeStore::AckOutbox(uint64_t through) {
  std::lock_guard<std::mutex> lock(s_->mu);
  storage::WriteBatch batch;
  uint64_t items = 0, bytes = 0;
  std::vector<std::pair<std::string, v1::OutboxItem>> acked;
  const uint64_t last = std::min(through, s_->next_relay - 1);
  for (uint64_t seq = s_->outbox_begin.load(); seq <= last; ++seq) {
    std::string key = OutboxKey(seq);
    absl::StatusOr<std::string> v = s_->db->Get(key);
    if (absl::IsNotFound(v.status())) continue;
    if (!v.ok()) return v.status();
    v1::OutboxItem item;
    (void)item.ParseFromString(*v);
    acked.emplace_back(std::move(key), std::move(item));
  }
  absl::Status st;
  for (const auto& [key, item] : acked) {
    batch.Delete(key);
    ++items;
    if (item.has_notice()) {
      bytes += item.notice().ByteSizeLong();
    } else if (!item.transfer_id().empty()) {
      bytes += s_->PartSize(item.transfer_id(), item.part());
      batch.Delete(PartKey(item.transfer_id(), item.part()));
    }
  }
  if (acked.empty()) return absl::OkStatus();
  const uint64_t hub_acked = std::max(s_->hub_acked, last);
  batch.Put(kHubAckedKey, absl::StrCat(hub_acked));
  // Not synced: if a crash loses this delete, the items are pushed again and
  // the hub, which stored them, drops them by its watermark. Held items are
  // not under o/, so neither they nor their parts are touched here.
  if (st = s_->db->Write(batch, storage::Durability::kBuffered); !st.ok()) return st;
  s_->hub_acked = hub_acked;
  s_->hub_acked_recorded = true;
  s_->outbox_begin.store(std::max(s_->outbox_begin.load(), last + 1));
  s_->stats.items -= std::min(s_->stats.items, items);
  s_->stats.bytes -= std::min(s_->stats.bytes, bytes);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ExchangeStore::RefuseOutgoing(
    const std::vector<std::string>& transfer_ids, const std::string& reason,
    const google::protobuf::Timestamp& at, const TransferAudit& audit_of) {
  std::lock_guard<std::mutex> lock(s_->mu);
  storage::WriteBatch batch;
  std::vector<v1::AuditEvent> events;
  std::vector<std::string> changed;
  std::set<std::string> seen;
  for (const std::string& id : transfer_ids) {
    if (!seen.insert(id).second) continue;  // several slices of one transfer
    absl::StatusOr<v1::TransferRecord> r = s_->LoadTransfer(id);
    if (absl::IsNotFound(r.status())) continue;
    if (!r.ok()) return r.status();
    if (r->status().state() != v1::IN_FLIGHT) continue;
    r->mutable_status()->set_state(v1::DENIED);
    r->mutable_status()->set_detail(absl::StrCat("undeliverable: ", reason));
    (*r->mutable_status()->mutable_steps())["REFUSED_BY_HUB"] = at;
    Step(*r, v1::DENIED) = at;
    batch.Put(TransferKey(id), r->SerializeAsString());
    if (audit_of) events.push_back(audit_of(*r));
    changed.push_back(id);
  }
  if (changed.empty()) return changed;
  if (absl::Status st = s_->Write(batch, std::move(events)); !st.ok()) return st;
  return changed;
}

absl::Status ExchangeStore::EnqueueNotice(const v1::TransferNotice& notice) {
  return EnqueueNotices({notice});
}

absl::Status ExchangeStore::EnqueueNotices(const std::vector<v1::TransferNotice>& notices) {
  if (notices.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(s_->mu);
  storage::WriteBatch batch;
  uint64_t next = s_->next_relay, bytes = 0;
  for (const v1::TransferNotice& notice : notices) State::StageNotice(notice, batch, &next, &bytes);
  batch.Put(kRelayNextKey, absl::StrCat(next));
  if (absl::Status st = s_->db->Write(batch); !st.ok()) return st;
  s_->Appended(next, bytes);
  return absl::OkStatus();
}

bool ExchangeStore::WaitForOutbox(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(s_->mu);
  return s_->outbox_cv.wait_for(lock, timeout, [&] { return s_->next_relay - 1 > after; });
}

OutboxStats ExchangeStore::outbox() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->stats;
}

uint64_t ExchangeStore::LastRelaySequence() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->next_relay - 1;
}

uint64_t ExchangeStore::FirstOutboxSequence() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  // AckOutbox deletes a prefix and moves outbox_begin past it; held (and
  // released) items leave gaps above it, which are skipped here.
  const uint64_t end = s_->outbox_end.load();
  for (uint64_t seq = s_->outbox_begin.load(); seq < end; ++seq) {
    if (s_->held_items.contains(seq)) continue;
    absl::StatusOr<std::string> v = s_->db->Get(OutboxKey(seq));
    if (v.ok()) return seq;
    if (!absl::IsNotFound(v.status())) return seq;  // unreadable, but there
  }
  return 0;
}

uint64_t ExchangeStore::HubAckedThrough() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->hub_acked;
}

absl::StatusOr<size_t> ExchangeStore::RenumberOutboxAbove(uint64_t floor) {
  // Under `mu`, which every sequence assignment holds: no commit, notice or
  // acknowledgement can interleave with the renumbering.
  std::lock_guard<std::mutex> lock(s_->mu);
  // Never below what this store already assigned either: a sequence is
  // never handed out twice, whatever `floor` the caller passes.
  const uint64_t base = std::max(floor, s_->next_relay - 1);
  std::vector<std::string> values;  // the outbox items, in relay_sequence order
  std::vector<std::string> old_keys;
  const uint64_t end = s_->outbox_end.load();
  for (uint64_t seq = s_->outbox_begin.load(); seq < end; ++seq) {
    std::string key = OutboxKey(seq);
    absl::StatusOr<std::string> v = s_->db->Get(key);
    if (absl::IsNotFound(v.status())) continue;
    if (!v.ok()) return v.status();
    values.push_back(*std::move(v));
    old_keys.push_back(std::move(key));
  }
  if (base > std::numeric_limits<uint64_t>::max() - 1 - values.size()) {
    return absl::OutOfRangeError(absl::StrCat(
        "cannot renumber ", values.size(), " outbox items above relay_sequence ", floor,
        ": the sequence would overflow; the hub's watermark for this edge "
        "is not plausible, check the hub's data_dir/relay"));
  }
  // Deletes first: the new range may overlap the old one.
  storage::WriteBatch batch;
  for (const std::string& key : old_keys) batch.Delete(key);
  uint64_t next = base + 1;
  for (const std::string& value : values) batch.Put(OutboxKey(next++), value);
  batch.Put(kRelayNextKey, absl::StrCat(next));
  if (absl::Status st = s_->db->Write(batch); !st.ok()) return st;  // synced
  s_->next_relay = next;
  // begin before end: ReadOutbox loads end, then begin, so it never pairs
  // the new end with the old begin (a walk over the whole gap).
  s_->outbox_begin.store(base + 1);
  s_->outbox_end.store(next);
  s_->outbox_cv.notify_all();
  return values.size();
}

// ---- Held by a circuit breaker ----------------------------------------------

absl::StatusOr<size_t> ExchangeStore::HoldOutbox(const std::vector<uint64_t>& relay_sequences) {
  const std::set<uint64_t> wanted(relay_sequences.begin(), relay_sequences.end());
  std::lock_guard<std::mutex> lock(s_->mu);
  storage::WriteBatch batch;
  struct Moved {
    std::string value;
    std::optional<uint64_t> bytes;
  };
  std::map<uint64_t, Moved> moved;  // by relay_sequence
  uint64_t bytes = 0;
  auto hold = [&](uint64_t seq, std::string value, const std::string& id, uint32_t part) {
    std::optional<uint64_t> size = s_->StoredPartSize(id, part);
    bytes += size.value_or(0);
    batch.Delete(OutboxKey(seq));
    batch.Put(HeldItemKey(seq), value);
    moved[seq] = Moved{std::move(value), size};
  };
  const uint64_t begin = s_->outbox_begin.load(), end = s_->outbox_end.load();
  for (uint64_t seq : wanted) {
    if (seq < begin || seq >= end) continue;  // acknowledged, or never assigned
    if (moved.contains(seq)) continue;        // held with an earlier part of its transfer
    absl::StatusOr<std::string> v = s_->db->Get(OutboxKey(seq));
    if (absl::IsNotFound(v.status())) continue;  // acknowledged or held already
    if (!v.ok()) return v.status();
    v1::OutboxItem item;
    if (!item.ParseFromString(*v) || item.has_notice() || item.transfer_id().empty()) continue;
    hold(seq, *std::move(v), item.transfer_id(), item.part());
    // A transfer is held whole from here on. Its parts were appended by one
    // commit, with consecutive relay sequences (and a release keeps them
    // so), so its later parts still queued follow this one: walk them while
    // they continue the transfer. Left queued, the pusher could send them
    // after a release of this part had moved it behind them, and the
    // destination refuses a slice after a gap.
    uint32_t part = item.part();
    for (uint64_t next = seq + 1; next < end; ++next) {
      absl::StatusOr<std::optional<std::string>> later =
          s_->OutboxPartAt(next, item.transfer_id(), ++part);
      if (!later.ok()) return later.status();
      if (!*later) break;
      hold(next, **std::move(later), item.transfer_id(), part);
    }
  }
  if (moved.empty()) return 0;
  // A release gives held items new sequences: from then on the items below
  // the outbox are no longer all acknowledged, so Open must not derive the
  // acknowledged sequence from them (see Open).
  if (!s_->hub_acked_recorded) batch.Put(kHubAckedKey, absl::StrCat(s_->hub_acked));
  if (absl::Status st = s_->db->Write(batch); !st.ok()) return st;  // synced
  s_->hub_acked_recorded = true;
  for (auto& [seq, m] : moved) s_->HoldItem(seq, std::move(m.value), m.bytes);
  // outbox_begin stays: the hub has not acknowledged these sequences, and
  // readers skip the gaps.
  s_->stats.items -= std::min<uint64_t>(s_->stats.items, moved.size());
  s_->stats.bytes -= std::min(s_->stats.bytes, bytes);
  return moved.size();
}

absl::StatusOr<size_t> ExchangeStore::ReleaseHeld(
    const std::function<bool(const v1::EnvelopeHeader&)>& release) {
  // A transfer is released whole or not at all. Released part by part, a
  // transfer with an unreadable part k sent parts 0..k-1 ahead; the pusher
  // held those again (HasHeldParts) at higher sequences, and once part k
  // was restored a walk in sequence order sent k.. before 0..k-1, which the
  // destination refuses after the gap.
  //
  // 1. Under the lock: each transfer's held items, by part (the lowest
  // part's header is read), and its items whose part was not readable when
  // they were held (checked again below).
  struct Candidate {
    uint64_t first_seq = 0;  // its lowest held relay_sequence (transfer order)
    uint64_t header_seq = 0;
    uint32_t header_part = 0;                              // its lowest held part
    std::vector<std::pair<uint64_t, uint32_t>> unchecked;  // (relay_sequence, part)
  };
  std::map<std::string, Candidate> candidates;
  std::vector<uint64_t> unparsed;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    for (const auto& [seq, held] : s_->held_items) {
      if (held.transfer_id.empty()) {
        unparsed.push_back(seq);
        continue;
      }
      auto [it, fresh] = candidates.try_emplace(held.transfer_id);
      Candidate& c = it->second;
      if (fresh) c.first_seq = seq;  // held_items is in sequence order
      if (fresh || held.part < c.header_part) {
        c.header_seq = seq;
        c.header_part = held.part;
      }
      if (!held.bytes) c.unchecked.emplace_back(seq, held.part);
    }
  }
  auto unreadable = [](uint64_t seq, const std::string& id, const std::string& why) {
    spdlog::error(
        "event=held_item_unreadable relay_sequence={} transfer_id={} reason=\"{}\" "
        "action=\"left held (h/ in data_dir/exchange) with every other held part of its "
        "transfer, not dropped; restore the part or remove the items by hand\"",
        seq, id, why);
  };
  for (uint64_t seq : unparsed) unreadable(seq, "", "the held item does not parse");

  // 2. Without the lock (reading is I/O, and `release` is the gateway's
  // code): one header per transfer, from its lowest held part, and the
  // parts not readable when held. Any of them unreadable keeps the whole
  // transfer held.
  struct Chosen {
    std::string id;
    uint64_t first_seq = 0;
    std::map<uint64_t, uint64_t> sizes;  // unchecked items whose part is readable now
  };
  std::vector<Chosen> chosen;
  for (auto& [id, c] : candidates) {
    v1::Envelope env;
    v1::EnvelopeHeader header;
    absl::StatusOr<std::string> part = s_->db->Get(PartKey(id, c.header_part));
    if (!part.ok()) {
      unreadable(
          c.header_seq, id,
          absl::StrCat("its part ", c.header_part, " is not readable: ", part.status().message()));
      continue;
    }
    if (!env.ParseFromString(*part) || !header.ParseFromString(env.header())) {
      unreadable(c.header_seq, id,
                 absl::StrCat("its part ", c.header_part,
                              " or that part's envelope header does not parse"));
      continue;
    }
    if (!release(header)) continue;
    Chosen ch{.id = id, .first_seq = c.first_seq};
    bool readable = true;
    for (const auto& [seq, p] : c.unchecked) {
      if (p == c.header_part) {
        ch.sizes[seq] = part->size();
        continue;
      }
      absl::StatusOr<std::string> other = s_->db->Get(PartKey(id, p));
      if (!other.ok()) {
        unreadable(seq, id,
                   absl::StrCat("its part ", p, " is not readable: ", other.status().message()));
        readable = false;
        break;
      }
      ch.sizes[seq] = other->size();
    }
    if (readable) chosen.push_back(std::move(ch));
  }
  if (chosen.empty()) return 0;
  std::sort(chosen.begin(), chosen.end(),
            [](const Chosen& a, const Chosen& b) { return a.first_seq < b.first_seq; });

  // 3. Under the lock, one synced write. Each chosen transfer's held items
  // as they are now (a concurrent release may have moved some, the pusher
  // may have held more), in part order: parts held again after a partial
  // release (a store written before releases were whole) have higher
  // sequences than the parts after them.
  std::lock_guard<std::mutex> lock(s_->mu);
  struct HeldPart {
    uint32_t part;
    uint64_t seq;
    bool operator<(const HeldPart& o) const { return part != o.part ? part < o.part : seq < o.seq; }
  };
  std::map<std::string, std::vector<HeldPart>> held_of;
  for (const Chosen& ch : chosen) held_of[ch.id];
  for (const auto& [seq, held] : s_->held_items) {
    auto it = held_of.find(held.transfer_id);
    if (it != held_of.end()) it->second.push_back({held.part, seq});
  }
  storage::WriteBatch batch;
  std::vector<uint64_t> released;
  uint64_t requeued = 0;  // still queued parts moved behind their released parts
  uint64_t next = s_->next_relay, bytes = 0;
  for (const Chosen& ch : chosen) {
    std::vector<HeldPart>& held = held_of[ch.id];
    if (held.empty()) continue;
    std::sort(held.begin(), held.end());
    // Plan the transfer's moves first: they join the batch only if every
    // part from its lowest held one on is there, held (and readable) or
    // still queued right after the part before it (HoldOutbox holds a
    // transfer whole, but a store written before it did may not be), up
    // to its last held part and the queued parts that continue it.
    struct Move {
      uint64_t from;  // relay_sequence
      bool is_held;
      const std::string* value;
      std::string queued;  // the value of a still queued part
      uint64_t bytes = 0;
    };
    std::vector<Move> moves;
    std::optional<std::pair<uint64_t, std::string>> fault;  // (relay_sequence, why)
    size_t h = 0;
    uint64_t last_seq = held[0].seq;
    for (uint32_t expected = held[0].part;; ++expected) {
      if (h < held.size() && held[h].part == expected) {
        const State::HeldItem& item = s_->held_items.at(held[h].seq);
        std::optional<uint64_t> size = item.bytes;
        if (!size) {
          if (auto c = ch.sizes.find(held[h].seq); c != ch.sizes.end()) size = c->second;
        }
        if (!size) {
          fault.emplace(held[h].seq, absl::StrCat("its part ", expected, " is not stored"));
          break;
        }
        moves.push_back(
            {.from = held[h].seq, .is_held = true, .value = &item.value, .bytes = *size});
        last_seq = held[h].seq;
        ++h;
        continue;
      }
      if (h < held.size() && held[h].part < expected) {
        fault.emplace(held[h].seq, absl::StrCat("its part ", held[h].part, " is held twice"));
        break;
      }
      absl::StatusOr<std::optional<std::string>> queued =
          s_->OutboxPartAt(last_seq + 1, ch.id, expected);
      if (!queued.ok()) return queued.status();
      if (*queued) {
        moves.push_back({.from = last_seq + 1,
                         .is_held = false,
                         .value = nullptr,
                         .queued = **std::move(queued)});
        ++last_seq;
        continue;
      }
      if (h < held.size()) {
        fault.emplace(held[h].seq,
                      absl::StrCat("its part ", expected,
                                   " is neither held nor queued before held part ", held[h].part));
      }
      break;
    }
    if (fault) {
      unreadable(fault->first, ch.id, fault->second);
      continue;
    }
    for (Move& m : moves) {
      if (m.is_held) {
        batch.Delete(HeldItemKey(m.from));
        batch.Put(OutboxKey(next++), *m.value);
        bytes += m.bytes;
        released.push_back(m.from);
      } else {
        batch.Delete(OutboxKey(m.from));
        batch.Put(OutboxKey(next++), m.queued);
        ++requeued;
      }
    }
  }
  if (released.empty()) return 0;
  batch.Put(kRelayNextKey, absl::StrCat(next));
  if (absl::Status st = s_->db->Write(batch); !st.ok()) return st;  // synced
  for (uint64_t seq : released) s_->UnholdItem(seq);
  if (requeued > 0) {
    spdlog::warn(
        "event=held_transfer_requeued count={} detail=\"later parts of released transfers were "
        "still queued below them: moved behind them, so each transfer goes in order\"",
        requeued);
  }
  // Requeued items were counted in the outbox already.
  s_->stats.items -= std::min(s_->stats.items, requeued);
  s_->Appended(next, bytes);
  return released.size();
}

bool ExchangeStore::HasHeldParts(const std::string& transfer_id) const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->held_transfers.contains(transfer_id);
}

// ---- Inbox (relay link) -----------------------------------------------------

uint64_t ExchangeStore::PulledThrough() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->watermark;
}

absl::StatusOr<std::vector<std::string>> ExchangeStore::StoreIncoming(
    const std::vector<IncomingPart>& parts, const std::string& notice_from_edge,
    const google::protobuf::Timestamp& at, const DeliveryAudit& audit_of) {
  std::lock_guard<std::mutex> lock(s_->mu);
  storage::WriteBatch batch;
  std::vector<v1::AuditEvent> events;
  // Working copies: several slices (or notices) of one transfer may share a batch.
  std::map<std::string, v1::DeliveryRecord> deliveries;
  std::map<std::string, v1::TransferRecord> transfers;
  std::vector<std::string> completed;
  std::vector<std::pair<std::string, uint64_t>> new_heads;
  std::vector<v1::TransferNotice> held;  // NOTICE_DELIVERED, held back (dn/)
  uint64_t next_inbox = s_->next_inbox;
  uint64_t watermark = s_->watermark;
  for (const IncomingPart& part : parts) {
    watermark = std::max(watermark, part.hub_sequence);
    const v1::Envelope& env = part.envelope;
    if (env.has_notice()) {
      const v1::TransferNotice& n = env.notice();
      auto it = transfers.find(n.transfer_id());
      if (it == transfers.end()) {
        absl::StatusOr<v1::TransferRecord> r = s_->LoadTransfer(n.transfer_id());
        if (!r.ok()) continue;  // unknown here (or unreadable): nothing to update
        it = transfers.emplace(n.transfer_id(), *std::move(r)).first;
      }
      v1::TransferRecord& r = it->second;
      // Only the transfer's destination edge may report on it: the hub checks
      // that a notice's from_edge is its sender, so any other edge's notice
      // about this transfer is a forgery (or a mix-up) and changes nothing.
      if (r.to_edge().empty() || n.from_edge() != r.to_edge()) {
        spdlog::warn(
            "event=notice_ignored transfer_id={} from_edge={} destination={} reason=\"not from "
            "the transfer's destination edge\"",
            n.transfer_id(), n.from_edge(), r.to_edge());
        continue;
      }
      switch (n.kind()) {
        case v1::NOTICE_DELIVERED:
          if (r.status().state() != v1::ACKNOWLEDGED) r.mutable_status()->set_state(v1::DELIVERED);
          Step(r, v1::DELIVERED) = n.at();
          break;
        case v1::NOTICE_ACKNOWLEDGED:
          r.mutable_status()->set_state(v1::ACKNOWLEDGED);
          Step(r, v1::ACKNOWLEDGED) = n.at();
          // It also stands for the NOTICE_DELIVERED the destination held back.
          if (n.has_delivered_at() &&
              !r.status().steps().contains(v1::TransferState_Name(v1::DELIVERED))) {
            Step(r, v1::DELIVERED) = n.delivered_at();
          }
          break;
        case v1::NOTICE_REFUSED:
          r.mutable_status()->set_state(v1::DENIED);
          r.mutable_status()->set_detail(n.detail());
          (*r.mutable_status()->mutable_steps())["REFUSED_AT_DESTINATION"] = n.at();
          Step(r, v1::DENIED) = n.at();
          break;
        default:
          continue;
      }
      continue;
    }
    v1::EnvelopeHeader header;
    if (!header.ParseFromString(env.header())) {
      return absl::InvalidArgumentError(absl::StrCat("relay item at hub sequence ",
                                                     part.hub_sequence,
                                                     " is neither a notice nor an envelope "
                                                     "with a parseable header"));
    }
    const std::string& id = header.transfer_id();
    if (!IsValidTransferId(id)) {
      return absl::InvalidArgumentError(absl::StrCat("envelope at hub sequence ", part.hub_sequence,
                                                     " has transfer id '", id,
                                                     "', not 16-64 chars [A-Za-z0-9._-]"));
    }
    auto it = deliveries.find(id);
    if (it == deliveries.end()) {
      absl::StatusOr<v1::DeliveryRecord> d = s_->LoadDelivery(id);
      if (d.ok()) {
        it = deliveries.emplace(id, *std::move(d)).first;
      } else if (absl::IsNotFound(d.status())) {
        v1::DeliveryRecord fresh;
        fresh.set_envelope_header(env.header());
        fresh.set_to_enterprise(header.to_enterprise());
        it = deliveries.emplace(id, std::move(fresh)).first;
      } else {
        return d.status();
      }
    }
    v1::DeliveryRecord& d = it->second;
    if (d.envelope_header() != env.header()) {
      return absl::FailedPreconditionError(
          absl::StrCat("transfer '", id,
                       "' arrived with a header different from the one stored "
                       "(hub sequence ",
                       part.hub_sequence, "): a second transfer with this id"));
    }
    uint32_t first = env.first_chunk();
    uint32_t n = static_cast<uint32_t>(env.sealed_chunks_size());
    if (d.complete() || uint64_t{first} + n <= d.chunks_stored()) continue;  // duplicate
    if (first > d.chunks_stored()) {
      return absl::FailedPreconditionError(
          absl::StrCat("transfer '", id, "': slice starts at chunk ", first, " but only ",
                       d.chunks_stored(), " chunks are stored; the chunks between are missing"));
    }
    if (uint64_t{first} + n > header.chunks()) {
      return absl::InvalidArgumentError(absl::StrCat("transfer '", id, "': slice ends at chunk ",
                                                     uint64_t{first} + n, " beyond the header's ",
                                                     header.chunks(), " chunks"));
    }
    // A slice overlapping the stored ones contributes only its new chunks.
    for (uint32_t i = d.chunks_stored() - first; i < n; ++i) {
      const std::string& chunk = env.sealed_chunks(static_cast<int>(i));
      if (chunk.size() < kTagSize) {
        return absl::InvalidArgumentError(
            absl::StrCat("transfer '", id, "': chunk ", first + i, " is shorter than its tag"));
      }
      batch.Put(ChunkKey(id, first + i), chunk);
      d.set_bytes_stored(d.bytes_stored() + chunk.size() - kTagSize);
    }
    d.set_chunks_stored(first + n);
    d.set_hub_sequence(part.hub_sequence);
    if (d.chunks_stored() == header.chunks()) {
      d.set_complete(true);
      d.set_inbox_sequence(next_inbox++);
      batch.Put(InboxKey(d.to_enterprise(), d.inbox_sequence()), id);
      completed.push_back(id);
      new_heads.emplace_back(d.to_enterprise(), d.inbox_sequence());
      if (audit_of) events.push_back(audit_of(d));
      if (!notice_from_edge.empty() && !header.from_edge().empty()) {
        v1::TransferNotice notice;
        notice.set_transfer_id(id);
        notice.set_from_edge(notice_from_edge);
        notice.set_to_edge(header.from_edge());
        notice.set_kind(v1::NOTICE_DELIVERED);
        *notice.mutable_at() = at;
        notice.set_detail(
            absl::StrCat("in the inbox of ", header.to_enterprise(), " at ", notice_from_edge));
        batch.Put(HeldKey(id), notice.SerializeAsString());
        held.push_back(std::move(notice));
      }
    }
  }
  for (const auto& [id, d] : deliveries) batch.Put(DeliveryKey(id), d.SerializeAsString());
  for (const auto& [id, r] : transfers) batch.Put(TransferKey(id), r.SerializeAsString());
  if (next_inbox != s_->next_inbox) batch.Put(kInboxNextKey, absl::StrCat(next_inbox));
  batch.Put(kHubWatermarkKey, absl::StrCat(watermark));
  if (absl::Status st = s_->Write(batch, std::move(events)); !st.ok()) return st;
  for (const v1::TransferNotice& notice : held) s_->Hold(notice);
  s_->next_inbox = next_inbox;
  s_->watermark = watermark;
  for (const auto& [enterprise, seq] : new_heads) s_->inbox_pending[enterprise].insert(seq);
  if (!new_heads.empty()) s_->inbox_cv.notify_all();
  return completed;
}

absl::StatusOr<v1::DeliveryRecord> ExchangeStore::GetDelivery(
    const std::string& transfer_id) const {
  return s_->LoadDelivery(transfer_id);
}

// ---- Inbox (Exchange service) -----------------------------------------------

absl::StatusOr<std::vector<v1::DeliveryRecord>> ExchangeStore::PendingDeliveries(
    const std::string& enterprise, uint64_t after, size_t max) const {
  // The pending inbox sequences come from memory, each id by key: a scan of
  // i/<enterprise>/ would walk the tombstones of every acknowledged delivery.
  std::vector<uint64_t> seqs;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto pending = s_->inbox_pending.find(enterprise);
    if (pending != s_->inbox_pending.end()) {
      for (auto it = pending->second.upper_bound(after);
           it != pending->second.end() && seqs.size() < max; ++it) {
        seqs.push_back(*it);
      }
    }
  }
  std::vector<std::string> ids;
  for (uint64_t seq : seqs) {
    absl::StatusOr<std::string> id = s_->db->Get(InboxKey(enterprise, seq));
    if (absl::IsNotFound(id.status())) continue;  // acknowledged meanwhile
    if (!id.ok()) return id.status();
    ids.push_back(*std::move(id));
  }
  std::vector<v1::DeliveryRecord> out;
  for (const std::string& id : ids) {
    absl::StatusOr<v1::DeliveryRecord> d = s_->LoadDelivery(id);
    if (!d.ok()) continue;  // acknowledged concurrently and cleaned up
    if (d->complete() && !d->acknowledged() && d->to_enterprise() == enterprise) {
      out.push_back(*std::move(d));
    }
  }
  return out;
}

absl::StatusOr<std::string> ExchangeStore::ReadChunk(const std::string& transfer_id,
                                                     uint32_t index) const {
  absl::StatusOr<std::string> v = s_->db->Get(ChunkKey(transfer_id, index));
  if (absl::IsNotFound(v.status())) {
    return absl::NotFoundError(
        absl::StrCat("chunk ", index, " of transfer '", transfer_id, "' is not stored"));
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> ExchangeStore::Acknowledge(
    const std::string& enterprise, const std::vector<std::string>& transfer_ids,
    const std::string& notice_from_edge, const google::protobuf::Timestamp& at,
    const DeliveryAudit& audit_of) {
  std::lock_guard<std::mutex> lock(s_->mu);
  storage::WriteBatch batch;
  std::vector<v1::AuditEvent> events;
  std::vector<std::string> acked;
  std::set<std::string> seen;
  uint64_t next_relay = s_->next_relay;
  uint64_t notice_bytes = 0;
  std::vector<uint64_t> acked_seqs;
  std::vector<std::string> unheld;  // held NOTICE_DELIVERED replaced by the ACKNOWLEDGED
  for (const std::string& id : transfer_ids) {
    if (!seen.insert(id).second) continue;
    absl::StatusOr<v1::DeliveryRecord> d = s_->LoadDelivery(id);
    if (!d.ok()) {
      if (absl::IsNotFound(d.status())) continue;
      return d.status();
    }
    if (d->to_enterprise() != enterprise || !d->complete() || d->acknowledged()) continue;
    d->set_acknowledged(true);
    for (uint32_t i = 0; i < d->chunks_stored(); ++i) batch.Delete(ChunkKey(id, i));
    batch.Delete(InboxKey(enterprise, d->inbox_sequence()));
    acked_seqs.push_back(d->inbox_sequence());
    batch.Put(DeliveryKey(id), d->SerializeAsString());
    acked.push_back(id);
    if (audit_of) events.push_back(audit_of(*d));
    if (!notice_from_edge.empty()) {
      v1::EnvelopeHeader h;
      (void)h.ParseFromString(d->envelope_header());
      v1::TransferNotice n;
      n.set_transfer_id(id);
      n.set_from_edge(notice_from_edge);
      n.set_to_edge(h.from_edge());
      n.set_kind(v1::NOTICE_ACKNOWLEDGED);
      *n.mutable_at() = at;
      // Its NOTICE_DELIVERED was not sent yet: this notice stands for both.
      if (auto held = s_->held_by_id.find(id); held != s_->held_by_id.end()) {
        *n.mutable_delivered_at() = s_->held.at(held->second).at();
        batch.Delete(HeldKey(id));
        unheld.push_back(id);
      }
      State::StageNotice(n, batch, &next_relay, &notice_bytes);
    }
  }
  if (acked.empty()) return acked;
  if (next_relay != s_->next_relay) batch.Put(kRelayNextKey, absl::StrCat(next_relay));
  if (absl::Status st = s_->Write(batch, std::move(events)); !st.ok()) return st;
  for (uint64_t seq : acked_seqs) s_->inbox_pending[enterprise].erase(seq);
  for (const std::string& id : unheld) s_->Unhold(id);
  s_->Appended(next_relay, notice_bytes);
  return acked;
}

absl::StatusOr<size_t> ExchangeStore::ReleaseHeldNotices(
    const google::protobuf::Timestamp& held_before) {
  std::lock_guard<std::mutex> lock(s_->mu);
  storage::WriteBatch batch;
  std::vector<std::string> ids;
  uint64_t next = s_->next_relay, bytes = 0;
  for (const auto& [order, notice] : s_->held) {
    if (!(notice.at() < held_before)) break;  // ordered by `at`
    State::StageNotice(notice, batch, &next, &bytes);
    batch.Delete(HeldKey(notice.transfer_id()));
    ids.push_back(notice.transfer_id());
  }
  if (ids.empty()) return 0;
  batch.Put(kRelayNextKey, absl::StrCat(next));
  if (absl::Status st = s_->db->Write(batch); !st.ok()) return st;  // synced
  for (const std::string& id : ids) s_->Unhold(id);
  s_->Appended(next, bytes);
  return ids.size();
}

size_t ExchangeStore::HeldNotices() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->held.size();
}

std::optional<google::protobuf::Timestamp> ExchangeStore::OldestHeldNotice() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  if (s_->held.empty()) return std::nullopt;
  return s_->held.begin()->second.at();
}

bool ExchangeStore::WaitForInbox(const std::string& enterprise, uint64_t after,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(s_->mu);
  return s_->inbox_cv.wait_for(lock, timeout, [&] {
    auto it = s_->inbox_pending.find(enterprise);
    return it != s_->inbox_pending.end() && !it->second.empty() && *it->second.rbegin() > after;
  });
}

}  // namespace beibu::edge
