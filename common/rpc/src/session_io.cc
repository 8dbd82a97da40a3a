#include "session_io.h"

#include "absl/strings/str_cat.h"

namespace beibu::rpc::internal {

SessionIo::SessionIo(channel::Session session, std::function<bool(const v1::TunnelFrame&)> write,
                     std::function<void()> on_broken)
    : session_(std::move(session)), write_(std::move(write)), on_broken_(std::move(on_broken)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

SessionIo::~SessionIo() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

absl::Status SessionIo::Enqueue(channel::RecordType type, std::string payload) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return absl::UnavailableError("secure channel stream closed");
  if (closed_) return absl::UnavailableError("secure channel is closed");
  if (queued_bytes_ + payload.size() > kMaxQueuedBytes) {
    broken_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    cv_.notify_all();
    if (on_broken_) on_broken_();  // cancels the stream; safe under our lock
    return absl::ResourceExhaustedError(
        "peer left more than 256 MiB unread on the secure channel; session abandoned");
  }
  if (type == channel::RecordType::kClose) closed_ = true;
  queued_bytes_ += payload.size();
  queue_.push_back(Item{type, std::move(payload)});
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status SessionIo::Send(const v1::CallFrame& frame) {
  return Enqueue(channel::RecordType::kData, frame.SerializeAsString());
}

absl::Status SessionIo::SendClose() { return Enqueue(channel::RecordType::kClose, ""); }

void SessionIo::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return broken_ || (queue_.empty() && !writing_); });
}

void SessionIo::WaitForRoom(size_t max_queued, const std::function<bool()>& give_up) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!broken_ && !closed_ && !stopping_ && queued_bytes_ > max_queued) {
    if (give_up()) return;
    // The writer notifies after each record; the timeout is for give_up.
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

void SessionIo::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping with nothing left
    Item item = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= item.payload.size();
    writing_ = true;
    lock.unlock();
    bool ok = SealAndWrite(item);
    if (!ok && on_broken_) on_broken_();
    lock.lock();
    writing_ = false;
    if (!ok) {
      broken_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    cv_.notify_all();
  }
}

bool SessionIo::SealAndWrite(const Item& item) {
  if (session_.sealer.KeyUpdateDue()) {
    absl::StatusOr<Bytes> update = session_.sealer.Seal(channel::RecordType::kKeyUpdate, {});
    if (!update.ok()) return false;
    v1::TunnelFrame f;
    f.set_record(std::string(update->begin(), update->end()));
    if (!write_(f)) return false;
  }
  absl::StatusOr<Bytes> record = session_.sealer.Seal(item.type, AsBytes(item.payload));
  if (!record.ok()) return false;
  v1::TunnelFrame f;
  f.set_record(std::string(record->begin(), record->end()));
  return write_(f);
}

absl::StatusOr<SessionIo::Received> SessionIo::Open(const v1::TunnelFrame& frame) {
  if (frame.frame_case() == v1::TunnelFrame::kAlert) {
    return absl::Status(static_cast<absl::StatusCode>(frame.alert().code()),
                        absl::StrCat("peer refused: ", frame.alert().message()));
  }
  if (frame.frame_case() != v1::TunnelFrame::kRecord) {
    return absl::InvalidArgumentError("expected an encrypted record after the handshake");
  }
  absl::StatusOr<channel::OpenedRecord> rec = session_.opener.Open(AsBytes(frame.record()));
  if (!rec.ok()) return rec.status();
  Received out;
  switch (rec->type) {
    case channel::RecordType::kKeyUpdate:
      out.kind = Kind::kKeyUpdate;
      return out;
    case channel::RecordType::kClose:
      out.kind = Kind::kClose;
      return out;
    case channel::RecordType::kData:
      out.kind = Kind::kCall;
      if (!out.call.ParseFromArray(rec->payload.data(), static_cast<int>(rec->payload.size()))) {
        return absl::InvalidArgumentError("record does not hold a valid CallFrame");
      }
      return out;
  }
  return absl::InternalError("unreachable record type");
}

}  // namespace beibu::rpc::internal
