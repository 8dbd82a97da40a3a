// beibu.v1.Exchange on an edge (proto/beibu/v1/exchange.proto has the
// contract; docs/data-plane.md the design). Enterprises of the edge's own
// country only; the caller's certificate is the sender / the recipient.
//
// Accept path (Send, SendMany, SendBatches, and SendStream once its last chunk is in):
//   authenticate -> validate header (transfer id syntax, countries, category)
//   -> gateway (breakers, rate limit; docs/gateway.md) -> idempotency (same id + same request
//   digest: first answer; different content: ALREADY_EXISTS) -> scan the payload (format from
//   content_type or sniffed) -> reserve persons (exporter = the sender's certificate id, per
//   calendar year UTC) -> policy::Decide on a PolicyHolder snapshot ->
//   DENY / SANDBOX_ONLY: record + audit, answer at once (the status carries
//   rule ids; SANDBOX_ONLY a sandbox_hint) ->
//   MASK: mask with the decision's profile (pseudonym key: the edge's secret
//   in data_dir/exchange-secret) -> FAST / MASK / REVIEW: seal for the
//   destination edge (EpochKeys::PrepareSend, ChunkSealer, 1 MiB chunks,
//   envelope slices of at most 4 MiB) -> CommitTransfer (REVIEW stays at the
//   source, HELD_FOR_REVIEW) with its audit `transfer.accept` staged in the
//   same synced write (decision, rules, level, countries, category, digests:
//   "sm3" of the payload as sent and "sm3-envelope-header" of the header
//   bytes) -> answer.
// Inbox: complete deliveries for the caller, opened chunk by chunk (keys from
//   EpochKeys::KeysFor), oldest first, at most max_unacked unacknowledged in
//   flight; waits for new ones until the client cancels.
// InboxBatches: the same Delivery messages in the same order, with the same
//   flow control, packed into DeliveryBatch messages: a batch leaves when it
//   holds about 1 MiB (encoded; a Delivery that would take it over starts the
//   next one) and at the end of every read of pending deliveries, so that
//   nothing ready waits for more. A payload's parts may span batches.
// SendBatches: SendMany with several requests per message, through the same
//   group commit (same order, idempotency, in-stream "CODE: message" errors,
//   ABORTED after a retryable error, the same bound on queued bytes). Answers
//   go out as one TransferStatusBatch per committed group (cut at about
//   1 MiB), so their boundaries follow the commits, not the requests'
//   batches. A batch whose payloads total more than max_send_bytes is refused
//   as a whole: each of its requests is answered INVALID_ARGUMENT in the
//   stream (answers stay in step with requests) and nothing of it is stored;
//   the stream goes on. A batch with no request ends the stream with
//   INVALID_ARGUMENT, once every earlier request is committed and answered.
// Ack: ExchangeStore::Acknowledge, with audit `transfer.acknowledged` and a
//   NOTICE_ACKNOWLEDGED to the source edge in the same synced write.
#pragma once

#include <functional>
#include <memory>

#include "beibu/audit/audit_log.h"
#include "beibu/pki/identity.h"
#include "beibu/policy/route.h"
#include "beibu/rpc/direct_methods.h"
#include "beibu/v1/exchange.grpc.pb.h"
#include "exchange/exchange_store.h"
#include "exchange/key_source.h"
#include "exchange/policy_holder.h"

namespace beibu::edge {

class EdgeGateway;

struct ExchangeServiceOptions {
  std::string secret_path;  // pseudonym key file, created (0600) if absent
  // Where SendStream's masked output is spooled while it is sealed (deleted
  // right after); empty: the directory of secret_path.
  std::string work_dir;
  // Called after a commit that added outbox items (wakes the relay link).
  std::function<void()> on_outbox;
  // Every route decided, with its exporter (risk warnings); may be empty.
  std::function<void(const std::string& exporter, const policy::RouteRequest&)> on_decided;
  size_t max_send_bytes = size_t{4} << 20;
  // The gateway's checks (docs/gateway.md §1), per request after header
  // validation and before the scan: an open breaker answers UNAVAILABLE, the
  // rate limit RESOURCE_EXHAUSTED (in-stream for SendMany / SendBatches);
  // nothing of a refused request is stored or observed. Decided requests
  // (also idempotent replays, which count like any request) are observed by
  // its detectors. SendStream is admitted once, when its header arrives, and
  // its chunks are paced by the byte limit. Null: no checks.
  EdgeGateway* gateway = nullptr;
  // Where SANDBOX_ONLY answers point.
  std::string sandbox_hint =
      "run the computation in the source country's sandbox "
      "(issue 6: privacy computing); the data does not leave";
};

class ExchangeService final : public v1::Exchange::Service, public rpc::DirectService {
 public:
  // `self` is this edge's certificate identity (EdgeIdentity::self()): its id
  // is the envelopes' from_edge, its country the only one whose enterprises
  // may call.
  // Audit events go through `store`'s audit journal (ExchangeStore::Open).
  ExchangeService(ExchangeServiceOptions options, pki::Identity self, ExchangeStore* store,
                  TransferKeySource* keys, PolicyHolder* policy);
  ~ExchangeService() override;

  grpc::Status Send(grpc::ServerContext* ctx, const v1::SendRequest* req,
                    v1::TransferStatus* resp) override;
  grpc::Status SendMany(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::TransferStatus, v1::SendRequest>* stream) override;
  grpc::Status SendBatches(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::TransferStatusBatch, v1::SendBatch>* stream) override;
  grpc::Status SendStream(grpc::ServerContext* ctx, grpc::ServerReader<v1::SendChunk>* reader,
                          v1::TransferStatus* resp) override;
  grpc::Status GetTransfer(grpc::ServerContext* ctx, const v1::GetTransferRequest* req,
                           v1::TransferStatus* resp) override;
  grpc::Status Inbox(grpc::ServerContext* ctx, const v1::InboxRequest* req,
                     grpc::ServerWriter<v1::Delivery>* writer) override;
  grpc::Status InboxBatches(grpc::ServerContext* ctx, const v1::InboxRequest* req,
                            grpc::ServerWriter<v1::DeliveryBatch>* writer) override;
  grpc::Status Ack(grpc::ServerContext* ctx, const v1::AckRequest* req,
                   v1::AckResponse* resp) override;

  // Every method but SendStream, whose large messages gain little from it
  // (rpc/direct_methods.h).
  void AddDirectMethods(rpc::DirectMethods& methods) override;

  // Ends Inbox and InboxBatches streams (shutdown).
  void Stop();

 private:
  // The methods' bodies, for both the gRPC and the direct path.
  grpc::Status ServeSend(rpc::CallScope& call, const v1::SendRequest* req,
                         v1::TransferStatus* resp);
  grpc::Status ServeSendMany(
      rpc::CallScope& call,
      grpc::ServerReaderWriterInterface<v1::TransferStatus, v1::SendRequest>* stream);
  grpc::Status ServeSendBatches(
      rpc::CallScope& call,
      grpc::ServerReaderWriterInterface<v1::TransferStatusBatch, v1::SendBatch>* stream);
  grpc::Status ServeGetTransfer(rpc::CallScope& call, const v1::GetTransferRequest* req,
                                v1::TransferStatus* resp);
  grpc::Status ServeInbox(rpc::CallScope& call, const v1::InboxRequest* req,
                          grpc::ServerWriterInterface<v1::Delivery>* writer);
  grpc::Status ServeInboxBatches(rpc::CallScope& call, const v1::InboxRequest* req,
                                 grpc::ServerWriterInterface<v1::DeliveryBatch>* writer);
  grpc::Status ServeAck(rpc::CallScope& call, const v1::AckRequest* req, v1::AckResponse* resp);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::edge
