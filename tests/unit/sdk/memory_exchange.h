// A minimal in-memory beibu.v1.Exchange for SDK tests over a real loopback
// tunnel: idempotent Send, resumable SendStream, GetTransfer, a chunked
// Inbox and Ack, SendBatches with the edge's in-stream errors and hooks that
// fail its streams part-way. Decisions are canned: category "deny.me" is DENY, anything
// else FAST. One recipient inbox for everyone (the tests have one).
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "beibu/v1/exchange.grpc.pb.h"

namespace beibu::testing {

class MemoryExchange : public v1::Exchange::Service {
 public:
  struct Transfer {
    v1::TransferHeader header;
    std::string data;
    v1::TransferStatus status;        // as it stands (GetTransfer)
    v1::TransferStatus first_answer;  // what a repeated Send returns
  };

  std::mutex mu;
  std::map<std::string, Transfer> transfers;
  std::deque<std::string> pending;  // delivered, not acknowledged, oldest first
  uint64_t fail_stream_once_after = std::numeric_limits<uint64_t>::max();
  std::vector<uint64_t> stream_starts;
  size_t delivery_chunk = 1000;
  int sends = 0;
  std::map<std::string, int> stored;  // transfer id -> times decided and stored

  // SendBatches hooks, each for the next `*_streams` streams: after
  // `unavailable_after` requests of a stream, answer UNAVAILABLE in the
  // stream (and ABORTED for the rest of it, like the edge); after
  // `break_after` requests, end the stream with UNAVAILABLE.
  int unavailable_streams = 0;
  uint64_t unavailable_after = 0;
  int break_streams = 0;
  uint64_t break_after = 0;
  int batch_streams = 0;           // SendBatches calls
  size_t max_batch_payload = 0;    // the largest SendBatch seen (payload bytes)
  size_t batches = 0;              // SendBatch messages seen
  size_t answers_per_message = 3;  // answers are cut independently of the batches

  grpc::Status Send(grpc::ServerContext*, const v1::SendRequest* req,
                    v1::TransferStatus* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    ++sends;
    auto it = transfers.find(req->header().transfer_id());
    if (it != transfers.end()) {
      if (it->second.data != req->payload()) {
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "same id, different content");
      }
      *resp = it->second.first_answer;
      return grpc::Status::OK;
    }
    *resp = Finish(req->header(), req->payload());
    return grpc::Status::OK;
  }

  grpc::Status SendBatches(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::TransferStatusBatch, v1::SendBatch>* stream) override {
    bool unavailable = false, breaks = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++batch_streams;
      if (unavailable_streams > 0) unavailable = unavailable_streams-- > 0;
      if (break_streams > 0) breaks = break_streams-- > 0;
    }
    uint64_t seen = 0;
    bool aborting = false;
    v1::SendBatch batch;
    while (stream->Read(&batch)) {
      if (batch.requests_size() == 0) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a SendBatch carried no request");
      }
      size_t payload = 0;
      for (const v1::SendRequest& r : batch.requests()) payload += r.payload().size();
      std::vector<v1::TransferStatus> answers;
      {
        std::lock_guard<std::mutex> lock(mu);
        ++batches;
        max_batch_payload = std::max(max_batch_payload, payload);
        for (const v1::SendRequest& r : batch.requests()) {
          if (breaks && seen == break_after) {
            if (!WriteAnswers(stream, answers)) return grpc::Status::OK;
            return grpc::Status(grpc::StatusCode::UNAVAILABLE, "edge restarting");
          }
          ++seen;
          const std::string& id = r.header().transfer_id();
          if (unavailable && seen == unavailable_after + 1) {
            answers.push_back(Error(id, "UNAVAILABLE: the store is busy"));
            aborting = true;
          } else if (aborting) {
            answers.push_back(Error(id, "ABORTED: an earlier request failed; resend from it"));
          } else if (payload > (4u << 20)) {
            answers.push_back(Error(id, "INVALID_ARGUMENT: the batch is above 4 MiB"));
          } else {
            answers.push_back(SendLocked(r));
          }
        }
      }
      if (!WriteAnswers(stream, answers)) return grpc::Status::OK;
    }
    return grpc::Status::OK;
  }

  grpc::Status SendStream(grpc::ServerContext*, grpc::ServerReader<v1::SendChunk>* reader,
                          v1::TransferStatus* resp) override {
    v1::SendChunk c;
    std::string id;  // from the first chunk's header
    while (reader->Read(&c)) {
      std::lock_guard<std::mutex> lock(mu);
      if (id.empty()) {
        if (!c.has_header()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no header");
        id = c.header().transfer_id();
        stream_starts.push_back(c.offset());
        Transfer& t = transfers[id];
        if (t.status.transfer_id().empty()) {
          t.header = c.header();
          t.status.set_transfer_id(id);
          t.status.set_state(v1::RECEIVING);
        }
      }
      Transfer& t = transfers[id];
      if (c.offset() != t.data.size()) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not contiguous");
      }
      if (t.data.size() + c.data().size() > fail_stream_once_after) {
        fail_stream_once_after = std::numeric_limits<uint64_t>::max();
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "edge restarting");
      }
      t.data += c.data();
      t.status.set_size(t.data.size());
      if (c.last()) {
        *resp = Finish(t.header, t.data);
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream ended before the last chunk");
  }

  grpc::Status GetTransfer(grpc::ServerContext*, const v1::GetTransferRequest* req,
                           v1::TransferStatus* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = transfers.find(req->transfer_id());
    if (it == transfers.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such transfer");
    *resp = it->second.status;
    return grpc::Status::OK;
  }

  grpc::Status Inbox(grpc::ServerContext* ctx, const v1::InboxRequest*,
                     grpc::ServerWriter<v1::Delivery>* writer) override {
    return ServeInbox(ctx, [&](const v1::Delivery& d) { return writer->Write(d); });
  }

  // The same deliveries, every transfer's parts in one message.
  grpc::Status InboxBatches(grpc::ServerContext* ctx, const v1::InboxRequest*,
                            grpc::ServerWriter<v1::DeliveryBatch>* writer) override {
    v1::DeliveryBatch batch;
    return ServeInbox(ctx, [&](const v1::Delivery& d) {
      *batch.add_deliveries() = d;
      if (!d.last()) return true;
      bool ok = writer->Write(batch);
      batch.Clear();
      return ok;
    });
  }

  grpc::Status ServeInbox(grpc::ServerContext* ctx,
                          const std::function<bool(const v1::Delivery&)>& write) {
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.assign(pending.begin(), pending.end());
    }
    for (const std::string& id : ids) {
      std::vector<v1::Delivery> chunks;
      {
        std::lock_guard<std::mutex> lock(mu);
        const Transfer& t = transfers[id];
        size_t off = 0;
        do {
          v1::Delivery d;
          d.set_transfer_id(id);
          d.set_from_enterprise("vn-shipper");
          d.set_from_country("VN");
          d.set_category(t.header.category());
          *d.mutable_decision() = t.status.decision();
          d.set_size(t.data.size());
          d.set_payload_sm3(HexEncode(crypto::Sm3::Hash(AsBytes(t.data))));
          d.set_offset(off);
          size_t n = std::min(delivery_chunk, t.data.size() - off);
          d.set_data(t.data.substr(off, n));
          off += n;
          d.set_last(off == t.data.size());
          chunks.push_back(std::move(d));
        } while (off < t.data.size());
      }
      for (const v1::Delivery& d : chunks) {
        if (!write(d)) return grpc::Status::OK;
      }
    }
    // Then wait for new ones like a real edge would, until the client leaves.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!ctx->IsCancelled() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return grpc::Status::OK;
  }

  grpc::Status Ack(grpc::ServerContext*, const v1::AckRequest* req,
                   v1::AckResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    uint32_t n = 0;
    for (const std::string& id : req->transfer_ids()) {
      auto it = std::find(pending.begin(), pending.end(), id);
      if (it == pending.end()) continue;
      pending.erase(it);
      transfers[id].status.set_state(v1::ACKNOWLEDGED);
      ++n;
    }
    resp->set_acknowledged(n);
    return grpc::Status::OK;
  }

 private:
  static v1::TransferStatus Error(const std::string& id, const std::string& detail) {
    v1::TransferStatus s;
    s.set_transfer_id(id);
    s.set_detail(detail);
    return s;
  }

  // Send's answer (or error) for one request of a batch. mu held.
  v1::TransferStatus SendLocked(const v1::SendRequest& r) {
    const std::string& id = r.header().transfer_id();
    auto it = transfers.find(id);
    if (it == transfers.end()) return Finish(r.header(), r.payload());
    if (it->second.data != r.payload()) {
      return Error(id, "ALREADY_EXISTS: same id, different content");
    }
    return it->second.first_answer;
  }

  bool WriteAnswers(grpc::ServerReaderWriter<v1::TransferStatusBatch, v1::SendBatch>* stream,
                    const std::vector<v1::TransferStatus>& answers) {
    v1::TransferStatusBatch out;
    for (const v1::TransferStatus& a : answers) {
      *out.add_statuses() = a;
      if (out.statuses_size() >= static_cast<int>(answers_per_message)) {
        if (!stream->Write(out)) return false;
        out.Clear();
      }
    }
    return out.statuses_size() == 0 || stream->Write(out);
  }

  // Decides and, when accepted, "delivers" at once. mu held.
  v1::TransferStatus Finish(const v1::TransferHeader& h, const std::string& data) {
    Transfer& t = transfers[h.transfer_id()];
    ++stored[h.transfer_id()];
    t.header = h;
    t.data = data;
    v1::TransferStatus& s = t.status;
    s.set_transfer_id(h.transfer_id());
    s.set_to_country(h.to_country());
    s.set_to_enterprise(h.to_enterprise());
    s.set_size(data.size());
    s.set_payload_sm3(HexEncode(crypto::Sm3::Hash(AsBytes(data))));
    bool deny = h.category() == "deny.me";
    s.mutable_decision()->set_decision(deny ? "DENY" : "FAST");
    s.mutable_decision()->add_rules(deny ? "test.deny" : "test.fast");
    s.mutable_decision()->set_reason(deny ? "this category may not leave" : "general data");
    s.set_state(deny ? v1::DENIED : v1::IN_FLIGHT);
    (*s.mutable_steps())["ACCEPTED"].set_seconds(1800000000);
    (*s.mutable_steps())[deny ? "DENIED" : "IN_FLIGHT"].set_seconds(1800000001);
    v1::TransferStatus answer = s;
    t.first_answer = answer;
    if (!deny) {
      pending.push_back(h.transfer_id());
      s.set_state(v1::DELIVERED);  // what GetTransfer shows from now on
    }
    return answer;
  }
};

}  // namespace beibu::testing
