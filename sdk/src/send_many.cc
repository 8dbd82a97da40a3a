// Client::SendMany: many transfers over one Exchange.SendBatches stream,
// packed up to 4 MiB of payload per stream message, with a window on what is
// unanswered, and resumed on a new stream from the first transfer without a
// final answer (exchange.proto: answers in request order across batches;
// after a retryable error the rest of the stream is answered ABORTED).
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client_impl.h"

namespace beibu {
namespace {

using Result = absl::StatusOr<v1::TransferStatus>;

// The edge refuses a SendBatch above 4 MiB of payload as a whole.
constexpr uint64_t kMaxBatchPayload = kMaxSendPayload;
// Headers count too, so that a flood of empty payloads still makes bounded
// stream messages; a batch stops growing at this many encoded bytes.
constexpr uint64_t kMaxBatchEncoded = kMaxBatchPayload + (uint64_t{1} << 20);
// The tunnel has no flow control inside a call (Write never blocks) and the
// edge stops reading while its queue is full, so what is unanswered would
// pile up in memory on both sides without this bound (encoded request bytes,
// so at most this much payload).
constexpr uint64_t kMaxUnanswered = uint64_t{16} << 20;

// "CODE_NAME: message" (absl::StatusCodeToString) from an answer without a
// state back into a Status; an unknown name gives UNKNOWN with the whole text.
absl::Status ParseDetail(const std::string& detail) {
  if (detail.empty()) {
    return absl::UnknownError("the edge answered this transfer with neither a state nor an error");
  }
  size_t colon = detail.find(": ");
  if (colon != std::string::npos) {
    std::string name = detail.substr(0, colon);
    for (int c = 1; c <= 16; ++c) {
      auto code = static_cast<absl::StatusCode>(c);
      if (absl::StatusCodeToString(code) == name) {
        return absl::Status(code, detail.substr(colon + 2));
      }
    }
  }
  return absl::UnknownError(detail);
}

Result ToResult(const v1::TransferStatus& st) {
  if (st.state() != v1::TRANSFER_STATE_UNSPECIFIED) return st;
  return ParseDetail(st.detail());
}

// One SendBatches stream for the transfers todo[from..]. Answers go to
// results; the writer is the calling thread, a reader thread collects.
class BatchStream {
 public:
  BatchStream(Client::Impl& impl, const std::vector<OutgoingTransfer>& transfers,
              const std::vector<size_t>& todo, std::vector<Result>& results)
      : impl_(impl), transfers_(transfers), todo_(todo), results_(results) {}

  // Returns the position in todo of the first transfer without a final
  // answer (todo.size() when all have one) and sets *why to what stopped
  // the stream before it.
  size_t Run(size_t from, absl::Status* why) {
    from_ = from;
    next_ = from;
    stream_ = impl_.transport->StartCall(kSendBatchesMethod, std::chrono::milliseconds(0));
    last_progress_ = std::chrono::steady_clock::now();
    std::thread reader([this] { ReadAnswers(); });
    absl::Status write_status = WriteAll();
    bool stopped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped = !stop_.ok() || reader_done_;
    }
    if (write_status.ok() && !stopped) write_status = stream_->WritesDone();
    if (!write_status.ok() || stopped) {
      stream_->Cancel();
    } else {
      WaitFor([this] { return reader_done_; });  // cancels when the edge stalls
    }
    reader.join();
    absl::Status finished = stream_->Finish();
    stream_.reset();

    std::lock_guard<std::mutex> lock(mu_);
    if (next_ == todo_.size()) {
      *why = absl::OkStatus();
    } else if (!stop_.ok()) {
      *why = stop_;  // a retryable answer, a stall or a protocol error
    } else if (!finished.ok() && !absl::IsCancelled(finished)) {
      *why = finished;
    } else if (!write_status.ok()) {
      *why = write_status;
    } else {
      *why = absl::UnavailableError(absl::StrCat("the edge ended the SendBatches stream after ",
                                                 next_ - from_, " of ", todo_.size() - from_,
                                                 " answers"));
    }
    return next_;
  }

 private:
  uint64_t Bytes(size_t pos) const {
    const OutgoingTransfer& t = transfers_[todo_[pos]];
    return t.payload.size() + t.header.ByteSizeLong();
  }

  // Waits until done() or the stream is stopped; when the edge answers
  // nothing for call_timeout meanwhile, stops it with DEADLINE_EXCEEDED.
  template <typename Pred>
  void WaitFor(Pred done) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done() && stop_.ok() && !reader_done_) {
      auto until = last_progress_ + impl_.options.call_timeout;
      if (cv_.wait_until(lock, until) == std::cv_status::timeout &&
          std::chrono::steady_clock::now() >= last_progress_ + impl_.options.call_timeout) {
        stop_ = absl::DeadlineExceededError(
            absl::StrCat("the edge answered nothing for ", impl_.options.call_timeout.count(),
                         " ms with ", unanswered_bytes_, " bytes unanswered"));
        lock.unlock();
        stream_->Cancel();
        return;
      }
    }
  }

  absl::Status WriteAll() {
    size_t pos = from_;
    while (pos < todo_.size()) {
      v1::SendBatch batch;
      uint64_t payload = 0, bytes = 0;
      while (pos < todo_.size()) {
        const OutgoingTransfer& t = transfers_[todo_[pos]];
        uint64_t b = Bytes(pos);
        if (batch.requests_size() > 0 &&
            (payload + t.payload.size() > kMaxBatchPayload || bytes + b > kMaxBatchEncoded)) {
          break;
        }
        v1::SendRequest* req = batch.add_requests();
        *req->mutable_header() = t.header;
        req->set_payload(t.payload);
        payload += t.payload.size();
        bytes += b;
        ++pos;
      }
      WaitFor(
          [&] { return unanswered_bytes_ == 0 || unanswered_bytes_ + bytes <= kMaxUnanswered; });
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!stop_.ok() || reader_done_) return absl::OkStatus();  // Run() says why
        // Counted before the write: the answers may come before it returns.
        unanswered_bytes_ += bytes;
      }
      if (absl::Status s = stream_->Write(batch); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  void ReadAnswers() {
    v1::TransferStatusBatch batch;
    while (stream_->Read(&batch)) {
      std::unique_lock<std::mutex> lock(mu_);
      for (const v1::TransferStatus& st : batch.statuses()) {
        if (next_ == todo_.size()) {
          stop_ = absl::InternalError("the edge sent more answers than there were requests");
          break;
        }
        const std::string& id = transfers_[todo_[next_]].header.transfer_id();
        if (!st.transfer_id().empty() && st.transfer_id() != id) {
          stop_ = absl::InternalError(absl::StrCat("the edge answered transfer ", st.transfer_id(),
                                                   " where ", id, " was expected"));
          break;
        }
        Result r = ToResult(st);
        if (!r.ok() && sdk_internal::IsRetryable(r.status())) {
          // The edge answers the rest of this stream ABORTED: resend from here.
          stop_ = r.status();
          break;
        }
        results_[todo_[next_]] = std::move(r);
        unanswered_bytes_ -= Bytes(next_);
        ++next_;
      }
      last_progress_ = std::chrono::steady_clock::now();
      cv_.notify_all();
      if (!stop_.ok()) {
        lock.unlock();
        stream_->Cancel();
        break;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    reader_done_ = true;
    cv_.notify_all();
  }

  Client::Impl& impl_;
  const std::vector<OutgoingTransfer>& transfers_;
  const std::vector<size_t>& todo_;
  std::vector<Result>& results_;
  std::unique_ptr<sdk_internal::Stream> stream_;
  size_t from_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0;                // position in todo_ of the next answer
  uint64_t unanswered_bytes_ = 0;  // written, not answered
  absl::Status stop_;              // why the stream was stopped early
  bool reader_done_ = false;
  std::chrono::steady_clock::time_point last_progress_;
};

}  // namespace

std::vector<Result> Client::SendMany(std::vector<OutgoingTransfer> transfers) {
  std::vector<Result> results(transfers.size(), absl::UnknownError("not sent"));
  std::vector<size_t> todo;  // valid transfers, in order
  for (size_t i = 0; i < transfers.size(); ++i) {
    v1::TransferHeader& h = transfers[i].header;
    if (h.transfer_id().empty()) h.set_transfer_id(NewTransferId());
    if (absl::Status s = ValidateHeader(h); !s.ok()) {
      results[i] = s;
    } else if (transfers[i].payload.size() > kMaxSendPayload) {
      results[i] = absl::InvalidArgumentError(absl::StrCat(
          "transfer ", h.transfer_id(), ": the payload is ", transfers[i].payload.size(),
          " bytes; SendMany takes at most 4 MiB per transfer: use SendFile (`beibu send-file`)"));
    } else {
      todo.push_back(i);
    }
  }

  size_t next = 0;
  absl::Status last;
  int attempt = 0;
  while (next < todo.size()) {
    if (attempt > 0) {
      if (attempt > impl_->options.max_retries) break;
      impl_->BackoffAndReconnect(attempt);
    }
    BatchStream stream(*impl_, transfers, todo, results);
    const size_t before = next;
    next = stream.Run(next, &last);
    if (next == todo.size()) break;
    if (!sdk_internal::IsRetryable(last)) {
      for (size_t k = next; k < todo.size(); ++k) results[todo[k]] = last;
      return results;
    }
    // The budget is for failures in a row: a long run that keeps making
    // progress between occasional broken streams does not run out of it.
    attempt = next > before ? 1 : attempt + 1;
  }
  if (next < todo.size()) {
    absl::Status gave_up(last.code(), absl::StrCat(last.message(), " (gave up after ", attempt,
                                                   " attempts; send again with the same transfer "
                                                   "ids, which is safe)"));
    for (size_t k = next; k < todo.size(); ++k) results[todo[k]] = gave_up;
  }
  return results;
}

}  // namespace beibu
