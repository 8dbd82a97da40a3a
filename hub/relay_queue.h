// The hub's store-and-forward queues (issue 5): one queue per destination
// edge, filled by the source edges' Push streams and drained by the
// destination's Pull stream. Everything lives in the relay's own RocksDB
// (data_dir/relay) and every change is one synced, atomic write, so what the
// hub acknowledged survives kill -9 and power loss.
//
// Key layout (all integers unsigned 64-bit big-endian, so keys sort by them;
// the NUL after an id keeps "a" from matching the prefix of "ab": Enqueue
// refuses ids that contain NUL):
//
//   q/<dest>\0<hub_sequence>  -> u64 arrival (Unix ms) || serialized v1.Envelope
//   d/<dest>                  -> u64 last hub_sequence assigned || u64 items ||
//                                u64 bytes  (kept after the queue drains, so a
//                                hub_sequence is never reused, even across
//                                restarts)
//   w/<source>                -> u64 watermark: the last relay_sequence stored
//                                (or answered undeliverable) from that source
//   u/<source>\0<relay_sequence> -> serialized v1.UndeliverableItem, until the
//                                source pushes beyond it
//   k/<edge>\0<key_id>        -> serialized v1.EpochKey (EpochKeyRegistry)
//
// "bytes" counts the serialized envelopes (what Pull sends), not RocksDB
// overhead.
//
// Audit: with a journal, the relay's audit events (transfer.relayed) are
// staged in the enqueue's own synced write, so queueing a batch costs one
// fsync and its events cannot be lost between two writes. Ack's deletes are
// not synced: a lost delete makes the hub send items again, which the
// destination drops by its watermark.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_journal.h"
#include "beibu/storage/db.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::hub {

struct RelayLimits {
  uint64_t max_queue_bytes = uint64_t{1} << 30;  // per destination
  uint64_t max_queue_items = 1000000;            // per destination
};

// One accepted item on its way into a destination queue.
struct RelayItem {
  std::string destination;
  v1::Envelope envelope;  // relay_sequence set (the source's outbox position)
};

// One queued item on its way out.
struct QueuedItem {
  uint64_t hub_sequence = 0;
  uint64_t arrived_ms = 0;
  std::string envelope;  // serialized v1.Envelope, exactly as pushed
};

struct QueueDepth {
  std::string destination;
  uint64_t items = 0;
  uint64_t bytes = 0;
  uint64_t oldest_ms = 0;  // arrival of the lowest queued item; 0 when empty
  uint64_t last_hub_sequence = 0;
};

class RelayQueue {
 public:
  // Loads the depth counters and watermarks of the relay database `db`
  // (not owned; must outlive the queue). `journal` (not owned, may be null)
  // is an audit journal on the same `db`. DATA_LOSS if a record is corrupt.
  static absl::StatusOr<std::unique_ptr<RelayQueue>> Open(storage::Db* db, RelayLimits limits,
                                                          std::function<uint64_t()> now_ms = {},
                                                          audit::AuditJournal* journal = nullptr);

  // The last relay_sequence stored from `source` (0 if none).
  uint64_t Watermark(const std::string& source) const;

  // Called (under the queue's lock, so in the same order as the writes) with
  // the items about to be stored, after deduplication and before the write;
  // returns the audit events to stage in the write (the journal's), or an
  // error that aborts the enqueue.
  using BeforeCommit = std::function<absl::StatusOr<std::vector<v1::AuditEvent>>(
      const std::vector<const RelayItem*>& accepted)>;
  // Called when an enqueue starts waiting for room (once per wait).
  using OnWait = std::function<void(const QueueDepth& full)>;

  // Stores `items` (relay_sequence strictly increasing) from `source` in one
  // synced write: items at or below the source's watermark are skipped (a
  // retried batch from a concurrent stream), the others get the next
  // hub_sequences of their destination queues, and the watermark becomes
  // the last stored relay_sequence. When the write would take a destination
  // over its limits, waits for Ack to make room (a queue that is empty always
  // takes one batch, so an oversized batch cannot wait forever), checking
  // `give_up` at least every 100 ms: CANCELLED once it returns true, nothing
  // stored. Returns the number of items stored.
  absl::StatusOr<size_t> Enqueue(const std::string& source, const std::vector<RelayItem>& items,
                                 const std::function<bool()>& give_up,
                                 const BeforeCommit& before_commit = {},
                                 const OnWait& on_wait = {});

  // Records items of `source` acknowledged as undeliverable (their
  // destination cannot take them), in one synced write with the watermark
  // raised to `through` (never lowered): the source drops them on that ack,
  // so the watermark it learns next time must cover them, and if the ack is
  // lost and the source pushes them again, Undeliverable() gives the same
  // answer instead of a silent "already stored".
  absl::Status RecordUndeliverable(const std::string& source,
                                   const std::vector<v1::UndeliverableItem>& items,
                                   uint64_t through);
  // The undeliverable answer recorded for `source`'s `relay_sequence`, if any.
  std::optional<v1::UndeliverableItem> Undeliverable(const std::string& source,
                                                     uint64_t relay_sequence) const;
  // Forgets `source`'s undeliverable records below `relay_sequence`: a
  // source pushes again from its oldest unacknowledged item, so it has seen
  // the answers below its first push of a stream.
  absl::Status ForgetUndeliverable(const std::string& source, uint64_t relay_sequence);

  // Up to `max_items` queued items of `destination` with hub_sequence >
  // `after`, in order, stopping before `max_bytes` is exceeded (but always at
  // least one item when there is one).
  absl::StatusOr<std::vector<QueuedItem>> Read(const std::string& destination, uint64_t after,
                                               size_t max_items, uint64_t max_bytes) const;

  // Deletes every queued item of `destination` with hub_sequence <= through
  // in one synced write and wakes enqueuers waiting for room. Returns the
  // number of items deleted (0 for a repeated ack).
  absl::StatusOr<size_t> Ack(const std::string& destination, uint64_t through);

  // For a relay store that went back in time (restored from a backup, or
  // lost): `destination` reports that it stored hub sequences up to
  // `through`, beyond the last one this queue assigned, and would drop ours
  // at or below it as duplicates. Gives every queued item of `destination` a
  // new hub_sequence above `through`, in the same order, and moves its
  // counter past them, in one synced write; later items follow. Returns how
  // many items were renumbered; 0 and nothing written when `through` is not
  // beyond the last assigned hub_sequence. INVALID_ARGUMENT when `through`
  // plus the queue's items would pass 2^62: a broken edge's huge ack must not
  // make the sequence arithmetic wrap.
  absl::StatusOr<size_t> RenumberAbove(const std::string& destination, uint64_t through);

  // Blocks until the queues change (an enqueue or an ack) after `seen`, or
  // `timeout` passes; returns the current change counter.
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;
  uint64_t changes() const;
  // Wakes every waiter (shutdown, a stream ending).
  void Notify();

  // Depths of every queue that holds items or ever held one.
  std::vector<QueueDepth> Depths() const;
  QueueDepth Depth(const std::string& destination) const;

  const RelayLimits& limits() const { return limits_; }
  // Enqueues waiting for room now (backpressure in effect).
  size_t waiting() const;

 private:
  struct Meta {
    uint64_t last_hub_sequence = 0;
    uint64_t items = 0;
    uint64_t bytes = 0;
    uint64_t oldest_ms = 0;
  };
  RelayQueue(storage::Db* db, RelayLimits limits, std::function<uint64_t()> now_ms,
             audit::AuditJournal* journal)
      : db_(db), journal_(journal), limits_(limits), now_ms_(std::move(now_ms)) {}
  absl::Status Load();
  // The oldest hub sequence still queued for `destination` (mu_ held).
  uint64_t FirstLocked(const std::string& destination) const;
  // Arrival time of the lowest queued item of `destination` (0 if none).
  absl::StatusOr<uint64_t> OldestLocked(const std::string& destination) const;

  storage::Db* db_;
  audit::AuditJournal* journal_;
  const RelayLimits limits_;
  std::function<uint64_t()> now_ms_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, Meta> meta_;            // destination -> depth
  std::map<std::string, uint64_t> watermarks_;  // source -> last relay_sequence
  uint64_t changes_ = 0;
  size_t waiting_ = 0;
};

// Key helpers, shared with EpochKeyRegistry and the tests.
std::string RelayQueuePrefix(const std::string& destination);
std::string EncodeU64(uint64_t v);
uint64_t DecodeU64(std::string_view b);  // b.size() >= 8

}  // namespace beibu::hub
