#include "exchange/exchange_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "beibu/envelope/seal.h"
#include "beibu/envelope/transfer_event.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"
#include "exchange/accept_pipeline.h"
#include "exchange/payload_pipeline.h"
#include "exchange/transfer_validation.h"
#include "gateway/edge_gateway.h"

namespace beibu::edge {
namespace {

constexpr uint32_t kDefaultMaxUnacked = 64;
constexpr auto kInboxPoll = std::chrono::milliseconds(200);
// SendBatches' and InboxBatches' messages are cut at about this much: a
// Delivery chunk is at most 1 MiB, so a batch stays well under gRPC's default
// 4 MiB message limit, and a batch is big enough that the per-message cost
// of the secure channel is paid once per many small messages.
constexpr size_t kBatchBytes = size_t{1} << 20;
// A paced SendStream wakes this often to notice cancellation.
constexpr auto kPaceSlice = std::chrono::milliseconds(50);

std::string Hex(const crypto::Sm3Digest& d) { return HexEncode(ByteView(d.data(), d.size())); }

grpc::Status Error(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

// Serializes accepts of one transfer id: a concurrent duplicate waits and
// then finds the first one's record.
class IdLocks {
 public:
  class Guard {
   public:
    Guard(IdLocks* locks, std::string id) : locks_(locks), id_(std::move(id)) {
      std::unique_lock<std::mutex> lock(locks_->mu_);
      locks_->cv_.wait(lock, [&] { return locks_->held_.count(id_) == 0; });
      locks_->held_.insert(id_);
    }
    ~Guard() {
      std::lock_guard<std::mutex> lock(locks_->mu_);
      locks_->held_.erase(id_);
      locks_->cv_.notify_all();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    IdLocks* locks_;
    std::string id_;
  };

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> held_;
};

// A request the gateway admitted: observed once decided (its probes count
// as passed), or else its admission is abandoned when this goes out of scope
// (a half-open breaker's probe must always end, but one that failed before
// its decision says nothing about the flow: its slot is given back).
class Admitted {
 public:
  Admitted() = default;
  Admitted(EdgeGateway* gateway, gateway::BreakerBoard::Admission admission)
      : gateway_(gateway), admission_(std::move(admission)) {}
  ~Admitted() {
    if (gateway_ != nullptr) gateway_->board().Abandon(admission_);
  }
  Admitted(const Admitted&) = delete;
  Admitted& operator=(const Admitted&) = delete;
  Admitted& operator=(Admitted&& other) noexcept {
    std::swap(gateway_, other.gateway_);
    std::swap(admission_, other.admission_);
    return *this;
  }

  // The request was decided (an idempotent replay counts too): the detectors
  // see it, then its probes finish.
  void Decided(const pki::Identity& caller, const std::string& country, const v1::TransferHeader& h,
               uint64_t bytes, v1::TransferState state) {
    if (gateway_ == nullptr) return;
    gateway::Observation o;
    o.enterprise = caller.id;
    o.from_country = country;
    o.to_country = h.to_country();
    o.recipient = h.to_enterprise();
    o.category = h.category();
    o.bytes = bytes;
    o.denied = state == v1::DENIED;
    gateway_->Observe(admission_, o);
    gateway_ = nullptr;
  }

 private:
  EdgeGateway* gateway_ = nullptr;
  gateway::BreakerBoard::Admission admission_;
};

// Breakers, then the rate limit, for one request of `bytes` payload bytes.
// An error is the request's answer.
grpc::Status Admit(EdgeGateway* gateway, const pki::Identity& caller, const v1::TransferHeader& h,
                   uint64_t bytes, Admitted* admitted) {
  if (gateway == nullptr || !gateway->enabled()) return grpc::Status::OK;
  absl::StatusOr<gateway::BreakerBoard::Admission> a =
      gateway->Admit(caller.id, h.to_country(), bytes);
  if (!a.ok()) return rpc::ToGrpc(a.status());
  *admitted = Admitted(gateway, *std::move(a));
  return grpc::Status::OK;
}

// One Send / SendMany request, prepared up to its commit. The transfer id's
// lock is held until the commit is done (a concurrent duplicate waits, then
// finds the record and gets the first answer).
struct PendingSend {
  PreparedAccept prepared;
  std::unique_ptr<IdLocks::Guard> guard;
  std::string transfer_id;
  size_t bytes = 0;  // request size, bounds what SendMany holds in memory
};

}  // namespace

struct ExchangeService::Impl {
  ExchangeServiceOptions options;
  pki::Identity self;
  ExchangeStore* store;
  TransferKeySource* keys;
  PolicyHolder* policy;

  std::unique_ptr<AcceptPipeline> accept;
  IdLocks id_locks;
  std::atomic<bool> stopped{false};
  std::mutex ack_mu;
  std::condition_variable ack_cv;  // an Ack happened (Inbox flow control)
  // Inbox streams waiting for acknowledgements of their recipient, each told
  // the ids Ack acknowledged (so a stream's flow control costs O(new acks),
  // not a store read per unacknowledged delivery). Guarded by ack_mu.
  struct AckListener {
    std::string enterprise;
    std::vector<std::string> acked;
  };
  std::list<AckListener*> ack_listeners;

  void NotifyAcked(const std::string& enterprise, const std::vector<std::string>& ids) {
    std::lock_guard<std::mutex> lock(ack_mu);
    for (AckListener* l : ack_listeners) {
      if (l->enterprise == enterprise) l->acked.insert(l->acked.end(), ids.begin(), ids.end());
    }
    ack_cv.notify_all();
  }

  // Safety net when a full window saw no Ack for a while: drops the ids whose
  // delivery is acknowledged (or gone) by reading the store.
  void RecheckUnacked(std::set<std::string>& unacked) const {
    for (auto it = unacked.begin(); it != unacked.end();) {
      absl::StatusOr<v1::DeliveryRecord> d = store->GetDelivery(*it);
      it = (!d.ok() || d->acknowledged()) ? unacked.erase(it) : std::next(it);
    }
  }

  grpc::Status Authorize(const rpc::CallScope& call, pki::Identity* caller) const {
    if (grpc::Status s = rpc::RequireRole(call, {pki::Role::kEnterprise}, caller); !s.ok()) {
      return s;
    }
    if (caller->country != self.country) {
      return Error(grpc::StatusCode::PERMISSION_DENIED,
                   absl::StrCat(pki::Describe(*caller), " may not use the exchange of ", self.id,
                                " (", self.country, "): connect to the edge of your own country"));
    }
    return grpc::Status::OK;
  }

  PendingSend Prepare(const pki::Identity& caller, const v1::SendRequest& req) {
    PendingSend p;
    p.transfer_id = req.header().transfer_id();
    p.bytes = req.payload().size();
    Admitted admitted;
    p.prepared.status = PrepareInto(caller, req, &p, &admitted);
    if (p.prepared.status.ok()) {
      const v1::TransferState state = p.prepared.needs_commit
                                          ? p.prepared.commit.record.status().state()
                                          : p.prepared.answer.state();
      admitted.Decided(caller, self.country, req.header(), req.payload().size(), state);
    }
    return p;
  }

  // Validates, checks idempotency, scans and runs the accept pipeline's
  // Prepare; an error status is the answer.
  grpc::Status PrepareInto(const pki::Identity& caller, const v1::SendRequest& req, PendingSend* p,
                           Admitted* admitted) {
    std::shared_ptr<const PolicySnapshot> snap = policy->current();
    const v1::TransferHeader& h = req.header();
    if (absl::Status s = ValidateHeader(h, snap->db, self.country); !s.ok()) return rpc::ToGrpc(s);
    if (req.payload().size() > options.max_send_bytes) {
      return Error(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("payload of ", req.payload().size(), " bytes is above Send's limit of ",
                       options.max_send_bytes, " bytes; use SendStream for large data"));
    }
    if (grpc::Status s = Admit(options.gateway, caller, h, req.payload().size(), admitted);
        !s.ok()) {
      return s;
    }
    AcceptedPayload payload;
    payload.size = req.payload().size();
    payload.sm3 = crypto::Sm3::Hash(AsBytes(req.payload()));
    payload.bytes = &req.payload();
    const std::string digest = RequestDigest(h, payload.sm3);
    p->guard = std::make_unique<IdLocks::Guard>(&id_locks, h.transfer_id());
    absl::StatusOr<v1::TransferRecord> existing = store->GetTransfer(h.transfer_id());
    if (existing.ok()) return ReplayAnswer(caller.id, *existing, digest, &p->prepared.answer);
    if (!absl::IsNotFound(existing.status())) return rpc::ToGrpc(existing.status());
    IncrementalScanner scanner(*snap->detector, FormatOfContentType(h.content_type()));
    scanner.Feed(req.payload());
    std::set<std::string> types = scanner.Finish();
    payload.finding_types.assign(types.begin(), types.end());
    payload.format = scanner.format();
    v1::TransferRecord record;
    *record.mutable_header() = h;
    PreparedAccept prepared = accept->Prepare(caller, std::move(record), payload, *snap);
    grpc::Status status = prepared.status;
    p->prepared = std::move(prepared);
    return status;
  }

  // A request of a SendBatch refused as a whole: `why` is its answer.
  static PendingSend Refused(const v1::SendRequest& req, grpc::Status why) {
    PendingSend p;
    p.transfer_id = req.header().transfer_id();
    p.prepared.status = std::move(why);
    return p;
  }

  // Where the Inbox loop puts what it delivers. `emit` takes each Delivery
  // in Inbox order; `flush` is called at the end of every round of
  // PendingDeliveries, before the loop may wait, so that nothing ready is
  // held back. Each returns false once the client went away.
  struct DeliverySink {
    std::function<bool(v1::Delivery&&)> emit;
    std::function<bool()> flush;
  };
  // Inbox and InboxBatches: the caller's deliveries, oldest first, at most
  // `requested_max_unacked` (0: the default) unacknowledged in flight, until
  // the client cancels or Stop.
  grpc::Status ServeInbox(rpc::CallScope& call, const pki::Identity& caller,
                          uint32_t requested_max_unacked, const DeliverySink& sink);

  // SendStream: takes `bytes` from the sender's byte bucket and waits out
  // any debt before the next chunk is read, in short slices so that a
  // cancelled stream or a shutdown does not wait the whole debt.
  void PaceStream(grpc::ServerContext* ctx, const std::string& enterprise, uint64_t bytes,
                  bool wait) {
    if (options.gateway == nullptr || bytes == 0) return;
    const auto until =
        std::chrono::steady_clock::now() + options.gateway->PaceStream(enterprise, bytes);
    while (wait && !ctx->IsCancelled() && !stopped) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) return;
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(until - now, kPaceSlice));
    }
  }

  // Send: prepare and commit alone.
  grpc::Status SendOne(const pki::Identity& caller, const v1::SendRequest& req,
                       v1::TransferStatus* resp) {
    PendingSend p = Prepare(caller, req);
    accept->Commit({&p.prepared});
    if (p.prepared.status.ok()) *resp = std::move(p.prepared.answer);
    return p.prepared.status;
  }
};

namespace {

// SendMany's answer for a committed (or refused) request: answers stay in
// step with requests, so an error is an answer with no state and the code and
// message in detail.
v1::TransferStatus AnswerOf(const PreparedAccept& p, const std::string& transfer_id) {
  if (p.status.ok()) return p.answer;
  v1::TransferStatus status;
  status.set_transfer_id(transfer_id);
  status.set_detail(
      absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(p.status.error_code())),
                   ": ", p.status.error_message()));
  return status;
}

// SendMany's group commit: the stream's reader prepares requests and queues
// them in request order; a committer takes every consecutive prepared request
// at once and commits them, with their audit events, in one synced store
// batch (relay sequences in request order); an answerer then writes their
// answers, in order. Disk latency is paid once per group, not per message,
// and preparing, committing and answering overlap.
//
// The writer gets each committed group's answers at once, in request order
// (SendMany writes them one message each, SendBatches packs them); it
// returns false once the client can no longer be written to.
class GroupCommitter {
 public:
  using Writer = std::function<bool(std::vector<v1::TransferStatus>&)>;

  GroupCommitter(AcceptPipeline* accept, Writer write)
      : accept_(accept),
        write_(std::move(write)),
        committer_([this] { CommitLoop(); }),
        answerer_([this] { AnswerLoop(); }) {}
  ~GroupCommitter() { Finish(); }

  // Queues a prepared request; blocks while too much is queued. False once
  // answers can no longer be written (the client went away): stop reading.
  bool Push(std::unique_ptr<PendingSend> p) {
    std::unique_lock<std::mutex> lock(mu_);
    room_cv_.wait(lock, [&] {
      return write_failed_ || (queued_.size() < kMaxQueued && queued_bytes_ < kMaxQueuedBytes);
    });
    // Queued even when writing failed: its commit ends its reservations.
    queued_bytes_ += p->bytes;
    queued_.push_back(std::move(p));
    work_cv_.notify_all();
    return !write_failed_;
  }

  // Commits what is queued, writes the answers, stops both threads.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      work_cv_.notify_all();
    }
    if (committer_.joinable()) committer_.join();
    if (answerer_.joinable()) answerer_.join();
  }

 private:
  using Group = std::deque<std::unique_ptr<PendingSend>>;
  static constexpr size_t kMaxQueued = 1024;
  static constexpr size_t kMaxQueuedBytes = size_t{64} << 20;
  // Committed groups waiting for their answers to be written: bounded so
  // that under a slow client the next group grows instead of the backlog.
  static constexpr size_t kMaxCommitted = 2;

  static std::vector<PreparedAccept*> View(Group& group) {
    std::vector<PreparedAccept*> batch;
    batch.reserve(group.size());
    for (auto& p : group) batch.push_back(&p->prepared);
    return batch;
  }

  void CommitLoop() {
    for (;;) {
      Group group;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(
            lock, [&] { return (done_ || !queued_.empty()) && committed_.size() < kMaxCommitted; });
        if (queued_.empty()) {  // done and drained
          commit_done_ = true;
          work_cv_.notify_all();
          return;
        }
        group.swap(queued_);
        queued_bytes_ = 0;
        room_cv_.notify_all();
      }
      HoldBackAfterRetryable(group);
      accept_->Commit(View(group));
      for (auto& p : group) NoteRetryable(*p);  // a failed store write
      std::lock_guard<std::mutex> lock(mu_);
      committed_.push_back(std::move(group));
      work_cv_.notify_all();
    }
  }

  // Order across retries: a client resends from the first request that
  // failed with a retryable error (nothing of it stored), so no later request
  // of this stream may be committed — it would be delivered before the
  // resent one, against the order the client sees acknowledged. Later
  // requests are answered ABORTED instead (the client resends them too).
  void HoldBackAfterRetryable(Group& group) {
    for (auto& p : group) {
      if (!retry_from_.empty()) {
        accept_->Abandon(
            &p->prepared,
            grpc::Status(grpc::StatusCode::ABORTED,
                         absl::StrCat("not accepted: the earlier request '", retry_from_,
                                      "' of this stream failed; resend from it")));
        continue;
      }
      NoteRetryable(*p);
    }
  }

  void NoteRetryable(const PendingSend& p) {
    if (!retry_from_.empty() || p.prepared.status.ok()) return;
    switch (p.prepared.status.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::ALREADY_EXISTS:
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::NOT_FOUND:
      case grpc::StatusCode::FAILED_PRECONDITION:
      case grpc::StatusCode::OUT_OF_RANGE:
      case grpc::StatusCode::UNIMPLEMENTED:
        return;  // final: a resend gets the same answer, so order cannot change
      default:
        retry_from_ = p.transfer_id;
    }
  }

  void AnswerLoop() {
    for (;;) {
      Group group;
      bool failed = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return commit_done_ || !committed_.empty(); });
        if (committed_.empty()) return;  // the committer is done and all is answered
        group = std::move(committed_.front());
        committed_.pop_front();
        failed = write_failed_;
        work_cv_.notify_all();  // room for the committer
      }
      // Durable and audited: a duplicate waiting for the id may proceed.
      for (auto& p : group) p->guard.reset();
      if (!failed) {
        std::vector<v1::TransferStatus> answers;
        answers.reserve(group.size());
        for (auto& p : group) answers.push_back(AnswerOf(p->prepared, p->transfer_id));
        failed = !write_(answers);
      }
      if (failed) {
        std::lock_guard<std::mutex> lock(mu_);
        write_failed_ = true;
        room_cv_.notify_all();
      }
    }
  }

  AcceptPipeline* accept_;
  Writer write_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // queued, committed, answered or done
  std::condition_variable room_cv_;  // room in the queue, or writing failed
  Group queued_;                     // prepared, not committed
  size_t queued_bytes_ = 0;
  std::deque<Group> committed_;  // committed and audited, answers due
  bool done_ = false;            // the reader stopped
  bool commit_done_ = false;     // the committer stopped (after done_, queue empty)
  bool write_failed_ = false;
  std::string retry_from_;  // committer only: first request that failed retryably
  // Last: they start once the members above exist.
  std::thread committer_;
  std::thread answerer_;
};

}  // namespace

ExchangeService::ExchangeService(ExchangeServiceOptions options, pki::Identity self,
                                 ExchangeStore* store, TransferKeySource* keys,
                                 PolicyHolder* policy)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->self = std::move(self);
  impl_->store = store;
  impl_->keys = keys;
  impl_->policy = policy;
  impl_->accept =
      std::make_unique<AcceptPipeline>(AcceptOptions{.secret_path = impl_->options.secret_path,
                                                     .work_dir = impl_->options.work_dir,
                                                     .sandbox_hint = impl_->options.sandbox_hint,
                                                     .on_outbox = impl_->options.on_outbox,
                                                     .on_decided = impl_->options.on_decided},
                                       impl_->self, store, keys);
}

ExchangeService::~ExchangeService() = default;

void ExchangeService::Stop() {
  impl_->stopped = true;
  std::lock_guard<std::mutex> lock(impl_->ack_mu);
  impl_->ack_cv.notify_all();
}

void ExchangeService::AddDirectMethods(rpc::DirectMethods& methods) {
  methods.AddUnary<v1::SendRequest, v1::TransferStatus>(
      "/beibu.v1.Exchange/Send",
      [this](rpc::CallScope& call, const v1::SendRequest& req, v1::TransferStatus* resp) {
        return ServeSend(call, &req, resp);
      });
  methods.AddBidi<v1::TransferStatus, v1::SendRequest>(
      "/beibu.v1.Exchange/SendMany",
      [this](rpc::CallScope& call, auto* stream) { return ServeSendMany(call, stream); });
  methods.AddBidi<v1::TransferStatusBatch, v1::SendBatch>(
      "/beibu.v1.Exchange/SendBatches",
      [this](rpc::CallScope& call, auto* stream) { return ServeSendBatches(call, stream); });
  methods.AddUnary<v1::GetTransferRequest, v1::TransferStatus>(
      "/beibu.v1.Exchange/GetTransfer",
      [this](rpc::CallScope& call, const v1::GetTransferRequest& req, v1::TransferStatus* resp) {
        return ServeGetTransfer(call, &req, resp);
      });
  methods.AddServerStreaming<v1::InboxRequest, v1::Delivery>(
      "/beibu.v1.Exchange/Inbox", [this](rpc::CallScope& call, const v1::InboxRequest& req,
                                         auto* writer) { return ServeInbox(call, &req, writer); });
  methods.AddServerStreaming<v1::InboxRequest, v1::DeliveryBatch>(
      "/beibu.v1.Exchange/InboxBatches",
      [this](rpc::CallScope& call, const v1::InboxRequest& req, auto* writer) {
        return ServeInboxBatches(call, &req, writer);
      });
  methods.AddUnary<v1::AckRequest, v1::AckResponse>(
      "/beibu.v1.Exchange/Ack",
      [this](rpc::CallScope& call, const v1::AckRequest& req, v1::AckResponse* resp) {
        return ServeAck(call, &req, resp);
      });
}

grpc::Status ExchangeService::Send(grpc::ServerContext* ctx, const v1::SendRequest* req,
                                   v1::TransferStatus* resp) {
  rpc::GrpcCallScope call(ctx);
  return ServeSend(call, req, resp);
}

grpc::Status ExchangeService::ServeSend(rpc::CallScope& call, const v1::SendRequest* req,
                                        v1::TransferStatus* resp) {
  pki::Identity caller;
  if (grpc::Status s = impl_->Authorize(call, &caller); !s.ok()) return s;
  return impl_->SendOne(caller, *req, resp);
}

grpc::Status ExchangeService::SendMany(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::TransferStatus, v1::SendRequest>* stream) {
  rpc::GrpcCallScope call(ctx);
  return ServeSendMany(call, stream);
}

grpc::Status ExchangeService::ServeSendMany(
    rpc::CallScope& call,
    grpc::ServerReaderWriterInterface<v1::TransferStatus, v1::SendRequest>* stream) {
  pki::Identity caller;
  if (grpc::Status s = impl_->Authorize(call, &caller); !s.ok()) return s;
  GroupCommitter committer(impl_->accept.get(), [stream](std::vector<v1::TransferStatus>& answers) {
    for (const v1::TransferStatus& answer : answers) {
      if (!stream->Write(answer)) return false;
    }
    return true;
  });
  for (;;) {
    v1::SendRequest req;
    if (!stream->Read(&req)) break;
    auto pending = std::make_unique<PendingSend>(impl_->Prepare(caller, req));
    if (!committer.Push(std::move(pending))) break;
  }
  committer.Finish();
  return grpc::Status::OK;
}

grpc::Status ExchangeService::SendBatches(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::TransferStatusBatch, v1::SendBatch>* stream) {
  rpc::GrpcCallScope call(ctx);
  return ServeSendBatches(call, stream);
}

grpc::Status ExchangeService::ServeSendBatches(
    rpc::CallScope& call,
    grpc::ServerReaderWriterInterface<v1::TransferStatusBatch, v1::SendBatch>* stream) {
  Impl& m = *impl_;
  pki::Identity caller;
  if (grpc::Status s = m.Authorize(call, &caller); !s.ok()) return s;
  // One message per committed group, cut at about kBatchBytes of answers.
  GroupCommitter committer(m.accept.get(), [stream](std::vector<v1::TransferStatus>& answers) {
    v1::TransferStatusBatch out;
    size_t bytes = 0;
    for (v1::TransferStatus& answer : answers) {
      bytes += answer.ByteSizeLong();
      *out.add_statuses() = std::move(answer);
      if (bytes >= kBatchBytes) {
        if (!stream->Write(out)) return false;
        out.Clear();
        bytes = 0;
      }
    }
    return out.statuses_size() == 0 || stream->Write(out);
  });
  grpc::Status result = grpc::Status::OK;
  for (bool reading = true; reading;) {
    v1::SendBatch batch;
    if (!stream->Read(&batch)) break;
    if (batch.requests_size() == 0) {
      // Nothing to answer in step with: the stream ends, after the answers
      // to every earlier request.
      result = Error(grpc::StatusCode::INVALID_ARGUMENT,
                     "a SendBatch carried no request; put at least one in each message and "
                     "resend the requests not answered yet on a new stream");
      break;
    }
    size_t payload_bytes = 0;
    for (const v1::SendRequest& req : batch.requests()) payload_bytes += req.payload().size();
    grpc::Status too_big = grpc::Status::OK;
    if (payload_bytes > m.options.max_send_bytes) {
      too_big =
          Error(grpc::StatusCode::INVALID_ARGUMENT,
                absl::StrCat("this request's SendBatch carries ", payload_bytes,
                             " bytes of payload, above the limit of ", m.options.max_send_bytes,
                             " bytes per batch; send fewer requests per batch"));
    }
    for (const v1::SendRequest& req : batch.requests()) {
      auto pending = std::make_unique<PendingSend>(too_big.ok() ? m.Prepare(caller, req)
                                                                : Impl::Refused(req, too_big));
      if (!committer.Push(std::move(pending))) {
        reading = false;
        break;
      }
    }
  }
  committer.Finish();
  return result;
}

grpc::Status ExchangeService::SendStream(grpc::ServerContext* ctx,
                                         grpc::ServerReader<v1::SendChunk>* reader,
                                         v1::TransferStatus* resp) {
  Impl& m = *impl_;
  pki::Identity caller;
  rpc::GrpcCallScope call(ctx);
  if (grpc::Status s = m.Authorize(call, &caller); !s.ok()) return s;
  v1::SendChunk chunk;
  if (!reader->Read(&chunk)) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "SendStream carried no message; the first one must hold the header");
  }
  if (!chunk.has_header()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "the first SendStream message must carry the transfer header");
  }
  const v1::TransferHeader header = chunk.header();
  const std::string& id = header.transfer_id();
  std::shared_ptr<const PolicySnapshot> snap = m.policy->current();
  if (absl::Status s = ValidateHeader(header, snap->db, m.self.country); !s.ok()) {
    return rpc::ToGrpc(s);
  }
  // One request when the header arrives; the bytes are paced chunk by chunk.
  Admitted admitted;
  if (grpc::Status s = Admit(m.options.gateway, caller, header, 0, &admitted); !s.ok()) return s;
  auto decided = [&](const v1::TransferStatus& st) {
    admitted.Decided(caller, m.self.country, header, st.size(), st.state());
  };
  v1::TransferRecord record;
  bool persisted = false;  // the record is in the store (RECEIVING)
  absl::StatusOr<v1::TransferRecord> existing = m.store->GetTransfer(id);
  if (existing.ok()) {
    if (existing->from_enterprise() != caller.id ||
        CanonicalHeader(existing->header()) != CanonicalHeader(header)) {
      return Error(grpc::StatusCode::ALREADY_EXISTS,
                   absl::StrCat("transfer id '", id,
                                "' was already used for a different transfer; choose a new id"));
    }
    if (existing->status().state() != v1::RECEIVING) {
      *resp = existing->status();  // a retry of a finished stream: the first answer
      decided(*resp);
      return grpc::Status::OK;
    }
    record = *std::move(existing);
    persisted = true;
  } else if (absl::IsNotFound(existing.status())) {
    *record.mutable_header() = header;
    record.set_from_enterprise(caller.id);
    record.set_from_country(m.self.country);
    v1::TransferStatus* st = record.mutable_status();
    st->set_transfer_id(id);
    st->set_state(v1::RECEIVING);
    st->set_to_country(header.to_country());
    st->set_to_enterprise(header.to_enterprise());
    SetStep(st, v1::RECEIVING, NowTimestamp());
  } else {
    return rpc::ToGrpc(existing.status());
  }
  // Stage every chunk; the store checks that offsets are contiguous.
  for (;;) {
    if (chunk.data().size() > m.options.max_send_bytes) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   absl::StrCat("a SendStream message carries ", chunk.data().size(),
                                " bytes, above the ", m.options.max_send_bytes,
                                " a message may carry; send at most 1 MiB per message"));
    }
    if (!chunk.data().empty() || chunk.offset() != record.status().size() || !persisted) {
      if (absl::Status s = m.store->StageRaw(record, chunk.offset(), chunk.data()); !s.ok()) {
        return rpc::ToGrpc(s);
      }
      record.mutable_status()->set_size(chunk.offset() + chunk.data().size());
      persisted = true;
    }
    if (header.total_size() > 0 && record.status().size() > header.total_size()) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   absl::StrCat("the stream carried ", record.status().size(),
                                " bytes, more than the header's total_size ", header.total_size()));
    }
    // The last chunk's bytes count too, but its answer does not wait: the
    // debt falls on the sender's next request.
    m.PaceStream(ctx, caller.id, chunk.data().size(), /*wait=*/!chunk.last());
    if (chunk.last()) break;
    if (!reader->Read(&chunk)) {
      return Error(grpc::StatusCode::FAILED_PRECONDITION,
                   absl::StrCat("the stream ended without a message with last=true; ",
                                record.status().size(),
                                " bytes are staged: resume with the same header from offset ",
                                record.status().size()));
    }
  }
  IdLocks::Guard guard(&m.id_locks, id);
  absl::StatusOr<v1::TransferRecord> current = m.store->GetTransfer(id);
  if (!current.ok()) return rpc::ToGrpc(current.status());
  if (current->status().state() != v1::RECEIVING) {  // a concurrent stream finished it
    *resp = current->status();
    decided(*resp);
    return grpc::Status::OK;
  }
  // One pass over the staged bytes: digest and scan, in constant memory.
  AcceptedPayload payload;
  payload.size = current->status().size();
  payload.staged_id = id;
  crypto::Sm3 sm3;
  IncrementalScanner scanner(*snap->detector, FormatOfContentType(header.content_type()));
  uint64_t seen = 0;
  absl::Status read = m.store->ReadRaw(id, [&](uint64_t offset, std::string_view data) {
    if (offset != seen) return false;
    sm3.Update(AsBytes(data));
    scanner.Feed(data);
    seen += data.size();
    return true;
  });
  if (!read.ok()) return rpc::ToGrpc(read);
  if (seen != payload.size) {
    return Error(grpc::StatusCode::DATA_LOSS,
                 absl::StrCat("transfer '", id, "': ", seen, " of ", payload.size,
                              " staged bytes could be read back; send it again with a new id"));
  }
  payload.sm3 = sm3.Final();
  std::set<std::string> types = scanner.Finish();
  payload.finding_types.assign(types.begin(), types.end());
  payload.format = scanner.format();
  grpc::Status accepted = m.accept->Accept(caller, *std::move(current), payload, *snap, resp);
  if (accepted.ok()) decided(*resp);
  return accepted;
}

grpc::Status ExchangeService::GetTransfer(grpc::ServerContext* ctx,
                                          const v1::GetTransferRequest* req,
                                          v1::TransferStatus* resp) {
  rpc::GrpcCallScope call(ctx);
  return ServeGetTransfer(call, req, resp);
}

grpc::Status ExchangeService::ServeGetTransfer(rpc::CallScope& call,
                                               const v1::GetTransferRequest* req,
                                               v1::TransferStatus* resp) {
  pki::Identity caller;
  if (grpc::Status s = impl_->Authorize(call, &caller); !s.ok()) return s;
  absl::StatusOr<v1::TransferRecord> r = impl_->store->GetTransfer(req->transfer_id());
  // Another enterprise's transfer is reported exactly like an unknown one.
  if ((r.ok() && r->from_enterprise() != caller.id) || absl::IsNotFound(r.status())) {
    return Error(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("no transfer '", req->transfer_id(), "' sent by ", caller.id));
  }
  if (!r.ok()) return rpc::ToGrpc(r.status());
  *resp = r->status();
  return grpc::Status::OK;
}

grpc::Status ExchangeService::Inbox(grpc::ServerContext* ctx, const v1::InboxRequest* req,
                                    grpc::ServerWriter<v1::Delivery>* writer) {
  rpc::GrpcCallScope call(ctx);
  return ServeInbox(call, req, writer);
}

grpc::Status ExchangeService::ServeInbox(rpc::CallScope& call, const v1::InboxRequest* req,
                                         grpc::ServerWriterInterface<v1::Delivery>* writer) {
  pki::Identity caller;
  if (grpc::Status s = impl_->Authorize(call, &caller); !s.ok()) return s;
  Impl::DeliverySink sink{.emit = [writer](v1::Delivery&& d) { return writer->Write(d); },
                          .flush = [] { return true; }};
  return impl_->ServeInbox(call, caller, req->max_unacked(), sink);
}

grpc::Status ExchangeService::InboxBatches(grpc::ServerContext* ctx, const v1::InboxRequest* req,
                                           grpc::ServerWriter<v1::DeliveryBatch>* writer) {
  rpc::GrpcCallScope call(ctx);
  return ServeInboxBatches(call, req, writer);
}

grpc::Status ExchangeService::ServeInboxBatches(
    rpc::CallScope& call, const v1::InboxRequest* req,
    grpc::ServerWriterInterface<v1::DeliveryBatch>* writer) {
  pki::Identity caller;
  if (grpc::Status s = impl_->Authorize(call, &caller); !s.ok()) return s;
  v1::DeliveryBatch batch;
  size_t bytes = 0;  // encoded size of `batch`'s deliveries (data and metadata)
  auto flush = [&] {
    if (batch.deliveries_size() == 0) return true;
    const bool ok = writer->Write(batch);
    batch.Clear();
    bytes = 0;
    return ok;
  };
  // A Delivery that would take the batch over kBatchBytes starts the next
  // one; a full batch leaves at once. Metadata counts too: many empty
  // payloads under a large max_unacked still make bounded messages.
  auto emit = [&](v1::Delivery&& d) {
    const size_t size = d.ByteSizeLong();
    if (bytes > 0 && bytes + size > kBatchBytes && !flush()) return false;
    bytes += size;
    *batch.add_deliveries() = std::move(d);
    return bytes < kBatchBytes || flush();
  };
  return impl_->ServeInbox(call, caller, req->max_unacked(),
                           Impl::DeliverySink{.emit = emit, .flush = flush});
}

grpc::Status ExchangeService::Impl::ServeInbox(rpc::CallScope& call, const pki::Identity& caller,
                                               uint32_t requested_max_unacked,
                                               const DeliverySink& sink) {
  Impl& m = *this;
  const size_t max_unacked = requested_max_unacked > 0 ? requested_max_unacked : kDefaultMaxUnacked;
  uint64_t after = 0;
  std::set<std::string> unacked;  // sent on this stream, not acknowledged yet
  Impl::AckListener listener{.enterprise = caller.id, .acked = {}};
  {
    std::lock_guard<std::mutex> lock(m.ack_mu);
    m.ack_listeners.push_back(&listener);
  }
  struct Unlisten {
    Impl* m;
    Impl::AckListener* l;
    ~Unlisten() {
      std::lock_guard<std::mutex> lock(m->ack_mu);
      m->ack_listeners.remove(l);
    }
  } unlisten{&m, &listener};
  while (!call.IsCancelled() && !m.stopped) {
    std::vector<std::string> acked;
    {
      std::lock_guard<std::mutex> lock(m.ack_mu);
      acked.swap(listener.acked);
    }
    for (const std::string& id : acked) unacked.erase(id);
    if (unacked.size() >= max_unacked) {
      std::unique_lock<std::mutex> lock(m.ack_mu);
      const bool woken = m.ack_cv.wait_for(
          lock, kInboxPoll, [&] { return !listener.acked.empty() || m.stopped.load(); });
      lock.unlock();
      if (!woken) m.RecheckUnacked(unacked);
      continue;
    }
    absl::StatusOr<std::vector<v1::DeliveryRecord>> pending =
        m.store->PendingDeliveries(caller.id, after, max_unacked - unacked.size());
    if (!pending.ok()) return rpc::ToGrpc(pending.status());
    if (pending->empty()) {
      m.store->WaitForInbox(caller.id, after, kInboxPoll);
      continue;
    }
    for (const v1::DeliveryRecord& d : *pending) {
      after = d.inbox_sequence();
      v1::EnvelopeHeader h;
      if (!h.ParseFromString(d.envelope_header())) {
        spdlog::error("event=inbox_skip reason=header_unparseable inbox_sequence={}", after);
        continue;
      }
      absl::StatusOr<envelope::TransferKeys> keys = m.keys->KeysFor(h);
      absl::StatusOr<envelope::ChunkOpener> opener =
          keys.ok() ? envelope::ChunkOpener::Create(*keys, d.envelope_header())
                    : absl::StatusOr<envelope::ChunkOpener>(keys.status());
      if (!opener.ok()) {
        spdlog::error("event=inbox_skip transfer_id={} error=\"{}\"", h.transfer_id(),
                      std::string(opener.status().message()));
        continue;
      }
      // One Delivery per chunk; payload_sm3 (hex, of the whole delivered
      // plaintext) is computed while streaming and set on the last one only.
      crypto::Sm3 sm3;
      uint64_t offset = 0;
      for (uint32_t i = 0; i < h.chunks(); ++i) {
        absl::StatusOr<std::string> sealed = m.store->ReadChunk(h.transfer_id(), i);
        absl::StatusOr<Bytes> plain = sealed.ok() ? opener->Open(i, AsBytes(*sealed))
                                                  : absl::StatusOr<Bytes>(sealed.status());
        if (!plain.ok()) {
          // Chunks were verified on arrival: this is local corruption.
          spdlog::error("event=inbox_skip transfer_id={} chunk={} error=\"{}\"", h.transfer_id(), i,
                        std::string(plain.status().message()));
          break;
        }
        sm3.Update(*plain);
        v1::Delivery out;
        out.set_transfer_id(h.transfer_id());
        out.set_from_enterprise(h.from_enterprise());
        out.set_from_country(h.from_country());
        out.set_category(h.category());
        v1::Decision* dec = out.mutable_decision();
        dec->set_decision(h.decision());
        for (const std::string& r : h.rules()) dec->add_rules(r);
        dec->set_policy_version(h.policy_version());
        out.set_offset(offset);
        out.set_data(std::string(AsChars(*plain)));
        out.set_size(h.size());
        *out.mutable_accepted_at() = h.accepted_at();
        offset += plain->size();
        if (i + 1 == h.chunks()) {
          out.set_last(true);
          crypto::Sm3Digest digest = sm3.Final();
          out.set_payload_sm3(Hex(digest));
        }
        if (!sink.emit(std::move(out))) return grpc::Status::OK;  // the client went away
      }
      unacked.insert(h.transfer_id());
    }
    if (!sink.flush()) return grpc::Status::OK;  // the client went away
  }
  return grpc::Status::OK;
}

grpc::Status ExchangeService::Ack(grpc::ServerContext* ctx, const v1::AckRequest* req,
                                  v1::AckResponse* resp) {
  rpc::GrpcCallScope call(ctx);
  return ServeAck(call, req, resp);
}

grpc::Status ExchangeService::ServeAck(rpc::CallScope& call, const v1::AckRequest* req,
                                       v1::AckResponse* resp) {
  Impl& m = *impl_;
  pki::Identity caller;
  if (grpc::Status s = m.Authorize(call, &caller); !s.ok()) return s;
  std::vector<std::string> ids(req->transfer_ids().begin(), req->transfer_ids().end());
  const google::protobuf::Timestamp now = NowTimestamp();
  // The transfer.acknowledged events and the notices to the source edges go
  // in the same synced batch.
  auto audit_of = [&caller](const v1::DeliveryRecord& d) {
    v1::AuditEvent e = envelope::TransferStepEvent("transfer.acknowledged", d.envelope_header());
    *e.mutable_who() = audit::ActorOf(caller);
    return e;
  };
  absl::StatusOr<std::vector<std::string>> acked =
      m.store->Acknowledge(caller.id, ids, m.self.id, now, audit_of);
  if (!acked.ok()) return rpc::ToGrpc(acked.status());
  if (!acked->empty() && m.options.on_outbox) m.options.on_outbox();
  m.NotifyAcked(caller.id, *acked);
  resp->set_acknowledged(static_cast<uint32_t>(acked->size()));
  return grpc::Status::OK;
}

}  // namespace beibu::edge
