// A fake edge behind the SDK's Transport interface: SendStream that can break
// the session after N bytes, GetTransfer answering from what it holds, an
// Inbox stream fed by the test, and any unary call handed to a test hook.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "beibu/v1/exchange.pb.h"
#include "transport.h"

namespace beibu::testing {

struct FakeEdge {
  std::mutex mu;
  std::condition_variable cv;
  // SendStream.
  std::string received;  // contiguous bytes the edge holds
  bool complete = false;
  uint64_t break_after = std::numeric_limits<uint64_t>::max();  // once, then cleared
  std::vector<uint64_t> stream_starts;  // offset of the first chunk of every stream
  std::vector<bool> stream_had_header;
  std::string last_transfer_id;
  // Session.
  bool broken = false;
  int reconnects = 0;
  // Inbox.
  std::deque<v1::Delivery> deliveries;
  bool inbox_ends = false;        // after the queue is drained, end the stream (else block)
  bool no_inbox_batches = false;  // an older edge: InboxBatches is UNIMPLEMENTED
  std::vector<std::string> streams_started;
  // Unary calls other than GetTransfer (Send, Ack, ...).
  std::function<absl::Status(const std::string&, const google::protobuf::Message&,
                             google::protobuf::Message*)>
      on_call;
  std::vector<std::string> methods_called;

  void Push(v1::Delivery d) {
    std::lock_guard<std::mutex> lock(mu);
    deliveries.push_back(std::move(d));
    cv.notify_all();
  }
};

class FakeSendStream : public sdk_internal::Stream {
 public:
  explicit FakeSendStream(FakeEdge* e) : e_(e) {}
  absl::Status Write(const google::protobuf::Message& m) override {
    const auto& c = static_cast<const v1::SendChunk&>(m);
    std::lock_guard<std::mutex> lock(e_->mu);
    if (e_->broken) return absl::UnavailableError("session broke");
    if (first_) {
      e_->stream_starts.push_back(c.offset());
      e_->stream_had_header.push_back(c.has_header());
      if (c.has_header()) e_->last_transfer_id = c.header().transfer_id();
      first_ = false;
    }
    if (c.offset() != e_->received.size()) {
      status_ = absl::FailedPreconditionError("chunk not contiguous");
      return status_;
    }
    if (e_->received.size() + c.data().size() > e_->break_after) {
      e_->broken = true;
      e_->break_after = std::numeric_limits<uint64_t>::max();
      return absl::UnavailableError("session broke");
    }
    e_->received += c.data();
    if (c.last()) e_->complete = true;
    return absl::OkStatus();
  }
  absl::Status WritesDone() override { return absl::OkStatus(); }
  bool Read(google::protobuf::Message* m) override {
    std::lock_guard<std::mutex> lock(e_->mu);
    if (e_->broken || !status_.ok() || !e_->complete || read_) return false;
    auto* st = static_cast<v1::TransferStatus*>(m);
    st->set_transfer_id(e_->last_transfer_id);
    st->set_state(v1::IN_FLIGHT);
    st->set_size(e_->received.size());
    read_ = true;
    return true;
  }
  absl::Status Finish() override {
    std::lock_guard<std::mutex> lock(e_->mu);
    if (e_->broken) return absl::UnavailableError("session broke");
    return status_;
  }
  void Cancel() override {}

 private:
  FakeEdge* e_;
  bool first_ = true, read_ = false;
  absl::Status status_;
};

// An RPC the edge does not have: ends at once with UNIMPLEMENTED.
class UnimplementedStream : public sdk_internal::Stream {
 public:
  absl::Status Write(const google::protobuf::Message&) override { return absl::OkStatus(); }
  absl::Status WritesDone() override { return absl::OkStatus(); }
  bool Read(google::protobuf::Message*) override { return false; }
  absl::Status Finish() override { return absl::UnimplementedError("unknown method"); }
  void Cancel() override {}
};

class FakeInboxStream : public sdk_internal::Stream {
 public:
  explicit FakeInboxStream(FakeEdge* e) : e_(e) {}
  absl::Status Write(const google::protobuf::Message&) override { return absl::OkStatus(); }
  absl::Status WritesDone() override { return absl::OkStatus(); }
  bool Read(google::protobuf::Message* m) override {
    std::unique_lock<std::mutex> lock(e_->mu);
    e_->cv.wait(lock, [&] { return cancelled_ || !e_->deliveries.empty() || e_->inbox_ends; });
    if (cancelled_ || e_->deliveries.empty()) return false;
    // InboxBatches: everything queued so far in one message, as the edge
    // packs what is ready.
    if (auto* batch = dynamic_cast<v1::DeliveryBatch*>(m)) {
      batch->Clear();
      while (!e_->deliveries.empty()) {
        *batch->add_deliveries() = std::move(e_->deliveries.front());
        e_->deliveries.pop_front();
      }
      return true;
    }
    m->CopyFrom(e_->deliveries.front());
    e_->deliveries.pop_front();
    return true;
  }
  absl::Status Finish() override {
    std::lock_guard<std::mutex> lock(e_->mu);
    return cancelled_ ? absl::CancelledError("cancelled") : absl::OkStatus();
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(e_->mu);
    cancelled_ = true;
    e_->cv.notify_all();
  }

 private:
  FakeEdge* e_;
  bool cancelled_ = false;
};

class FakeTransport : public sdk_internal::Transport {
 public:
  explicit FakeTransport(FakeEdge* e) : e_(e) {}
  absl::Status Call(const std::string& method, const google::protobuf::Message& request,
                    google::protobuf::Message* response, std::chrono::milliseconds) override {
    {
      std::lock_guard<std::mutex> lock(e_->mu);
      e_->methods_called.push_back(method);
      if (e_->broken) return absl::UnavailableError("session broke");
      if (method == "/beibu.v1.Exchange/GetTransfer" && !e_->on_call) {
        auto* st = static_cast<v1::TransferStatus*>(response);
        st->set_transfer_id(e_->last_transfer_id);
        st->set_state(e_->complete ? v1::IN_FLIGHT : v1::RECEIVING);
        st->set_size(e_->received.size());
        return absl::OkStatus();
      }
    }
    if (!e_->on_call) return absl::UnimplementedError(method);
    return e_->on_call(method, request, response);
  }
  std::unique_ptr<sdk_internal::Stream> StartCall(const std::string& method,
                                                  std::chrono::milliseconds) override {
    {
      std::lock_guard<std::mutex> lock(e_->mu);
      e_->streams_started.push_back(method);
      if (method == "/beibu.v1.Exchange/InboxBatches" && e_->no_inbox_batches) {
        return std::make_unique<UnimplementedStream>();
      }
    }
    if (method == "/beibu.v1.Exchange/Inbox" || method == "/beibu.v1.Exchange/InboxBatches") {
      return std::make_unique<FakeInboxStream>(e_);
    }
    return std::make_unique<FakeSendStream>(e_);
  }
  absl::Status Reconnect() override {
    std::lock_guard<std::mutex> lock(e_->mu);
    if (e_->broken) {
      e_->broken = false;
      ++e_->reconnects;
    }
    return absl::OkStatus();
  }
  std::string server_id() const override { return "edge-fake"; }

 private:
  FakeEdge* e_;
};

}  // namespace beibu::testing
