// The edge's data-plane store (RocksDB, data_dir/exchange, synced writes):
// transfer records, the outbox towards the hub, the inbox of delivered
// transfers and the exporters' persons counters. One instance per edge,
// shared by the Exchange service (source and recipient side) and the relay
// link (outbox pusher, inbox puller).
//
// Keys (all values are protobuf or decimal, keys sort in the order shown):
//   t/<transfer_id>                 v1.TransferRecord (source side)
//   r/<transfer_id>/<offset:020>    raw bytes received by SendStream, staged
//   p/<transfer_id>/<part:010>      a sealed v1.Envelope part (no relay_sequence)
//   o/<relay_sequence:020>          v1.OutboxItem: which part, or a notice
//   h/<relay_sequence:020>          v1.OutboxItem held by a circuit breaker
//                                   (moved out of o/, see HoldOutbox)
//   d/<transfer_id>                 v1.DeliveryRecord (destination side)
//   dn/<transfer_id>                v1.TransferNotice: a NOTICE_DELIVERED held
//                                   back (not yet in the outbox), see
//                                   ReleaseHeldNotices
//   c/<transfer_id>/<chunk:010>     a received sealed chunk (ciphertext||tag)
//   i/<enterprise>/<inbox_seq:020>  transfer_id, for complete deliveries
//   n/<exporter>/<year>             persons sent this calendar year (decimal)
//   m/...                           counters: next source/relay/inbox sequence,
//                                   hub watermark, relay sequence the hub
//                                   acknowledged
//
// Thread-safe. Every mutating call is one atomic, synced RocksDB batch, so a
// kill -9 at any point leaves either the state before or after the call.
// Deleting what the hub acknowledged (AckOutbox) is the exception: it is not
// synced, since a lost delete only makes the edge push items again, which
// the hub drops by its watermark.
//
// Audit: opened with the node's audit log, the store stages the audit events
// of a commit, a delivery or an acknowledgement in that step's own synced
// batch (audit::AuditJournal, keys under "~audit-journal/"), so a step costs
// one fsync and its events cannot be lost by a crash between two writes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/storage/db.h"
#include "beibu/v1/edge_store.pb.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::edge {

struct IncomingPart {
  uint64_t hub_sequence = 0;
  v1::Envelope envelope;  // a slice of a transfer (chunks already verified), or a notice
};

struct OutboxStats {
  uint64_t items = 0;  // queued for the hub, not yet acknowledged by it
  uint64_t bytes = 0;
  uint64_t held = 0;  // transfer parts held by a circuit breaker (h/), not in `items`
};

class ExchangeStore {
 public:
  // `audit` (not owned, may be null in tests: events are then dropped) is
  // the edge's audit log; events a crash left staged are appended now.
  static absl::StatusOr<std::unique_ptr<ExchangeStore>> Open(const std::string& dir,
                                                             audit::AuditLog* audit = nullptr);
  ~ExchangeStore();

  // The audit event of one delivery record (delivered, acknowledged).
  using DeliveryAudit = std::function<v1::AuditEvent(const v1::DeliveryRecord&)>;
  // Waits until every audit event staged so far is in the audit log.
  absl::Status FlushAudit(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // ---- Source side -------------------------------------------------------
  // NOT_FOUND if the transfer id is unknown.
  absl::StatusOr<v1::TransferRecord> GetTransfer(const std::string& transfer_id) const;
  // Writes (creates or replaces) a transfer record alone: refusals (DENY,
  // SANDBOX_ONLY), RECEIVING progress, state changes from notices.
  absl::Status PutTransfer(const v1::TransferRecord& record);

  // A source_sequence for a new envelope header (unique, increasing; the
  // counter is persisted in blocks so a restart never reuses one).
  absl::StatusOr<uint64_t> AllocateSourceSequence();

  // SendStream staging: appends raw bytes at `offset` (must equal the bytes
  // staged so far, else FAILED_PRECONDITION naming the expected offset) and
  // writes `record` (its status.size = offset + data.size()) in one batch.
  // FAILED_PRECONDITION too when the stored record is no longer RECEIVING
  // (the transfer was decided: a late or concurrent stream cannot add bytes).
  absl::Status StageRaw(const v1::TransferRecord& record, uint64_t offset, std::string_view data);
  // Visits staged raw bytes in order.
  absl::Status ReadRaw(
      const std::string& transfer_id,
      const std::function<bool(uint64_t offset, std::string_view data)>& visit) const;
  // The staged segment that starts exactly at `offset` (segments are
  // contiguous, so a reader walks offset -> offset + size without rescanning).
  // NOT_FOUND if no segment starts there.
  absl::StatusOr<std::string> ReadRawSegment(const std::string& transfer_id, uint64_t offset) const;

  // Stores sealed part `part` of a transfer, not yet visible to the relay.
  absl::Status StagePart(const std::string& transfer_id, uint32_t part, const v1::Envelope& env);

  // Commits a decided transfer in one batch: writes `record`, adds
  // `persons` to the exporter's counter for `year` (when > 0), stores
  // `inline_parts` as parts 0..k-1 (small transfers; empty when the parts were
  // staged), deletes staged raw bytes, and — when `to_outbox` — appends
  // `parts` outbox items (parts 0..parts-1, consecutive relay sequences).
  // REVIEW passes to_outbox=false: the parts stay sealed at the source.
  absl::Status CommitTransfer(const v1::TransferRecord& record,
                              std::vector<v1::Envelope> inline_parts, uint32_t parts,
                              bool to_outbox, const std::string& exporter, int year,
                              uint64_t persons);

  // One decided transfer for CommitTransfers (the arguments of CommitTransfer).
  struct TransferCommit {
    v1::TransferRecord record;
    std::vector<v1::Envelope> inline_parts;
    uint32_t parts = 0;
    bool to_outbox = false;
    std::string exporter;
    int year = 0;
    uint64_t persons = 0;
    // Staged with the commit when it is written (not for a duplicate).
    std::optional<v1::AuditEvent> audit;
  };
  // Group commit: CommitTransfer for each of `commits`, in order (relay
  // sequences follow that order), in ONE synced batch. The idempotency check
  // is made here, under the store's lock: a transfer id that already has a
  // decided record (any state but RECEIVING), or that an earlier commit of the
  // same call carries, is not written; its slot in the result holds the record
  // that wins (the stored one, or the earlier commit's), and its persons
  // reservation is released. Written commits have nullopt. On error nothing is
  // written and the caller releases the reservations.
  absl::StatusOr<std::vector<std::optional<v1::TransferRecord>>> CommitTransfers(
      std::vector<TransferCommit>& commits);

  // Persons the exporter sent this `year`, including reservations of
  // transfers being decided right now.
  // ReservePersons adds `n` in memory and returns the new total P (the
  // decision uses it); ReleasePersons undoes a reservation that will not be
  // committed (refused transfer); CommitTransfer makes it durable.
  uint64_t ReservePersons(const std::string& exporter, int year, uint64_t n);
  void ReleasePersons(const std::string& exporter, int year, uint64_t n);
  uint64_t PersonsSent(const std::string& exporter, int year) const;

  // ---- Outbox (relay link, Push) -----------------------------------------
  // Items with relay_sequence > after, in order, each an Envelope with
  // relay_sequence set; stops before exceeding max_items or max_bytes (but
  // returns at least one item if any).
  absl::StatusOr<std::vector<v1::Envelope>> ReadOutbox(uint64_t after, size_t max_items,
                                                       size_t max_bytes) const;
  // The hub stored everything through `through`: deletes those outbox items
  // and the parts they referenced.
  absl::Status AckOutbox(uint64_t through);
  // The hub refused these transfers for good (their destination cannot take
  // them): each one still IN_FLIGHT becomes DENIED with `reason` in its
  // detail and a REFUSED_BY_HUB step at `at`, and `audit_of` (may be null)
  // gives its event, staged in the same synced write. Unknown ids and
  // transfers in another state are left alone. Returns the ids changed.
  using TransferAudit = std::function<v1::AuditEvent(const v1::TransferRecord&)>;
  absl::StatusOr<std::vector<std::string>> RefuseOutgoing(
      const std::vector<std::string>& transfer_ids, const std::string& reason,
      const google::protobuf::Timestamp& at, const TransferAudit& audit_of = nullptr);
  // Destination side: queues a notice for the source edge.
  absl::Status EnqueueNotice(const v1::TransferNotice& notice);
  // The same for several notices in one synced batch (consecutive sequences).
  absl::Status EnqueueNotices(const std::vector<v1::TransferNotice>& notices);
  // Blocks until an item with relay_sequence > after exists or timeout.
  bool WaitForOutbox(uint64_t after, std::chrono::milliseconds timeout) const;
  OutboxStats outbox() const;
  // The last relay_sequence this store assigned (0 if none), and the lowest
  // one still in the outbox (0 if it is empty; held items are not in it).
  uint64_t LastRelaySequence() const;
  uint64_t FirstOutboxSequence() const;
  // The highest relay_sequence the hub acknowledged (AckOutbox), as far as
  // this store knows: recorded with the unsynced delete (and by the first
  // HoldOutbox), so after a power loss it may be lower, never higher. A
  // store that never recorded it starts from the item below its lowest
  // outbox or held item. Held and released items leave gaps in the outbox,
  // so FirstOutboxSequence() - 1 is not this.
  uint64_t HubAckedThrough() const;
  // For a store that went back in time (restored from a backup, or lost):
  // the hub already holds relay sequences up to `floor` from this edge and
  // would drop ours at or below it as duplicates. Gives every outbox item a
  // new relay_sequence above `floor`, in the same order, and moves the
  // counter past them, in one synced write; items sent from then on follow.
  // Returns how many items were renumbered. Items the hub did store are
  // sent again: the destination drops them by transfer id (data-plane.md §2).
  // A `floor` below LastRelaySequence() renumbers above that instead: no
  // relay_sequence is ever handed out twice.
  absl::StatusOr<size_t> RenumberOutboxAbove(uint64_t floor);

  // ---- Held by a circuit breaker (relay link, gateway) -------------------
  // A breaker holds queued outbound data instead of dropping it
  // (docs/gateway.md §4). Held items are out of the outbox: ReadOutbox,
  // AckOutbox, RenumberOutboxAbove and FirstOutboxSequence do not see them,
  // and their parts (p/) stay until they are released and acknowledged.
  //
  // Moves the outbox items with these relay sequences to h/<same sequence>
  // in one synced write, each with every later part of its transfer still
  // in the outbox (a transfer's parts have consecutive relay sequences, so
  // this is a short walk): a transfer is held whole from its first held
  // part on, and the pusher never reads a part that belongs after a held
  // one. Only transfer parts are held: notices, and sequences not in the
  // outbox (acknowledged, already held, never assigned), are skipped.
  // Returns how many moved. The caller must not have pushed them: a pushed
  // item that is held is acknowledged by the hub like any other, and its
  // held copy is sent again on release (the destination drops it as a
  // duplicate).
  absl::StatusOr<size_t> HoldOutbox(const std::vector<uint64_t>& relay_sequences);
  // Moves back to the outbox every held item whose transfer's envelope
  // header satisfies `release`, in their original order, with new relay
  // sequences above LastRelaySequence(), in one synced write; wakes
  // WaitForOutbox. The header is read once per transfer, from its lowest
  // held part; `release` is asked once per transfer and call, without the
  // store's lock held. A transfer goes whole, in part order (not the order
  // of its held sequences: parts held again after a partial release by an
  // older store have higher ones), or not at all. Parts of a released
  // transfer still in the outbox after its held parts (a store written
  // before HoldOutbox held transfers whole) move behind the released ones
  // in the same write, so the transfer stays in order. If any held part of
  // a transfer is missing or does not parse, or its parts do not form a
  // consecutive run, the whole transfer stays held (one
  // event=held_item_unreadable per transfer and call; a gap would be
  // refused at the destination): nothing is ever dropped.
  // Returns how many held items moved (0 without a write when none).
  absl::StatusOr<size_t> ReleaseHeld(const std::function<bool(const v1::EnvelopeHeader&)>& release);
  // Whether any part of this transfer is held: the relay link holds its
  // later parts too, so that a transfer never reaches the destination with
  // a gap (which the destination would refuse).
  bool HasHeldParts(const std::string& transfer_id) const;

  // ---- Inbox (relay link, Pull) ------------------------------------------
  // The highest hub_sequence stored (0 if none).
  uint64_t PulledThrough() const;
  // Stores pulled items in one batch and records the hub watermark:
  //  * an envelope slice: chunks are appended to the transfer's delivery
  //    (dedupe: a slice whose chunks are already stored is skipped; a gap is
  //    FAILED_PRECONDITION); the slice holding the last chunk completes the
  //    delivery and gives it the next inbox sequence of its recipient
  //    (header.to_enterprise);
  //  * a notice: applied to the source-side TransferRecord (DELIVERED /
  //    ACKNOWLEDGED / refused with detail; steps timestamped), ignored when
  //    the transfer is unknown.
  // Returns the transfer ids that became complete, in order.
  // With `notice_from_edge` set (this edge's id), a NOTICE_DELIVERED (at
  // `at`) to the source edge of each completed transfer is stored in the
  // same batch as a *held* notice (dn/<id>), not in the outbox: a crash
  // cannot lose it, and a pulled batch costs one synced write. It is sent
  // when ReleaseHeldNotices moves it to the outbox, or replaced by the
  // NOTICE_ACKNOWLEDGED if the recipient acknowledges first (Acknowledge).
  // On the source side, a NOTICE_ACKNOWLEDGED with delivered_at also sets a
  // missing DELIVERED step to delivered_at.
  // With `audit_of`, its event for each completed delivery is staged in the
  // same batch (called under the store's lock: it must not call the store).
  absl::StatusOr<std::vector<std::string>> StoreIncoming(const std::vector<IncomingPart>& parts,
                                                         const std::string& notice_from_edge = "",
                                                         const google::protobuf::Timestamp& at = {},
                                                         const DeliveryAudit& audit_of = nullptr);
  // NOT_FOUND if nothing of that transfer arrived.
  absl::StatusOr<v1::DeliveryRecord> GetDelivery(const std::string& transfer_id) const;

  // ---- Inbox (Exchange service) ------------------------------------------
  // Complete, unacknowledged deliveries of `enterprise` with inbox_sequence >
  // after, oldest first, at most max.
  absl::StatusOr<std::vector<v1::DeliveryRecord>> PendingDeliveries(const std::string& enterprise,
                                                                    uint64_t after,
                                                                    size_t max) const;
  // A stored sealed chunk. NOT_FOUND if absent.
  absl::StatusOr<std::string> ReadChunk(const std::string& transfer_id, uint32_t index) const;
  // Acknowledges those of `transfer_ids` that are complete, unacknowledged
  // deliveries to `enterprise` (others are ignored: an enterprise can never
  // acknowledge someone else's); drops their chunks, keeps the record.
  // Returns the ids acknowledged now. With `notice_from_edge` set (this
  // edge's id), a NOTICE_ACKNOWLEDGED (at `at`) to each transfer's source
  // edge is queued in the same batch, so a crash cannot lose it. When the
  // delivery's NOTICE_DELIVERED is still held, the held notice is deleted in
  // that batch and the NOTICE_ACKNOWLEDGED carries its time in delivered_at:
  // one notice instead of two.
  // With `audit_of`, its event for each acknowledged delivery is staged in
  // the same batch (called under the store's lock).
  absl::StatusOr<std::vector<std::string>> Acknowledge(const std::string& enterprise,
                                                       const std::vector<std::string>& transfer_ids,
                                                       const std::string& notice_from_edge = "",
                                                       const google::protobuf::Timestamp& at = {},
                                                       const DeliveryAudit& audit_of = nullptr);
  // ---- Held NOTICE_DELIVERED (relay link) ---------------------------------
  // Moves every held notice whose `at` is before `held_before` (destination
  // edge's wall clock, as the notices' `at`) to the outbox, oldest `at`
  // first (then in the order they were held), with the next relay
  // sequences, deleting their held keys, in one synced write. Outbox stats
  // and waiters are updated as by EnqueueNotices. Returns how many moved
  // (0 without a write when none is old enough).
  absl::StatusOr<size_t> ReleaseHeldNotices(const google::protobuf::Timestamp& held_before);
  // How many notices are held now (kept in memory; rebuilt by Open from the
  // dn/ keys, so held notices survive a restart).
  size_t HeldNotices() const;
  // The `at` of the oldest held notice; nullopt when none is held.
  std::optional<google::protobuf::Timestamp> OldestHeldNotice() const;

  // Blocks until `enterprise` has a complete delivery with inbox_sequence >
  // after, or timeout.
  bool WaitForInbox(const std::string& enterprise, uint64_t after,
                    std::chrono::milliseconds timeout) const;

 private:
  struct State;
  explicit ExchangeStore(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace beibu::edge
