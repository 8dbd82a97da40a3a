// The edge's data-plane link to the hub (docs/data-plane.md): one secure
// channel session (separate from the heartbeat) carrying
//  * Push: outbox items in relay_sequence order, in batches (up to 256 items
//    or 4 MiB), a window of unacknowledged batches in flight; acknowledged
//    items are dropped from the outbox (ExchangeStore::AckOutbox);
//  * Pull: hub batches into the inbox; every envelope slice's chunks are
//    verified (ChunkOpener with keys from EpochKeys) before it is stored; a
//    slice that fails is refused: not stored, audited (transfer.refused),
//    and a NOTICE_REFUSED goes back to the source; a stored batch is
//    acknowledged with its hub_sequence only after the synced write;
//  * epoch key publication and refresh (EpochKeys::SyncWithHub) on connect
//    and every refresh interval.
// Reconnects with backoff (0.2 s doubling to 5 s); nothing is lost across a
// disconnect or a crash: both directions resume from the durable watermarks.
// Audit at the destination: transfer.delivered when a delivery completes,
// with digest "sm3-envelope-header" (SM3 of the envelope header bytes; the
// source and the hub log the same digest, so a regulator can follow one
// transfer across the three logs), and a NOTICE_DELIVERED goes back to the
// source: held back by the store for RelayLinkOptions::delivered_notice_hold
// first, so that a transfer acknowledged within that time costs one notice
// (the NOTICE_ACKNOWLEDGED, carrying delivered_at) instead of two. A flusher
// thread, independent of the hub session, moves held notices older than the
// hold to the outbox and wakes the pusher; it sleeps while nothing is held.
//
// Threads: one link thread, one flusher and one releaser per RelayLink; per
// session a pusher, a push-ack
// reader and a puller. Push acknowledgements are relay_sequence (RelayAck),
// pull acknowledgements the batch's hub_sequence. On (re)connecting the
// puller first acknowledges ExchangeStore::PulledThrough() (when > 0), so a
// batch stored just before a crash is not resent.
// On each (re)connect, before pushing, the link asks the hub for its
// watermark of this edge (an empty RelayBatch): a hub ahead of the store's
// last relay_sequence means data_dir/exchange went back in time, and the
// outbox is renumbered above it (event=relay_store_behind_hub); a hub behind
// what it acknowledged earlier lost items (event=relay_hub_lost_items).
// Held by a breaker: before pushing what it read from the outbox, the pusher
// asks RelayLinkOptions::holds_outbound about each transfer part (not
// notices); held parts move to the store's h/ keys with the later parts of
// their transfers (ExchangeStore::HoldOutbox, event=outbound_held) and the
// rest is pushed in its order. A part of a transfer that already has held
// parts is held too, so a transfer never reaches its destination with a
// gap. Parts pushed before the breaker tripped are delivered, and so are
// parts at or below the hub's watermark (pushed by an earlier session, the
// hub has them). Releasing runs on the link's releaser thread: the edge
// calls RequestRelease() when a breaker closes (and at start), and the
// releaser moves back what holds_outbound no longer holds (everything
// without a predicate; ExchangeStore::ReleaseHeld, event=outbound_released)
// and wakes the pusher.
// Logs: event=relay_connected, relay_disconnected / relay_connect_failed
// (error, retry_in_ms), relay_push_acked (at most once a second at info),
// relay_outbox_depth (every 30 s while non-empty), envelope_refused,
// transfer_delivered, epoch_key_refused.
//
// Wiring (main.cc):
//   RelayLink relay(config, identity.get(), store.get(), keys.get(), audit.get());
//   exchange_options.on_outbox = [&relay] { relay.Notify(); };
//   on a breaker close: relay.RequestRelease();
//   relay.RequestRelease(); relay.Start();  ...  relay.Stop();
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "beibu/audit/audit_log.h"
#include "edge_config.h"
#include "edge_identity.h"
#include "exchange/epoch_keys.h"
#include "exchange/exchange_store.h"

namespace beibu::edge {

// How long the destination holds a NOTICE_DELIVERED back before sending it.
// A recipient that reads and acknowledges at once (the common case) does so
// well within this, and its NOTICE_ACKNOWLEDGED then stands for both: each
// notice costs a relay item with synced writes at three nodes, and dropping
// the DELIVERED one moved about 15 % more messages per second. Short enough
// that a sender waiting for DELIVERED barely notices.
inline constexpr std::chrono::milliseconds kDeliveredNoticeHold{250};

struct RelayLinkOptions {
  // Tests set a long hold to make "acknowledged before the hold passed"
  // deterministic.
  std::chrono::milliseconds delivered_notice_hold = kDeliveredNoticeHold;
  // Data circuit breakers (docs/gateway.md §4): whether outbound data with
  // this envelope header must be held now (EdgeGateway::HoldsOutbound).
  // Asked once per transfer and batch, on the pusher thread, without the
  // store's lock; it must be cheap and must not call the store. The
  // releaser asks it too (a held transfer goes when it returns false).
  // Unset: hold nothing (and parse no headers), release everything held.
  std::function<bool(const v1::EnvelopeHeader&)> holds_outbound;
};

class RelayLink {
 public:
  RelayLink(const EdgeConfig& config, EdgeIdentity* identity, ExchangeStore* store, EpochKeys* keys,
            audit::AuditLog* audit, RelayLinkOptions options = {});
  ~RelayLink();  // Stop()s

  void Start();
  void Stop();
  bool connected() const { return connected_; }
  // Wakes the pusher (called after a commit to the outbox).
  void Notify();
  // Asks for held outbound data to be released (a breaker closed, or the
  // edge started): returns at once; the link's releaser thread does the
  // work. May be called before Start() (the release then runs on Start) and
  // after Stop() (ignored).
  void RequestRelease();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> connected_{false};
};

}  // namespace beibu::edge
