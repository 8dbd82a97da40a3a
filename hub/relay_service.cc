#include "relay_service.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "beibu/crypto/sm3.h"
#include "beibu/envelope/epoch_key.h"
#include "beibu/envelope/transfer_event.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"
#include "hub_state.h"

namespace beibu::hub {
namespace {

using google::protobuf::util::TimeUtil;

grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the hub is shutting down; reconnect");
}

std::string FormatTime(const google::protobuf::Timestamp& t) { return TimeUtil::ToString(t); }

}  // namespace

// --- HubRelayDirectory ---

absl::StatusOr<RelayNode> HubRelayDirectory::FindNode(const std::string& node_id) const {
  absl::StatusOr<v1::NodeRecord> node = state_->FindNode(node_id);
  if (!node.ok()) return node.status();
  return RelayNode{.id = node->node_id(),
                   .role = node->role(),
                   .country = node->country(),
                   .certificate_pem = node->certificate_pem(),
                   .revoked = state_->IsRevoked(node->serial_hex())};
}

absl::StatusOr<crypto::Sm2PublicKey> HubRelayDirectory::NodeKey(const std::string& node_id) const {
  return state_->NodeKey(node_id);
}

// --- RelayService: lifecycle ---

absl::StatusOr<std::unique_ptr<RelayService>> RelayService::Open(RelayServiceOptions options) {
  if (options.directory == nullptr || options.audit == nullptr) {
    return absl::InvalidArgumentError("the relay needs a node directory and an audit log");
  }
  std::unique_ptr<RelayService> svc(new RelayService(std::move(options)));
  absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(svc->options_.dir);
  if (!db.ok()) return db.status();
  svc->db_ = *std::move(db);
  absl::StatusOr<std::unique_ptr<audit::AuditJournal>> journal =
      audit::AuditJournal::Open({.db = svc->db_.get(), .log = svc->options_.audit});
  if (!journal.ok()) return journal.status();
  svc->journal_ = *std::move(journal);
  absl::StatusOr<std::unique_ptr<RelayQueue>> queue =
      RelayQueue::Open(svc->db_.get(), svc->options_.limits, {}, svc->journal_.get());
  if (!queue.ok()) return queue.status();
  svc->queue_ = *std::move(queue);
  svc->keys_ = std::make_unique<EpochKeyRegistry>(svc->db_.get());
  svc->depth_logger_ = std::thread([s = svc.get()] { s->DepthLogLoop(); });
  return svc;
}

RelayService::~RelayService() {
  Stop();
  if (depth_logger_.joinable()) depth_logger_.join();
}

void RelayService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
    // Blocked Reads return once their call is cancelled; the handlers then
    // see stopping_ and return.
    for (rpc::CallScope* call : streams_) call->TryCancel();
  }
  stop_cv_.notify_all();
  if (queue_) queue_->Notify();
}

bool RelayService::RegisterStream(rpc::CallScope* call) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_.load()) return false;
  streams_.insert(call);
  return true;
}

void RelayService::UnregisterStream(rpc::CallScope* call) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(call);
}

uint64_t RelayService::RegisterPuller(const std::string& edge, rpc::CallScope* call) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pullers_.find(edge);
  if (it != pullers_.end()) {
    // The edge reconnected (its old stream may be half-dead): the newest wins.
    spdlog::info("event=relay_pull_replaced edge={}", edge);
    it->second.call->TryCancel();
  }
  uint64_t generation = next_generation_++;
  pullers_[edge] = Puller{call, generation};
  return generation;
}

void RelayService::UnregisterPuller(const std::string& edge, uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pullers_.find(edge);
  if (it != pullers_.end() && it->second.generation == generation) pullers_.erase(it);
}

bool RelayService::PullerCurrent(const std::string& edge, uint64_t generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pullers_.find(edge);
  return it != pullers_.end() && it->second.generation == generation;
}

void RelayService::DepthLogLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_.load()) {
    stop_cv_.wait_for(lock, options_.depth_log_interval, [&] { return stopping_.load(); });
    if (stopping_.load()) break;
    std::string depths;
    for (const QueueDepth& d : queue_->Depths()) {
      if (d.items == 0) continue;
      absl::StrAppend(&depths, depths.empty() ? "" : " ", d.destination, ":", d.items, "/", d.bytes,
                      "B", pullers_.count(d.destination) ? "" : "(offline)");
    }
    if (!depths.empty()) spdlog::info("event=relay_queues depths=\"{}\"", depths);
  }
}

// --- Audit helpers ---

void RelayService::Audit(const pki::Identity& caller, const std::string& operation,
                         absl::StatusCode code, const std::string& detail) {
  v1::AuditEvent e;
  e.set_operation(operation);
  *e.mutable_who() = audit::ActorOf(caller);
  e.set_status_code(static_cast<int>(code));
  e.set_detail(detail);
  if (absl::StatusOr<uint64_t> i = options_.audit->Append(std::move(e)); !i.ok()) {
    spdlog::error("event=audit_append_failed operation={} error=\"{}\"", operation,
                  i.status().ToString());
  }
}

grpc::Status RelayService::Refuse(const pki::Identity& caller, const std::string& operation,
                                  const std::string& transfer_id, const absl::Status& why) {
  spdlog::warn("event=relay_refused edge={} operation={} transfer={} error=\"{}\"", caller.id,
               operation, transfer_id, why.ToString());
  v1::AuditEvent e;
  e.set_operation("relay.refused");
  *e.mutable_who() = audit::ActorOf(caller);
  e.set_transfer_id(transfer_id);
  e.set_decision("refused");
  e.set_status_code(static_cast<int>(why.code()));
  e.set_detail(absl::StrCat(operation, ": ", why.message()));
  if (absl::StatusOr<uint64_t> i = options_.audit->Append(std::move(e)); !i.ok()) {
    spdlog::error("event=audit_append_failed operation=relay.refused error=\"{}\"",
                  i.status().ToString());
  }
  return rpc::ToGrpc(why);
}

std::vector<v1::AuditEvent> RelayService::AuditEvents(
    const pki::Identity& caller, const std::vector<const RelayItem*>& accepted) {
  std::vector<v1::AuditEvent> events;
  for (const RelayItem* item : accepted) {
    const v1::Envelope& env = item->envelope;
    v1::AuditEvent e;
    *e.mutable_who() = audit::ActorOf(caller);
    if (env.has_notice()) {
      const v1::TransferNotice& n = env.notice();
      e.set_operation("transfer.notice");
      e.set_transfer_id(n.transfer_id());
      e.set_detail(absl::StrCat(v1::TransferNoticeKind_Name(n.kind()),
                                n.detail().empty() ? "" : ": ", n.detail(), " (for ",
                                item->destination, ")"));
      events.push_back(std::move(e));
      continue;
    }
    if (env.first_chunk() != 0) continue;  // one event per transfer, not per slice
    e = envelope::TransferStepEvent("transfer.relayed", env.header());  // Route parsed it
    *e.mutable_who() = audit::ActorOf(caller);
    e.set_detail(absl::StrCat("queued for ", item->destination));
    events.push_back(std::move(e));
  }
  return events;
}

// --- Push ---

absl::Status RelayService::CheckDestination(const std::string& edge_id) const {
  absl::StatusOr<RelayNode> node = options_.directory->FindNode(edge_id);
  if (!node.ok()) {
    if (absl::IsNotFound(node.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("destination edge '", edge_id, "' is not enrolled at this hub"));
    }
    return node.status();
  }
  if (node->role != "edge") {
    return absl::FailedPreconditionError(
        absl::StrCat("destination '", edge_id, "' has role ", node->role, ", not edge"));
  }
  if (node->revoked) {
    return absl::FailedPreconditionError(
        absl::StrCat("destination edge '", edge_id, "' is revoked"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RelayService::Route(const pki::Identity& caller,
                                                const v1::Envelope& env) const {
  if (env.has_notice()) {
    const v1::TransferNotice& n = env.notice();
    if (!env.header().empty() || env.sealed_chunks_size() > 0) {
      return absl::InvalidArgumentError(
          "an envelope carries either a notice or a header with sealed chunks, not both");
    }
    if (n.from_edge() != caller.id) {
      return absl::PermissionDeniedError(
          absl::StrCat("edge '", caller.id, "' cannot send a notice as '", n.from_edge(), "'"));
    }
    if (n.transfer_id().empty() || n.kind() == v1::TRANSFER_NOTICE_UNSPECIFIED) {
      return absl::InvalidArgumentError("a notice needs a transfer_id and a kind");
    }
    if (absl::Status s = CheckDestination(n.to_edge()); !s.ok()) return s;
    return n.to_edge();
  }
  v1::EnvelopeHeader h;
  if (env.header().empty() || !h.ParseFromString(env.header())) {
    return absl::InvalidArgumentError(
        "envelope header is missing or does not parse as a beibu.v1.EnvelopeHeader");
  }
  if (h.from_edge() != caller.id) {
    return absl::PermissionDeniedError(
        absl::StrCat("edge '", caller.id, "' cannot send as '", h.from_edge(), "'"));
  }
  if (h.from_country() != caller.country) {
    return absl::PermissionDeniedError(absl::StrCat("header from_country '", h.from_country(),
                                                    "' is not the country of edge '", caller.id,
                                                    "' (", caller.country, ")"));
  }
  if (h.transfer_id().empty()) return absl::InvalidArgumentError("envelope has no transfer_id");
  if (absl::Status s = CheckDestination(h.to_edge()); !s.ok()) return s;
  if (env.sealed_chunks_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope of transfer '", h.transfer_id(), "' carries no chunk"));
  }
  if (uint64_t{env.first_chunk()} + static_cast<uint64_t>(env.sealed_chunks_size()) > h.chunks()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope of transfer '", h.transfer_id(), "' holds chunks ", env.first_chunk(), "..",
        uint64_t{env.first_chunk()} + env.sealed_chunks_size() - 1, " but the header has only ",
        h.chunks()));
  }
  return h.to_edge();
}

void RelayService::AddDirectMethods(rpc::DirectMethods& methods) {
  methods.AddBidi<v1::RelayAck, v1::RelayBatch>(
      "/beibu.v1.Relay/Push",
      [this](rpc::CallScope& call, PushStream* stream) { return ServePush(call, stream); });
  methods.AddBidi<v1::RelayBatch, v1::RelayAck>(
      "/beibu.v1.Relay/Pull",
      [this](rpc::CallScope& call, PullStream* stream) { return ServePull(call, stream); });
}

grpc::Status RelayService::Push(grpc::ServerContext* ctx,
                                grpc::ServerReaderWriter<v1::RelayAck, v1::RelayBatch>* stream) {
  rpc::GrpcCallScope call(ctx);
  return ServePush(call, stream);
}

grpc::Status RelayService::ServePush(rpc::CallScope& call, PushStream* stream) {
  pki::Identity caller;
  if (grpc::Status s = rpc::RequireRole(call, {pki::Role::kEdge}, &caller); !s.ok()) return s;
  if (!RegisterStream(&call)) return Unavailable();
  struct Unregister {
    RelayService* svc;
    rpc::CallScope* call;
    ~Unregister() { svc->UnregisterStream(call); }
  } unregister{this, &call};

  auto give_up = [&] { return stopping_.load() || call.IsCancelled(); };
  auto on_wait = [&](const QueueDepth& full) {
    spdlog::warn("event=relay_backpressure to={} items={} bytes={} from={}", full.destination,
                 full.items, full.bytes, caller.id);
  };
  auto before_commit = [&](const std::vector<const RelayItem*>& accepted) {
    // Staged in the queue's own write: stored and audited together.
    return AuditEvents(caller, accepted);
  };

  uint64_t last = 0;  // the last relay_sequence seen on this stream
  bool first_batch = true;
  v1::RelayBatch batch;
  while (!stopping_.load() && stream->Read(&batch)) {
    v1::RelayAck undeliverable;  // items of this batch refused one by one
    const uint64_t watermark = queue_->Watermark(caller.id);
    std::vector<RelayItem> items;
    for (v1::Envelope& env : *batch.mutable_envelopes()) {
      const uint64_t seq = env.relay_sequence();
      if (seq == 0 || seq <= last) {
        return Refuse(caller, "push", "",
                      absl::InvalidArgumentError(absl::StrCat(
                          "relay_sequence ", seq, " after ", last,
                          ": it starts at 1 and must increase strictly within a Push stream")));
      }
      last = seq;
      if (first_batch) {
        // The source pushes from its oldest unacknowledged item: it has
        // seen every answer below it.
        first_batch = false;
        if (absl::Status f = queue_->ForgetUndeliverable(caller.id, seq); !f.ok()) {
          spdlog::warn("event=relay_store_failed edge={} error=\"{}\"", caller.id, f.ToString());
        }
      }
      if (seq <= watermark) {
        // Dealt with before: stored (acknowledge again, store once), or
        // answered undeliverable (answer the same again).
        if (std::optional<v1::UndeliverableItem> u = queue_->Undeliverable(caller.id, seq)) {
          *undeliverable.add_undeliverable() = *std::move(u);
        }
        continue;
      }
      absl::StatusOr<std::string> dest = Route(caller, env);
      if (!dest.ok()) {
        std::string transfer_id = env.notice().transfer_id();
        if (!env.has_notice()) {
          v1::EnvelopeHeader h;
          if (h.ParseFromString(env.header())) transfer_id = h.transfer_id();
        }
        grpc::Status refused = Refuse(caller, absl::StrCat("push of relay_sequence ", seq),
                                      transfer_id, dest.status());
        // A destination that cannot take the item will not take it on a
        // retry either: acknowledge it as undeliverable instead of failing
        // the stream, so it does not hold up the items behind it. Anything
        // else (a forged or malformed item) ends the stream.
        if (!absl::IsFailedPrecondition(dest.status())) return refused;
        v1::UndeliverableItem* u = undeliverable.add_undeliverable();
        u->set_relay_sequence(seq);
        u->set_transfer_id(transfer_id);
        u->set_notice(env.has_notice());
        u->set_reason(std::string(dest.status().message()));
        continue;
      }
      items.push_back(RelayItem{*std::move(dest), std::move(env)});
    }
    if (!items.empty()) {
      absl::StatusOr<size_t> stored =
          queue_->Enqueue(caller.id, items, give_up, before_commit, on_wait);
      if (!stored.ok()) {
        if (stopping_.load()) return Unavailable();
        if (absl::IsCancelled(stored.status())) {
          return grpc::Status(grpc::StatusCode::CANCELLED, "push cancelled");
        }
        spdlog::error("event=relay_store_failed edge={} error=\"{}\"", caller.id,
                      stored.status().ToString());
        return rpc::ToGrpc(stored.status());
      }
    }
    if (undeliverable.undeliverable_size() > 0) {
      // The source drops these on this ack: the watermark it learns next
      // time must cover them, and if this ack is lost, the same answer must
      // come again when it pushes them again.
      std::vector<v1::UndeliverableItem> refused(undeliverable.undeliverable().begin(),
                                                 undeliverable.undeliverable().end());
      if (absl::Status w = queue_->RecordUndeliverable(caller.id, refused, last); !w.ok()) {
        spdlog::error("event=relay_store_failed edge={} error=\"{}\"", caller.id, w.ToString());
        return rpc::ToGrpc(w);
      }
    }
    v1::RelayAck ack = std::move(undeliverable);
    ack.set_through_sequence(batch.envelopes_size() > 0 ? last : queue_->Watermark(caller.id));
    if (!stream->Write(ack)) break;
  }
  if (stopping_.load()) return Unavailable();
  return grpc::Status::OK;
}

// --- Pull ---

grpc::Status RelayService::Pull(grpc::ServerContext* ctx,
                                grpc::ServerReaderWriter<v1::RelayBatch, v1::RelayAck>* stream) {
  rpc::GrpcCallScope call(ctx);
  return ServePull(call, stream);
}

grpc::Status RelayService::ServePull(rpc::CallScope& call, PullStream* stream) {
  pki::Identity caller;
  if (grpc::Status s = rpc::RequireRole(call, {pki::Role::kEdge}, &caller); !s.ok()) return s;
  if (!RegisterStream(&call)) return Unavailable();
  const uint64_t generation = RegisterPuller(caller.id, &call);
  struct Unregister {
    RelayService* svc;
    rpc::CallScope* call;
    std::string edge;
    uint64_t generation;
    ~Unregister() {
      svc->UnregisterPuller(edge, generation);
      svc->UnregisterStream(call);
    }
  } unregister{this, &call, caller.id, generation};
  spdlog::info("event=relay_pull_started edge={}", caller.id);

  uint64_t sent = 0;               // hub_sequence of the last item sent on this stream
  std::atomic<uint64_t> acked{0};  // the edge's last acknowledgement on this stream
  std::atomic<bool> reader_done{false};
  std::mutex error_mu;
  absl::Status reader_error;
  // gRPC allows one Read and one Write at a time from different threads: the
  // acknowledgements are read here while the handler thread sends.
  std::thread reader([&] {
    v1::RelayAck ack;
    while (stream->Read(&ack)) {
      // An edge may acknowledge what an earlier stream sent (it tells the hub
      // its durable watermark on connect), but never a position the hub has
      // not assigned yet. If it does, data_dir/relay went back in time and
      // the edge would drop our items at or below its watermark as
      // duplicates: move them above it (deleting nothing) and end the stream,
      // so that both sides start the next one from clean positions.
      const uint64_t assigned = queue_->Depth(caller.id).last_hub_sequence;
      if (ack.through_sequence() > assigned) {
        absl::StatusOr<size_t> renumbered =
            queue_->RenumberAbove(caller.id, ack.through_sequence());
        std::lock_guard<std::mutex> lock(error_mu);
        if (!renumbered.ok()) {
          spdlog::error(
              "event=relay_store_behind_edge edge={} ack={} last_assigned={} renumbered=failed "
              "error=\"{}\": the edge acknowledged beyond what the hub assigned (data_dir/relay "
              "went back in time, or the edge's watermark is wrong) and its queue could not be "
              "renumbered; nothing was deleted, the stream ends and the edge retries",
              caller.id, ack.through_sequence(), assigned, renumbered.status().ToString());
          reader_error = renumbered.status();
          break;
        }
        spdlog::error(
            "event=relay_store_behind_edge edge={} ack={} last_assigned={} renumbered={}: "
            "data_dir/relay went back in time (restored from a backup, or lost). The items "
            "queued for this edge were renumbered above what it holds and will be delivered; "
            "items the hub acknowledged to source edges after the copy it runs on was taken, and "
            "had not delivered, are lost",
            caller.id, ack.through_sequence(), assigned, *renumbered);
        reader_error = absl::UnavailableError(
            absl::StrCat("the hub's relay store is behind this edge (it acknowledged hub_sequence ",
                         ack.through_sequence(), ", the hub had assigned up to ", assigned,
                         "); its queue was renumbered: reconnect"));
        break;
      }
      const uint64_t through = ack.through_sequence();
      // The window opens with the delete (not synced: the edge has the
      // items), whose change wakes the loop below.
      const bool advanced = through > acked.load();
      if (advanced) acked.store(through);
      absl::StatusOr<size_t> n = queue_->Ack(caller.id, through);
      if (!n.ok()) {
        spdlog::error("event=relay_ack_failed edge={} error=\"{}\"", caller.id,
                      n.status().ToString());
        std::lock_guard<std::mutex> lock(error_mu);
        reader_error = n.status();
        break;
      }
      if (advanced && *n == 0) queue_->Notify();  // nothing deleted, nothing woke it
      if (through > acked.load()) acked.store(through);
    }
    reader_done.store(true);
    queue_->Notify();
  });

  std::deque<std::pair<uint64_t, uint64_t>> in_flight;  // hub_sequence, bytes
  uint64_t in_flight_bytes = 0;
  grpc::Status result = grpc::Status::OK;
  for (;;) {
    const uint64_t seen = queue_->changes();
    if (stopping_.load()) {
      result = Unavailable();
      break;
    }
    if (!PullerCurrent(caller.id, generation)) {
      result =
          grpc::Status(grpc::StatusCode::ABORTED, "replaced by a newer Pull stream of this edge");
      break;
    }
    if (reader_done.load() || call.IsCancelled()) break;
    const uint64_t a = acked.load();
    while (!in_flight.empty() && in_flight.front().first <= a) {
      in_flight_bytes -= in_flight.front().second;
      in_flight.pop_front();
    }
    // Hub sequences of one destination are consecutive: sent - a items are
    // in flight. At most kMaxInFlightBatches batches: while the edge stores
    // them, new items gather into the next batch instead of many small ones.
    const uint64_t in_flight_items = sent > a ? sent - a : 0;
    const size_t room_items =
        in_flight.size() >= kMaxInFlightBatches || in_flight_items >= kMaxInFlightItems
            ? 0
            : kMaxInFlightItems - static_cast<size_t>(in_flight_items);
    const uint64_t room_bytes =
        in_flight_bytes >= kMaxInFlightBytes ? 0 : kMaxInFlightBytes - in_flight_bytes;
    bool sent_something = false;
    if (room_items > 0 && room_bytes > 0) {
      absl::StatusOr<std::vector<QueuedItem>> items =
          queue_->Read(caller.id, std::max(sent, a), std::min(kMaxBatchItems, room_items),
                       std::min(kMaxBatchBytes, room_bytes));
      if (!items.ok()) {
        spdlog::error("event=relay_read_failed edge={} error=\"{}\"", caller.id,
                      items.status().ToString());
        result = rpc::ToGrpc(items.status());
        break;
      }
      // Read returns one item even above the byte limit; send it only when
      // nothing else is in flight, so the window stays bounded.
      if (!items->empty() && (in_flight.empty() || items->front().envelope.size() <= room_bytes)) {
        v1::RelayBatch batch;
        uint64_t bytes = 0;
        bool corrupt = false;
        for (const QueuedItem& item : *items) {
          if (!batch.add_envelopes()->ParseFromString(item.envelope)) corrupt = true;
          bytes += item.envelope.size();
        }
        if (corrupt) {
          result = rpc::ToGrpc(absl::DataLossError(
              absl::StrCat("a queued item for ", caller.id, " is corrupt in ", db_->path())));
          spdlog::error("event=relay_item_corrupt edge={}", caller.id);
          break;
        }
        const uint64_t through = items->back().hub_sequence;
        batch.set_hub_sequence(through);
        sent = through;
        if (!stream->Write(batch)) break;
        in_flight.emplace_back(through, bytes);
        in_flight_bytes += bytes;
        sent_something = true;
      }
    }
    if (!sent_something) queue_->WaitForChange(seen, std::chrono::milliseconds(200));
  }
  // Ends the reader's Read if the edge is still connected (not after the edge
  // closed its side: the call then ends with `result`).
  if (!reader_done.load()) call.TryCancel();
  reader.join();
  spdlog::info("event=relay_pull_ended edge={} status={}", caller.id,
               static_cast<int>(result.error_code()));
  {
    std::lock_guard<std::mutex> lock(error_mu);
    if (result.ok() && !reader_error.ok()) result = rpc::ToGrpc(reader_error);
  }
  return result;
}

// --- Epoch keys ---

grpc::Status RelayService::PublishEpochKey(grpc::ServerContext* ctx, const v1::EpochKey* key,
                                           v1::PublishEpochKeyResponse*) {
  pki::Identity caller;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEdge}, &caller); !s.ok()) return s;
  const std::string what = absl::StrCat("epoch key ", key->key_id());
  if (key->edge_id() != caller.id) {
    return Refuse(caller, what, "",
                  absl::PermissionDeniedError(absl::StrCat(
                      "edge '", caller.id, "' cannot publish a key for '", key->edge_id(), "'")));
  }
  absl::StatusOr<RelayNode> node = options_.directory->FindNode(caller.id);
  absl::StatusOr<crypto::Sm2PublicKey> cert_key = options_.directory->NodeKey(caller.id);
  if (!node.ok() || !cert_key.ok()) {
    return Refuse(
        caller, what, "",
        absl::FailedPreconditionError(absl::StrCat("the registry holds no usable certificate for '",
                                                   caller.id, "'; enrol the edge again")));
  }
  const absl::Time now = absl::Now();
  const absl::Time not_before = ToAbslTime(key->not_before());
  absl::Time at = now;
  if (not_before > now) {
    if (not_before - now > kMaxKeySkew) {
      return Refuse(caller, what, "",
                    absl::FailedPreconditionError(absl::StrCat(
                        "epoch key not_before ", FormatTime(key->not_before()),
                        " is more than 5 minutes ahead of the hub's clock; check the edge's "
                        "clock")));
    }
    at = not_before;  // clock skew: accept a key that is about to become valid
  }
  if (absl::Status s = envelope::VerifyEpochKey(*key, *cert_key, at); !s.ok()) {
    return Refuse(caller, what, "", s);
  }
  v1::EpochKey stored = *key;
  // The certificate that verified it: GetEpochKeys serves a key only while
  // it is still the edge's current certificate.
  stored.set_edge_certificate(node->certificate_pem);
  absl::StatusOr<bool> changed = keys_->Put(stored);
  if (!changed.ok()) return rpc::ToGrpc(changed.status());
  if (*changed) {
    spdlog::info("event=relay_epoch_key edge={} key_id={} not_after={}", caller.id, key->key_id(),
                 FormatTime(key->not_after()));
    Audit(caller, "relay.epoch_key", absl::StatusCode::kOk,
          absl::StrCat("key ", key->key_id(), " valid ", FormatTime(key->not_before()), " to ",
                       FormatTime(key->not_after())));
  }
  return grpc::Status::OK;
}

grpc::Status RelayService::GetEpochKeys(grpc::ServerContext* ctx,
                                        const v1::GetEpochKeysRequest* req,
                                        v1::GetEpochKeysResponse* resp) {
  pki::Identity caller;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEdge}, &caller); !s.ok()) return s;
  std::vector<std::string> ids(req->edge_ids().begin(), req->edge_ids().end());
  absl::StatusOr<std::vector<v1::EpochKey>> keys = keys_->List(ids, absl::Now());
  if (!keys.ok()) return rpc::ToGrpc(keys.status());
  std::map<std::string, std::optional<RelayNode>> nodes;  // lookups once per edge
  for (v1::EpochKey& key : *keys) {
    auto it = nodes.find(key.edge_id());
    if (it == nodes.end()) {
      absl::StatusOr<RelayNode> node = options_.directory->FindNode(key.edge_id());
      std::optional<RelayNode> usable;
      if (node.ok() && node->role == "edge" && !node->revoked) usable = *std::move(node);
      it = nodes.emplace(key.edge_id(), std::move(usable)).first;
    }
    if (!it->second) continue;  // unenrolled or revoked
    // Signed under a certificate the edge no longer has (re-enrolled with a
    // new key): receivers would refuse it; the edge publishes a new one.
    if (key.edge_certificate() != it->second->certificate_pem) continue;
    *resp->add_keys() = std::move(key);
  }
  return grpc::Status::OK;
}

// --- ListQueues ---

grpc::Status RelayService::ListQueues(grpc::ServerContext* ctx, const v1::RelayQueuesRequest*,
                                      v1::RelayQueuesResponse* resp) {
  pki::Identity caller;
  if (grpc::Status s =
          rpc::RequireRole(*ctx, {pki::Role::kOperator, pki::Role::kRegulator}, &caller);
      !s.ok()) {
    return s;
  }
  std::set<std::string> connected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [edge, p] : pullers_) connected.insert(edge);
  }
  // A regulator sees the queues of its own country's edges only, as it sees
  // only its own jurisdiction's audit events; operators see every queue.
  auto shown = [&](const std::string& edge) {
    if (caller.role != pki::Role::kRegulator) return true;
    absl::StatusOr<RelayNode> node = options_.directory->FindNode(edge);
    return node.ok() && node->country == caller.country;
  };
  std::set<std::string> listed;
  for (const QueueDepth& d : queue_->Depths()) {
    if (!shown(d.destination)) continue;
    v1::RelayQueue* q = resp->add_queues();
    q->set_edge_id(d.destination);
    q->set_items(d.items);
    q->set_bytes(d.bytes);
    if (d.oldest_ms > 0) {
      *q->mutable_oldest() = TimeUtil::MillisecondsToTimestamp(static_cast<int64_t>(d.oldest_ms));
    }
    q->set_connected(connected.count(d.destination) > 0);
    listed.insert(d.destination);
  }
  for (const std::string& edge : connected) {
    if (listed.count(edge) || !shown(edge)) continue;
    v1::RelayQueue* q = resp->add_queues();
    q->set_edge_id(edge);
    q->set_connected(true);
  }
  return grpc::Status::OK;
}

}  // namespace beibu::hub
