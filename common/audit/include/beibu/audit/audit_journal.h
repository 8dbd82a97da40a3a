// Write-ahead audit for a hop's own store. A hop (the source edge accepting
// a transfer, the hub queueing it, the destination storing it) used to pay
// two synced writes in series for each step: its RocksDB batch, then the
// audit log's. With the journal it pays one: the step's audit events are
// staged in the same atomic, synced batch as the step itself, so the change
// and its events become durable together, and a background pump appends
// them to the audit log right after, in staging order.
//
//   auto j = AuditJournal::Open({.db = store_db, .log = audit_log});
//   storage::WriteBatch b;  b.Put(...);            // the step
//   (*j)->Write(b, {event});                       // one synced write
//
// Crash safety: a staged event stays under <prefix>e/<sequence> in the hop's
// store until the log holds it. Each event reaches the log with its
// journal_sequence set, in increasing order, so Open finds the highest
// sequence the log already holds (reading back from the log's end, no
// further than the position the pump last recorded) and appends only the
// rest. No event is lost and none is logged twice, whether the process dies
// before, during or after an append.
//
// The audit log may have other writers (events appended directly), but at
// most one journal: two would mix their sequences.
//
// Thread-safe. Destroy the journal before its store and its log.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/storage/db.h"
#include "beibu/v1/audit.pb.h"

namespace beibu::audit {

struct AuditJournalOptions {
  storage::Db* db = nullptr;  // the hop's store (not owned)
  AuditLog* log = nullptr;    // the node's audit log (not owned)
  // Key prefix of the journal in `db`; must not overlap the store's keys.
  std::string prefix = "~audit-journal/";
  // Most events per append to the log.
  size_t max_batch = 1024;
  // How long staged events of a busy hop (several per append) may wait for
  // more before an append: it then pays one log fsync per this interval, not
  // one per step. A quiet hop's single event is appended at once.
  std::chrono::milliseconds linger{5};
  // Pause before retrying a failed append (the events stay staged).
  std::chrono::milliseconds retry_after{1000};
  // Write refuses new events (UNAVAILABLE) while this many wait for the log:
  // a log that stopped taking them stops the audited steps, as a direct
  // append would, instead of growing memory without bound.
  size_t max_pending = 100000;
};

class AuditJournal {
 public:
  // Recovers: events a crash left staged are queued for the pump, which
  // appends them right away (those the log already holds are dropped). INVALID_ARGUMENT without db
  // or log; DATA_LOSS when a staged event cannot be parsed.
  static absl::StatusOr<std::unique_ptr<AuditJournal>> Open(AuditJournalOptions options);
  // Appends what is staged (one try) and stops the pump. What it could not
  // append stays staged for the next Open.
  ~AuditJournal();

  // Stages `events` (their time stamped now if unset) in `batch` and writes
  // the batch with one synced write. UNAVAILABLE when max_pending events
  // already wait for the log. On error nothing is written or staged
  // (but `batch` holds the staging Puts: build a new batch to retry).
  // Callers that must keep their steps in order call this in that order.
  absl::Status Write(storage::WriteBatch& batch, std::vector<v1::AuditEvent> events);

  // Waits until every event staged before the call is in the audit log.
  // DEADLINE_EXCEEDED after `timeout` (the log refused appends meanwhile).
  absl::Status Flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Events staged and not yet in the log.
  uint64_t pending() const;

  AuditJournal(const AuditJournal&) = delete;
  AuditJournal& operator=(const AuditJournal&) = delete;

 private:
  struct State;
  explicit AuditJournal(std::unique_ptr<State> state);
  void Pump();
  std::unique_ptr<State> s_;
};

}  // namespace beibu::audit
