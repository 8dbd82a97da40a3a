#include "exchange/relay_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "beibu/envelope/transfer_event.h"
#include "exchange/inbound_verifier.h"
#include "google/protobuf/util/time_util.h"
#include "hub_connection.h"

namespace beibu::edge {
namespace {

constexpr size_t kPushMaxItems = 256;
constexpr size_t kPushMaxBytes = size_t{4} << 20;
// Unacknowledged batches in flight. Small: the hub stores a batch with two
// synced writes, so while it works the outbox gathers the next, larger batch
// (a deep window of small batches only queues latency).
constexpr size_t kPushWindow = 2;
constexpr std::chrono::milliseconds kOutboxPoll{250};
constexpr std::chrono::milliseconds kBackoffMin{200};
constexpr std::chrono::milliseconds kBackoffMax{5000};

// The source edge as an audit actor: what the header says (authenticated by
// the chunk tags once a slice verified; best known otherwise).
v1::Actor SourceEdgeActor(const v1::EnvelopeHeader& h) {
  v1::Actor a;
  a.set_id(h.from_edge());
  a.set_role("edge");
  a.set_country(h.from_country());
  return a;
}

v1::AuditEvent TransferEvent(const std::string& operation, const v1::EnvelopeHeader& h) {
  v1::AuditEvent e;
  e.set_operation(operation);
  *e.mutable_who() = SourceEdgeActor(h);
  e.set_transfer_id(h.transfer_id());
  e.set_source_country(h.from_country());
  e.set_destination_country(h.to_country());
  e.set_category(h.category());
  return e;
}

// transfer.delivered for a delivery that just became complete: staged by the
// store in the same synced batch that completes it.
v1::AuditEvent DeliveredEvent(const v1::DeliveryRecord& d) {
  v1::EnvelopeHeader h;
  (void)h.ParseFromString(d.envelope_header());
  v1::AuditEvent e = envelope::TransferStepEvent("transfer.delivered", d.envelope_header());
  *e.mutable_who() = SourceEdgeActor(h);
  e.set_detail(absl::StrCat("in the inbox of ", h.to_enterprise()));
  return e;
}

// State of one hub session shared by its threads; the first failure ends it.
struct Session {
  std::mutex mu;
  std::condition_variable cv;  // the pusher: room in the window, or done
  // The session's control loop (key refresh): done or sync_keys only. Its
  // own, so that the per-batch wake-ups of the pusher do not wake it too.
  std::condition_variable control_cv;
  bool done = false;
  absl::Status why;
  std::deque<uint64_t> in_flight;  // last relay_sequence of each unacknowledged batch
  uint64_t last_sent = 0;
  bool sync_keys = false;  // a sender missed a peer's key: refresh now

  void Fail(absl::Status s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (done) return;
      done = true;
      why = std::move(s);
    }
    cv.notify_all();
    control_cv.notify_all();
  }
  bool Done() {
    std::lock_guard<std::mutex> lock(mu);
    return done;
  }
};

}  // namespace

struct RelayLink::Impl {
  const EdgeConfig config;
  EdgeIdentity* identity;
  ExchangeStore* store;
  EpochKeys* keys;
  audit::AuditLog* audit;
  std::atomic<bool>* connected;
  RelayLinkOptions options;

  std::thread thread;
  std::thread flusher;
  std::thread releaser;
  std::mutex mu;
  std::condition_variable cv;
  std::condition_variable flush_cv;    // the flusher: a notice was held, or stop
  std::condition_variable release_cv;  // the releaser: a release was asked for, or stop
  bool held_new = false;               // guarded by mu
  bool release_asked = false;          // guarded by mu
  bool stop = false;
  // The hub's watermark of this edge, learned at the start of the current
  // session (CheckHubWatermark): items at or below it are at the hub.
  std::atomic<uint64_t> hub_floor{0};
  Session* session = nullptr;  // the live session, for Stop and Notify
  std::function<void()> cancel_calls;
  std::atomic<bool> notified{false};

  bool SleepUnlessStopped(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu);
    return !cv.wait_for(lock, d, [&] { return stop; });
  }

  // Wakes the pusher: the outbox grew.
  void Wake() {
    notified = true;
    std::lock_guard<std::mutex> lock(mu);
    if (session) session->cv.notify_all();
  }
  // Tells the flusher that the store holds a new NOTICE_DELIVERED.
  void NoticeHeld() {
    {
      std::lock_guard<std::mutex> lock(mu);
      held_new = true;
    }
    flush_cv.notify_all();
  }
  // Releases held NOTICE_DELIVERED once they are older than the hold; sleeps
  // without a timeout while none is held.
  void FlushLoop();
  // Asks the releaser for a pass over the held outbound data.
  void AskRelease() {
    {
      std::lock_guard<std::mutex> lock(mu);
      release_asked = true;
    }
    release_cv.notify_all();
  }
  // Moves held outbound data the breakers no longer cover back to the
  // outbox (ExchangeStore::ReleaseHeld) whenever asked, then wakes the
  // pusher. Its own thread: the release reads and writes the store, which
  // must not stall the gateway's callers nor the pusher.
  void ReleaseLoop();
  // A send found no key for its destination: refresh the peers' keys now
  // instead of at the next periodic refresh.
  void RequestKeySync() {
    std::lock_guard<std::mutex> lock(mu);
    if (!session) return;
    {
      std::lock_guard<std::mutex> slock(session->mu);
      session->sync_keys = true;
    }
    session->control_cv.notify_all();
  }
  void Run();
  absl::Status RunSession();
  // Before any item is pushed: asks the hub for its watermark of this edge
  // (an empty batch on `push`) and compares it with the store's sequences,
  // so a store that went back in time is renumbered instead of its new
  // items being dropped by the hub as duplicates.
  absl::Status CheckHubWatermark(rpc::TunnelCall& push);
  void PushLoop(rpc::TunnelCall& call, Session& s);
  // Takes the items a breaker holds out of `items` (read from the outbox,
  // not pushed yet) and moves them to the store's held items; the others
  // keep their order.
  absl::Status HoldBack(std::vector<v1::Envelope>& items);
  void PushAckLoop(rpc::TunnelCall& call, Session& s, const pki::Identity& hub);
  void PullLoop(rpc::TunnelClient& client, rpc::TunnelCall& call, Session& s);
  absl::Status ProcessBatch(rpc::TunnelClient& client, const v1::RelayBatch& batch);
  // StoreIncoming, falling back to item by item when the store rejects the
  // batch as invalid; rejected items are refused like tampered ones.
  absl::StatusOr<std::vector<std::string>> StoreAccepted(rpc::TunnelClient& client,
                                                         const std::vector<IncomingPart>& accepted);
  void Refuse(const v1::Envelope& env, const v1::EnvelopeHeader* header, const absl::Status& why,
              const pki::Identity& hub, std::vector<v1::AuditEvent>& events);
  // Items the hub acknowledged as undeliverable: their transfers become
  // DENIED (audited) before the outbox drops them.
  absl::Status RecordUndeliverable(const v1::RelayAck& ack, const pki::Identity& hub);
};

RelayLink::RelayLink(const EdgeConfig& config, EdgeIdentity* identity, ExchangeStore* store,
                     EpochKeys* keys, audit::AuditLog* audit, RelayLinkOptions options)
    : impl_(new Impl{config, identity, store, keys, audit, &connected_, options}) {
  keys->SetOnMissingPeer([impl = impl_.get()] { impl->RequestKeySync(); });
}

RelayLink::~RelayLink() {
  Stop();
  impl_->keys->SetOnMissingPeer(nullptr);
}

void RelayLink::Start() {
  impl_->thread = std::thread([this] { impl_->Run(); });
  impl_->flusher = std::thread([this] { impl_->FlushLoop(); });
  impl_->releaser = std::thread([this] { impl_->ReleaseLoop(); });
}

void RelayLink::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stop) return;
    impl_->stop = true;
    if (impl_->session) impl_->session->Fail(absl::CancelledError("stopping"));
    if (impl_->cancel_calls) impl_->cancel_calls();
  }
  impl_->cv.notify_all();
  impl_->flush_cv.notify_all();
  impl_->release_cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->flusher.joinable()) impl_->flusher.join();
  if (impl_->releaser.joinable()) impl_->releaser.join();
}

void RelayLink::Notify() { impl_->Wake(); }

void RelayLink::RequestRelease() { impl_->AskRelease(); }

void RelayLink::Impl::ReleaseLoop() {
  constexpr std::chrono::seconds kRetry{1};
  const auto& holds = options.holds_outbound;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu);
      release_cv.wait(lock, [&] { return stop || release_asked; });
      if (stop) return;
      release_asked = false;
    }
    // Without a predicate nothing is held any more (a gateway since
    // disabled): everything goes.
    absl::StatusOr<size_t> released =
        store->ReleaseHeld([&holds](const v1::EnvelopeHeader& h) { return !holds || !holds(h); });
    if (!released.ok()) {
      spdlog::error("event=held_release_failed error=\"{}\" retry_in_ms={}",
                    std::string(released.status().message()),
                    std::chrono::milliseconds(kRetry).count());
      std::unique_lock<std::mutex> lock(mu);
      if (release_cv.wait_for(lock, kRetry, [&] { return stop; })) return;
      release_asked = true;
      continue;
    }
    if (*released > 0) {
      spdlog::info(
          "event=outbound_released count={} detail=\"no breaker covers them any more: back in "
          "the outbox, in their order\"",
          *released);
      Wake();
    }
  }
}

void RelayLink::Impl::FlushLoop() {
  using google::protobuf::util::TimeUtil;
  constexpr std::chrono::seconds kIdleRecheck{5};
  const std::chrono::milliseconds hold = options.delivered_notice_hold;
  const google::protobuf::Duration hold_for = TimeUtil::MillisecondsToDuration(hold.count());
  while (true) {
    const std::optional<google::protobuf::Timestamp> oldest = store->OldestHeldNotice();
    const google::protobuf::Timestamp now = TimeUtil::GetCurrentTime();
    google::protobuf::Timestamp before = now - hold_for;  // release what was held before
    {
      std::unique_lock<std::mutex> lock(mu);
      if (stop) return;
      if (!oldest) {
        // Nothing held: ProcessBatch wakes us (NoticeHeld). The timeout is a
        // safety net for a notice held by a batch that then failed as a
        // whole, which wakes nobody.
        flush_cv.wait_for(lock, kIdleRecheck, [&] { return stop || held_new; });
        held_new = false;
        continue;
      }
      if (*oldest > now + hold_for) {
        // From the future: this edge's clock went back. Holding it until the
        // clock catches up could take long; send everything held now.
        before = TimeUtil::SecondsToTimestamp(TimeUtil::kTimestampMaxSeconds);
      } else if (*oldest >= before) {
        const int64_t left = TimeUtil::DurationToNanoseconds(*oldest - before);
        flush_cv.wait_for(lock, std::chrono::nanoseconds(left), [&] { return stop; });
        if (stop) return;
        continue;  // look again: it may have been acknowledged meanwhile
      }
    }
    absl::StatusOr<size_t> released = store->ReleaseHeldNotices(before);
    if (!released.ok()) {
      spdlog::error("event=held_notices_release_failed error=\"{}\" retry_in_ms={}",
                    std::string(released.status().message()), hold.count());
      std::unique_lock<std::mutex> lock(mu);
      if (flush_cv.wait_for(lock, hold, [&] { return stop; })) return;
      continue;
    }
    if (*released > 0) {
      spdlog::debug("event=delivered_notices_released count={}", *released);
      Wake();
    }
  }
}

void RelayLink::Impl::Run() {
  std::chrono::milliseconds backoff = kBackoffMin;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop) return;
    }
    const auto started = std::chrono::steady_clock::now();
    absl::Status why = RunSession();
    const bool was_connected = connected->exchange(false);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop) return;
    }
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) {
      backoff = kBackoffMin;  // it was up for a while: retry soon
    }
    spdlog::warn("event={} error=\"{}\" retry_in_ms={}",
                 was_connected ? "relay_disconnected" : "relay_connect_failed",
                 std::string(why.message()), backoff.count());
    if (!SleepUnlessStopped(backoff)) return;
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

absl::Status RelayLink::Impl::RunSession() {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> connected_client =
      ConnectToHub(config, *identity);
  if (!connected_client.ok()) return connected_client.status();
  rpc::TunnelClient& client = **connected_client;
  if (absl::Status s = keys->SyncWithHub(client); !s.ok()) return s;

  std::unique_ptr<rpc::TunnelCall> push = client.StartCall("/beibu.v1.Relay/Push");
  std::unique_ptr<rpc::TunnelCall> pull = client.StartCall("/beibu.v1.Relay/Pull");
  Session s;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stop) return absl::CancelledError("stopping");
    session = &s;
    // Closing the session also ends a key sync (unary call) in progress.
    cancel_calls = [p = push.get(), q = pull.get(), c = &client] {
      p->Cancel();
      q->Cancel();
      c->Close();
    };
  }
  // Consumed here, before the push-ack reader starts, so that this ack is
  // never taken for the acknowledgement of a pushed batch.
  if (absl::Status w = CheckHubWatermark(*push); !w.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      session = nullptr;
      cancel_calls = nullptr;
    }
    push->Cancel();
    pull->Cancel();
    absl::Status link = client.status();
    return link.ok() ? w : link;
  }
  *connected = true;
  spdlog::info("event=relay_connected hub={} outbox_items={} pulled_through={}", client.server().id,
               store->outbox().items, store->PulledThrough());

  std::thread pusher([&] { PushLoop(*push, s); });
  std::thread acker([&] { PushAckLoop(*push, s, client.server()); });
  std::thread puller([&] { PullLoop(client, *pull, s); });

  // Refresh the epoch keys (every 30 s by default) and report a non-empty
  // outbox while the session lives.
  const std::chrono::seconds refresh = std::max(keys->refresh(), std::chrono::seconds(1));
  while (true) {
    {
      std::unique_lock<std::mutex> lock(s.mu);
      s.control_cv.wait_for(lock, refresh, [&] { return s.done || s.sync_keys; });
      if (s.done) break;
      s.sync_keys = false;
    }
    if (absl::Status k = keys->SyncWithHub(client); !k.ok()) {
      if (!client.status().ok()) {
        s.Fail(client.status());
        break;
      }
      spdlog::warn("event=epoch_key_sync_failed error=\"{}\"", std::string(k.message()));
    }
    if (OutboxStats o = store->outbox(); o.items > 0) {
      spdlog::info("event=relay_outbox_depth items={} bytes={}", o.items, o.bytes);
    }
  }

  {
    std::lock_guard<std::mutex> lock(mu);
    session = nullptr;
    cancel_calls = nullptr;
  }
  push->Cancel();
  pull->Cancel();
  s.cv.notify_all();
  pusher.join();
  acker.join();
  puller.join();
  absl::Status link = client.status();
  return link.ok() ? s.why : link;
}

absl::Status RelayLink::Impl::CheckHubWatermark(rpc::TunnelCall& push) {
  // The hub answers an empty batch with the last relay_sequence it stored
  // from this edge (older hubs too).
  if (absl::Status w = push.Write(v1::RelayBatch()); !w.ok()) {
    return absl::Status(w.code(),
                        absl::StrCat("asking the hub for its relay watermark: ", w.message()));
  }
  v1::RelayAck ack;
  if (!push.Read(&ack)) {
    absl::Status end = push.Finish();
    return end.ok() ? absl::UnavailableError(
                          "the hub ended the push stream before answering the watermark query")
                    : absl::Status(end.code(), absl::StrCat("asking the hub for its relay "
                                                            "watermark: ",
                                                            end.message()));
  }
  const uint64_t hub = ack.through_sequence();
  hub_floor = hub;
  const uint64_t last = store->LastRelaySequence();
  if (hub > last) {
    absl::StatusOr<size_t> renumbered = store->RenumberOutboxAbove(hub);
    if (!renumbered.ok()) {
      return absl::Status(renumbered.status().code(),
                          absl::StrCat("renumbering the outbox above the hub's watermark ", hub,
                                       ": ", renumbered.status().message()));
    }
    spdlog::error(
        "event=relay_store_behind_hub hub_watermark={} last_assigned={} renumbered={} "
        "detail=\"this edge's data_dir/exchange went back in time (restored from a backup, or "
        "lost): the hub already holds relay sequences up to {} from this edge; the outbox was "
        "renumbered above it and will be sent again. Transfers accepted after the copy it runs "
        "on was taken are lost with the old store\"",
        hub, last, *renumbered, hub);
    return absl::OkStatus();
  }
  // What the hub acknowledged earlier (deleted here). Not "below the first
  // outbox item": items held by a breaker and released leave gaps the hub
  // never saw.
  const uint64_t handed_over = store->HubAckedThrough();
  if (hub < handed_over) {
    spdlog::error(
        "event=relay_hub_lost_items from={} through={} detail=\"the hub acknowledged these "
        "relay sequences of this edge earlier but no longer holds them: transfers among them "
        "that were not yet delivered are lost. The hub's data_dir/relay was restored from a "
        "backup or lost\"",
        hub + 1, handed_over);
  }
  return absl::OkStatus();
}

void RelayLink::Impl::PushLoop(rpc::TunnelCall& call, Session& s) {
  // The store drops acknowledged items, so a new session starts from the
  // lowest remaining one: after = 0. `read` is the last relay_sequence read,
  // pushed or held (or left held when nothing was read): held items left the
  // outbox, and are not read again.
  uint64_t read = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(s.mu);
      s.cv.wait(lock, [&] { return s.done || s.in_flight.size() < kPushWindow; });
      if (s.done) return;
    }
    // Every sequence up to here was assigned before the read below: an item
    // queued later gets a higher one (a release too).
    const uint64_t assigned = store->LastRelaySequence();
    absl::StatusOr<std::vector<v1::Envelope>> items =
        store->ReadOutbox(read, kPushMaxItems, kPushMaxBytes);
    if (!items.ok()) {
      s.Fail(absl::Status(items.status().code(),
                          absl::StrCat("reading the outbox: ", items.status().message())));
      return;
    }
    if (items->empty()) {
      // Nothing queued through `assigned`: what is left below it is held
      // (a hold takes a transfer's unread later parts too) or acknowledged.
      // Read and wait above it, or the wait would return at once for them.
      read = std::max(read, assigned);
      if (!notified.exchange(false)) store->WaitForOutbox(read, kOutboxPoll);
      continue;
    }
    const uint64_t through = items->back().relay_sequence();
    if (absl::Status h = HoldBack(*items); !h.ok()) {
      // Pushing them anyway would defeat the breaker: end the session.
      s.Fail(absl::Status(h.code(), absl::StrCat("holding outbound data: ", h.message())));
      return;
    }
    read = through;
    if (items->empty()) continue;  // all held: read on from `read`
    v1::RelayBatch batch;
    for (v1::Envelope& e : *items) *batch.add_envelopes() = std::move(e);
    const uint64_t last = batch.envelopes(batch.envelopes_size() - 1).relay_sequence();
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.in_flight.push_back(last);  // before the write: the ack may come back at once
      s.last_sent = last;
    }
    if (absl::Status w = call.Write(batch); !w.ok()) {
      s.Fail(absl::Status(w.code(), absl::StrCat("pushing to the hub: ", w.message())));
      return;
    }
  }
}

absl::Status RelayLink::Impl::HoldBack(std::vector<v1::Envelope>& items) {
  const auto& holds = options.holds_outbound;
  // Parts held earlier pull their transfer's later parts with them, with or
  // without a predicate. Nothing held and no predicate: nothing to parse.
  const bool some_held = store->outbox().held > 0;
  if (!holds && !some_held) return absl::OkStatus();
  // Items the hub already stored (pushed by an earlier session whose
  // acknowledgement was lost) are pushed again, not held: the hub drops them
  // by its watermark and acknowledges them; held, they would be stored
  // twice after the release, under new sequences.
  const uint64_t at_hub = hub_floor.load();
  std::map<std::string, bool> decided;  // transfer id -> held (one answer per batch)
  std::vector<uint64_t> held;
  std::map<std::string, v1::EnvelopeHeader> held_headers;
  std::vector<v1::Envelope> pushed;
  pushed.reserve(items.size());
  for (v1::Envelope& env : items) {
    v1::EnvelopeHeader h;
    // A header that does not parse is the hub's to refuse, not ours to hold.
    if (env.has_notice() || env.relay_sequence() <= at_hub || !h.ParseFromString(env.header())) {
      pushed.push_back(std::move(env));
      continue;
    }
    auto [it, fresh] = decided.try_emplace(h.transfer_id(), false);
    if (fresh) {
      it->second = (some_held && store->HasHeldParts(h.transfer_id())) || (holds && holds(h));
    }
    if (!it->second) {
      pushed.push_back(std::move(env));
      continue;
    }
    held.push_back(env.relay_sequence());
    held_headers.try_emplace(h.transfer_id(), std::move(h));
  }
  items = std::move(pushed);
  if (held.empty()) return absl::OkStatus();
  // The store holds each transfer whole: its later parts, not read yet, too.
  absl::StatusOr<size_t> moved = store->HoldOutbox(held);
  if (!moved.ok()) return moved.status();  // the session ends: nothing is pushed
  spdlog::warn(
      "event=outbound_held count={} transfers={} detail=\"a data circuit breaker covers them, or "
      "an earlier slice of their transfer is held: kept in data_dir/exchange until it closes, "
      "then sent in their order\"",
      *moved, held_headers.size());
  // A breaker that closed between the question and the hold may have had
  // its release run already: these would then wait for the next close. Ask
  // the releaser for another pass, which sends them in their order.
  bool closed = !holds;
  for (const auto& [id, h] : held_headers) closed = closed || !holds(h);
  if (closed) AskRelease();
  return absl::OkStatus();
}

void RelayLink::Impl::PushAckLoop(rpc::TunnelCall& call, Session& s, const pki::Identity& hub) {
  v1::RelayAck ack;
  uint64_t acked = 0;
  auto last_log = std::chrono::steady_clock::time_point();
  while (call.Read(&ack)) {
    const uint64_t through = ack.through_sequence();
    if (through <= acked) continue;
    uint64_t sent = 0;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      sent = s.last_sent;
    }
    if (through > sent) {
      // Deleting items the hub never got would lose them.
      s.Fail(absl::DataLossError(absl::StrCat("the hub acknowledged relay_sequence ", through,
                                              " but this edge sent only up to ", sent,
                                              ": not deleting anything")));
      return;
    }
    if (absl::Status u = RecordUndeliverable(ack, hub); !u.ok()) {
      s.Fail(absl::Status(u.code(), absl::StrCat("recording refused items: ", u.message())));
      return;
    }
    if (absl::Status a = store->AckOutbox(through); !a.ok()) {
      s.Fail(absl::Status(a.code(), absl::StrCat("acknowledging the outbox: ", a.message())));
      return;
    }
    acked = through;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      while (!s.in_flight.empty() && s.in_flight.front() <= through) s.in_flight.pop_front();
    }
    s.cv.notify_all();
    // At most one line a second: a busy link acknowledges many batches.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_log >= std::chrono::seconds(1)) {
      spdlog::info("event=relay_push_acked through={}", through);
      last_log = now;
    } else {
      spdlog::debug("event=relay_push_acked through={}", through);
    }
  }
  absl::Status end = call.Finish();
  s.Fail(end.ok() ? absl::UnavailableError("the hub ended the push stream") : end);
}

void RelayLink::Impl::PullLoop(rpc::TunnelClient& client, rpc::TunnelCall& call, Session& s) {
  // Tell the hub what is already stored (an acknowledgement lost in a crash).
  if (uint64_t through = store->PulledThrough(); through > 0) {
    v1::RelayAck ack;
    ack.set_through_sequence(through);
    if (absl::Status w = call.Write(ack); !w.ok()) {
      s.Fail(w);
      return;
    }
  }
  v1::RelayBatch batch;
  while (call.Read(&batch)) {
    if (absl::Status p = ProcessBatch(client, batch); !p.ok()) {
      s.Fail(absl::Status(p.code(), absl::StrCat("storing pulled items: ", p.message())));
      return;
    }
    v1::RelayAck ack;
    ack.set_through_sequence(batch.hub_sequence());
    if (absl::Status w = call.Write(ack); !w.ok()) {
      s.Fail(w);
      return;
    }
  }
  absl::Status end = call.Finish();
  s.Fail(end.ok() ? absl::UnavailableError("the hub ended the pull stream") : end);
}

absl::Status RelayLink::Impl::RecordUndeliverable(const v1::RelayAck& ack,
                                                  const pki::Identity& hub) {
  // One reason per call: group the items by it (usually one destination).
  std::map<std::string, std::vector<std::string>> by_reason;
  for (const v1::UndeliverableItem& u : ack.undeliverable()) {
    spdlog::warn(
        "event=relay_undeliverable relay_sequence={} transfer_id={} notice={} reason=\"{}\" "
        "action=\"the hub will not deliver it; the transfer is marked refused\"",
        u.relay_sequence(), u.transfer_id(), u.notice(), u.reason());
    if (!u.notice() && !u.transfer_id().empty()) by_reason[u.reason()].push_back(u.transfer_id());
  }
  const google::protobuf::Timestamp now = google::protobuf::util::TimeUtil::GetCurrentTime();
  for (const auto& [reason, ids] : by_reason) {
    auto audit_of = [&reason, &hub](const v1::TransferRecord& r) {
      v1::AuditEvent e;
      e.set_operation("transfer.refused");
      *e.mutable_who() = audit::ActorOf(hub);
      e.set_transfer_id(r.header().transfer_id());
      e.set_source_country(r.from_country());
      e.set_destination_country(r.header().to_country());
      e.set_category(r.header().category());
      e.set_decision("refused");
      e.set_status_code(static_cast<int32_t>(absl::StatusCode::kFailedPrecondition));
      e.set_detail(absl::StrCat("the hub refused it as undeliverable: ", reason));
      return e;
    };
    absl::StatusOr<std::vector<std::string>> changed =
        store->RefuseOutgoing(ids, reason, now, audit_of);
    if (!changed.ok()) return changed.status();
  }
  return absl::OkStatus();
}

void RelayLink::Impl::Refuse(const v1::Envelope& env, const v1::EnvelopeHeader* header,
                             const absl::Status& why, const pki::Identity& hub,
                             std::vector<v1::AuditEvent>& events) {
  const std::string detail(why.message());
  spdlog::warn("event=envelope_refused transfer_id={} from_edge={} relay_sequence={} error=\"{}\"",
               header ? header->transfer_id() : "", header ? header->from_edge() : "",
               env.relay_sequence(), detail);
  v1::AuditEvent e;
  if (header) {
    e = TransferEvent("transfer.refused", *header);
  } else {
    e.set_operation("transfer.refused");
    *e.mutable_who() = audit::ActorOf(hub);  // nothing better is known
  }
  e.set_decision("refused");
  e.set_status_code(static_cast<int32_t>(why.code()));
  e.set_detail(detail);
  events.push_back(std::move(e));
  if (!header || header->from_edge().empty()) return;  // nobody to tell
  v1::TransferNotice notice;
  notice.set_transfer_id(header->transfer_id());
  notice.set_from_edge(identity->self().id);
  notice.set_to_edge(header->from_edge());
  notice.set_kind(v1::NOTICE_REFUSED);
  *notice.mutable_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  notice.set_detail(absl::StrCat("refused by ", identity->self().id, ": ", detail));
  if (absl::Status s = store->EnqueueNotice(notice); !s.ok()) {
    spdlog::error("event=notice_failed transfer_id={} error=\"{}\"", header->transfer_id(),
                  std::string(s.message()));
  }
}

absl::StatusOr<std::vector<std::string>> RelayLink::Impl::StoreAccepted(
    rpc::TunnelClient& client, const std::vector<IncomingPart>& accepted) {
  // NOTICE_DELIVERED for each completed transfer goes in the same batch.
  const std::string& self = identity->self().id;
  const google::protobuf::Timestamp now = google::protobuf::util::TimeUtil::GetCurrentTime();
  absl::StatusOr<std::vector<std::string>> completed =
      store->StoreIncoming(accepted, self, now, DeliveredEvent);
  if (completed.ok() || (!absl::IsInvalidArgument(completed.status()) &&
                         !absl::IsFailedPrecondition(completed.status()))) {
    return completed;
  }
  // One item the store will never take (malformed though authentic) must not
  // block the queue behind it: store one by one, refusing those it rejects.
  spdlog::warn("event=relay_batch_split error=\"{}\"", std::string(completed.status().message()));
  std::vector<std::string> all;
  std::vector<v1::AuditEvent> refusals;
  for (size_t i = 0; i < accepted.size(); ++i) {
    IncomingPart part = accepted[i];
    // Only the last write may record the batch's hub watermark: a crash in
    // between must not make the rest of the batch look stored.
    if (i + 1 < accepted.size()) part.hub_sequence = 0;
    absl::StatusOr<std::vector<std::string>> one =
        store->StoreIncoming({part}, self, now, DeliveredEvent);
    if (one.ok()) {
      all.insert(all.end(), one->begin(), one->end());
      continue;
    }
    if (!absl::IsInvalidArgument(one.status()) && !absl::IsFailedPrecondition(one.status())) {
      return one.status();
    }
    v1::EnvelopeHeader h;
    const bool parsed = !part.envelope.has_notice() && h.ParseFromString(part.envelope.header());
    Refuse(part.envelope, parsed ? &h : nullptr, one.status(), client.server(), refusals);
  }
  if (!refusals.empty()) {
    if (absl::StatusOr<uint64_t> a = audit->AppendBatch(std::move(refusals)); !a.ok()) {
      spdlog::error("event=audit_failed operation=transfer.refused error=\"{}\"",
                    std::string(a.status().message()));
    }
  }
  return all;
}

absl::Status RelayLink::Impl::ProcessBatch(rpc::TunnelClient& client, const v1::RelayBatch& batch) {
  // A batch stored before a lost acknowledgement comes again: acknowledge it.
  if (batch.hub_sequence() != 0 && batch.hub_sequence() <= store->PulledThrough()) {
    return absl::OkStatus();
  }
  const std::string& self = identity->self().id;
  struct Transfer {
    SlicePosition at;
    v1::EnvelopeHeader header;
    std::string header_bytes;
    bool refused = false;
  };
  std::map<std::string, Transfer> transfers;  // by transfer id, within this batch
  std::vector<IncomingPart> accepted;
  std::vector<v1::AuditEvent> refusals;
  bool synced = false;

  for (const v1::Envelope& env : batch.envelopes()) {
    if (env.has_notice()) {
      // Notices are not authenticated end to end; applying one twice is harmless.
      accepted.push_back({batch.hub_sequence(), env});
      continue;
    }
    absl::StatusOr<v1::EnvelopeHeader> header = ParseSliceHeader(env, self);
    if (!header.ok()) {
      v1::EnvelopeHeader partial;  // best known: a misrouted header still names its source
      const bool parsed = partial.ParseFromString(env.header());
      Refuse(env, parsed ? &partial : nullptr, header.status(), client.server(), refusals);
      continue;
    }
    auto [it, fresh] = transfers.try_emplace(header->transfer_id());
    Transfer& t = it->second;
    if (fresh) {
      t.header = *header;
      t.header_bytes = env.header();
      absl::StatusOr<v1::DeliveryRecord> d = store->GetDelivery(header->transfer_id());
      if (d.ok()) {
        t.at = {d->chunks_stored(), d->bytes_stored()};
        if (d->complete()) t.at.next_chunk = header->chunks();  // every slice is a duplicate
      } else if (!absl::IsNotFound(d.status())) {
        return d.status();
      }
    }
    if (t.refused) continue;  // one refusal per transfer and batch
    absl::StatusOr<envelope::TransferKeys> keys = this->keys->KeysFor(*header);
    if (absl::IsNotFound(keys.status()) && !synced) {
      synced = true;  // the sender may have rotated its key since our last refresh
      if (absl::Status s = this->keys->SyncWithHub(client); !s.ok()) {
        spdlog::warn("event=epoch_key_sync_failed error=\"{}\"", std::string(s.message()));
      }
      keys = this->keys->KeysFor(*header);
    }
    absl::StatusOr<SliceCheck> check =
        keys.ok() ? VerifySlice(*keys, env, t.at) : absl::StatusOr<SliceCheck>(keys.status());
    if (!check.ok()) {
      t.refused = true;
      Refuse(env, &*header, check.status(), client.server(), refusals);
      continue;
    }
    if (check->duplicate) continue;
    t.at = check->next;
    accepted.push_back({batch.hub_sequence(), env});
  }

  if (!refusals.empty()) {
    if (absl::StatusOr<uint64_t> a = audit->AppendBatch(std::move(refusals)); !a.ok()) {
      spdlog::error("event=audit_failed operation=transfer.refused error=\"{}\"",
                    std::string(a.status().message()));
    }
  }
  if (accepted.empty()) {
    Wake();
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> completed = StoreAccepted(client, accepted);
  if (!completed.ok()) return completed.status();

  // Their transfer.delivered events were staged in the store's write.
  for (const std::string& id : *completed) {
    auto it = transfers.find(id);
    spdlog::info("event=transfer_delivered transfer_id={} from_edge={} to_enterprise={}", id,
                 it == transfers.end() ? "" : it->second.header.from_edge(),
                 it == transfers.end() ? "" : it->second.header.to_enterprise());
  }
  // Each completed delivery's NOTICE_DELIVERED is held in the store: the
  // flusher sends it after the hold unless an acknowledgement replaces it.
  if (!completed->empty()) NoticeHeld();
  Wake();  // notices applied or refused may have queued outbox items
  return absl::OkStatus();
}

}  // namespace beibu::edge
