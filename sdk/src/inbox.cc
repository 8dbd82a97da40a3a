// InboxReader: a reader thread feeds a small bounded queue (so Next can wait
// with a timeout, and at most a few MiB sit in memory); Next assembles one
// delivery from its chunks and checks its SM3 digest. The stream is
// InboxBatches: many small deliveries arrive in one message.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/random.h"
#include "beibu/crypto/sm3.h"
#include "client_impl.h"
#include "inbox_impl.h"

namespace beibu {

namespace {
// Payload bytes buffered ahead of Next (a batch is about 1 MiB, a chunk at
// most 1 MiB: the queue stays under a few MiB).
constexpr uint64_t kQueueCapacityBytes = uint64_t{4} << 20;

// A transfer id as exchange.proto allows it: never a path ("/", "..").
bool IsSafeFileName(const std::string& id) {
  if (id.empty() || id.size() > 64 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

InboxReader::Impl::Impl(Client::Impl* client, std::unique_ptr<sdk_internal::Stream> stream,
                        uint64_t max_in_memory, uint32_t max_unacked)
    : client_(client),
      stream_(std::move(stream)),
      max_in_memory_(max_in_memory),
      max_unacked_(max_unacked) {
  reader_ = std::thread([this] { ReadLoop(); });
}

InboxReader::Impl::~Impl() {
  {
    // Under the lock: the reader may be replacing the stream (fallback).
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    stream_->Cancel();
  }
  cv_.notify_all();
  reader_.join();
}

bool InboxReader::Impl::FallBackToInbox() {
  std::unique_ptr<sdk_internal::Stream> legacy =
      client_->transport->StartCall(kInboxLegacyMethod, std::chrono::milliseconds(0));
  v1::InboxRequest req;
  req.set_max_unacked(max_unacked_);
  if (!legacy->Write(req).ok() || !legacy->WritesDone().ok()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) {
    legacy->Cancel();
    return false;
  }
  stream_ = std::move(legacy);
  legacy_ = true;
  return true;
}

void InboxReader::Impl::ReadLoop() {
  bool any = false;  // a message arrived on this reader
  while (true) {
    v1::DeliveryBatch batch;
    bool read = false;
    if (legacy_) {
      v1::Delivery d;
      read = stream_->Read(&d);
      if (read) *batch.add_deliveries() = std::move(d);
    } else {
      read = stream_->Read(&batch);
    }
    if (!read) {
      absl::Status s = stream_->Finish();
      if (!legacy_ && !any && absl::IsUnimplemented(s) && FallBackToInbox()) continue;
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      end_status_ = s.ok() ? absl::OutOfRangeError("the edge ended the inbox stream") : s;
      cv_.notify_all();
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closing_ || queued_bytes_ < kQueueCapacityBytes; });
    if (closing_) return;
    any = true;
    for (v1::Delivery& d : *batch.mutable_deliveries()) {
      queued_bytes_ += d.data().size();
      queue_.push_back(std::move(d));
    }
    cv_.notify_all();
  }
}

absl::Status InboxReader::Impl::Pop(v1::Delivery* d,
                                    std::optional<std::chrono::milliseconds> wait) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return !queue_.empty() || ended_; };
  if (wait) {
    if (!cv_.wait_for(lock, *wait, ready)) {
      return absl::DeadlineExceededError("no delivery arrived in time");
    }
  } else {
    cv_.wait(lock, ready);
  }
  if (queue_.empty()) return end_status_;
  *d = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= std::min<uint64_t>(queued_bytes_, d->data().size());
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status InboxReader::Impl::Next(ReceivedTransfer* out, const ChunkSink& sink,
                                     std::optional<std::chrono::milliseconds> wait) {
  if (!broken_.ok()) return broken_;
  v1::Delivery d;
  if (absl::Status s = Pop(&d, wait); !s.ok()) return s;
  const std::string id = d.transfer_id();
  if (d.offset() != 0) {
    broken_ = absl::AbortedError(absl::StrCat("delivery ", id, " began at offset ", d.offset(),
                                              " instead of 0: the inbox stream is out of order; "
                                              "reopen the inbox (unacknowledged deliveries come "
                                              "again)"));
    return broken_;
  }
  out->info = d;
  out->info.clear_data();
  out->info.set_last(true);
  out->payload.clear();
  crypto::Sm3 hash;
  uint64_t got = 0;
  absl::Status sink_status;
  while (true) {
    hash.Update(AsBytes(d.data()));
    got += d.data().size();
    if (sink_status.ok()) sink_status = sink(d.data());
    if (d.last()) break;
    absl::Status s = Pop(&d, std::nullopt);
    if (!s.ok()) {
      broken_ = absl::IsOutOfRange(s) ? absl::UnavailableError(absl::StrCat(
                                            "the inbox stream ended in the middle of delivery ", id,
                                            "; reopen the inbox (it comes again)"))
                                      : s;
      return broken_;
    }
    if (d.transfer_id() != id || d.offset() != got) {
      broken_ = absl::AbortedError(absl::StrCat(
          "delivery ", id, ": got a chunk of ", d.transfer_id(), " at offset ", d.offset(),
          ", expected offset ", got, ": the inbox stream is out of order; reopen the inbox"));
      return broken_;
    }
  }
  if (!sink_status.ok()) return sink_status;
  // The edge computes the digest while streaming and announces it on the
  // last message of a delivery (the first one has it only when it is also
  // the last).
  if (!d.payload_sm3().empty()) out->info.set_payload_sm3(d.payload_sm3());
  if (out->info.size() != 0 && got != out->info.size()) {
    return absl::DataLossError(absl::StrCat("delivery ", id, " carried ", got, " bytes but said ",
                                            out->info.size(),
                                            "; it was not acknowledged and will come again"));
  }
  std::string digest = HexEncode(hash.Final());
  if (digest != absl::AsciiStrToLower(out->info.payload_sm3())) {
    return absl::DataLossError(absl::StrCat("delivery ", id, ": SM3 of the payload is ", digest,
                                            " but the edge announced ", out->info.payload_sm3(),
                                            "; it was not acknowledged and will come again"));
  }
  return absl::OkStatus();
}

// --- InboxReader ---------------------------------------------------------

InboxReader::InboxReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InboxReader::~InboxReader() = default;

absl::Status InboxReader::Next(ReceivedTransfer* out,
                               std::optional<std::chrono::milliseconds> wait) {
  const uint64_t cap = impl_->max_in_memory();
  bool too_big = false;
  absl::Status s = impl_->Next(
      out,
      [&](std::string_view chunk) {
        if (out->payload.size() + chunk.size() > cap) {
          too_big = true;
          out->payload.clear();
          out->payload.shrink_to_fit();
          return absl::ResourceExhaustedError("");
        }
        out->payload.append(chunk);
        return absl::OkStatus();
      },
      wait);
  if (too_big) {
    return absl::ResourceExhaustedError(
        absl::StrCat("delivery ", out->info.transfer_id(), " is larger than ", cap,
                     " bytes (max_in_memory_payload): receive it with NextToDirectory or a sink"));
  }
  return s;
}

absl::Status InboxReader::Next(ReceivedTransfer* out, const ChunkSink& sink,
                               std::optional<std::chrono::milliseconds> wait) {
  return impl_->Next(out, sink, wait);
}

absl::Status InboxReader::NextToDirectory(const std::string& dir, ReceivedTransfer* out,
                                          std::optional<std::chrono::milliseconds> wait) {
  std::string path, tmp;
  int fd = -1;
  auto cleanup = [&] {
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (!tmp.empty()) ::unlink(tmp.c_str());
  };
  absl::Status s = impl_->Next(
      out,
      [&](std::string_view chunk) -> absl::Status {
        if (fd < 0) {
          // Called first with the first chunk, once out->info is known.
          const std::string& id = out->info.transfer_id();
          if (!IsSafeFileName(id)) {
            return absl::DataLossError(
                absl::StrCat("delivery id \"", id, "\" is not a valid transfer id; skipped"));
          }
          path = (std::filesystem::path(dir) / id).string();
          tmp = absl::StrCat(path, ".tmp-", HexEncode(crypto::RandomBytes(6)));
          fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (fd < 0) {
            return absl::PermissionDeniedError(
                absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
          }
        }
        while (!chunk.empty()) {
          ssize_t n = ::write(fd, chunk.data(), chunk.size());
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            return absl::ResourceExhaustedError(
                absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
          }
          chunk.remove_prefix(static_cast<size_t>(n));
        }
        return absl::OkStatus();
      },
      wait);
  if (!s.ok()) {
    cleanup();
    return s;
  }
  if (fd < 0)
    return absl::InternalError("delivery without a first chunk");  // Next always calls the sink
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    fd = -1;
    ::unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat("cannot sync ", tmp, ": ", std::strerror(errno)));
  }
  fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status e = absl::PermissionDeniedError(
        absl::StrCat("cannot rename ", tmp, " to ", path, ": ", std::strerror(errno)));
    ::unlink(tmp.c_str());
    return e;
  }
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);  // the rename itself durable before the caller acknowledges
    ::close(dfd);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> InboxReader::Ack(const std::vector<std::string>& transfer_ids) {
  v1::AckRequest req;
  for (const std::string& id : transfer_ids) req.add_transfer_ids(id);
  v1::AckResponse resp;
  if (absl::Status s = impl_->client()->Call(kAckMethod, req, &resp); !s.ok()) return s;
  return resp.acknowledged();
}

absl::StatusOr<std::unique_ptr<InboxReader>> Client::OpenInbox(uint32_t max_unacked) {
  absl::Status last;
  for (int attempt = 0; attempt <= impl_->options.max_retries; ++attempt) {
    if (attempt > 0) impl_->BackoffAndReconnect(attempt);
    std::unique_ptr<sdk_internal::Stream> stream =
        impl_->transport->StartCall(kInboxMethod, std::chrono::milliseconds(0));
    v1::InboxRequest req;
    req.set_max_unacked(max_unacked);
    last = stream->Write(req);
    if (last.ok()) last = stream->WritesDone();
    if (last.ok()) {
      return std::unique_ptr<InboxReader>(new InboxReader(std::make_unique<InboxReader::Impl>(
          impl_.get(), std::move(stream), impl_->options.max_in_memory_payload, max_unacked)));
    }
    (void)stream->Finish();
    if (!sdk_internal::IsRetryable(last)) return last;
  }
  return last;
}

}  // namespace beibu
