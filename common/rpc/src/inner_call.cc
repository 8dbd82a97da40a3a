#include "inner_call.h"

#include <algorithm>

#include "beibu/rpc/peer.h"

namespace beibu::rpc::internal {
namespace {

std::string Flatten(const grpc::ByteBuffer& buf) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buf.Dump(&slices).ok()) return out;
  out.reserve(buf.Length());
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

void InnerCall::Start(grpc::GenericStub* stub, const v1::CallStart& start,
                      const std::optional<pki::Identity>& peer, const std::string& session_id) {
  if (peer) {
    ctx_.AddMetadata(kPeerIdKey, peer->id);
    ctx_.AddMetadata(kPeerRoleKey, std::string(pki::RoleName(peer->role)));
    ctx_.AddMetadata(kPeerCountryKey, peer->country);
    ctx_.AddMetadata(kPeerOrgKey, peer->organization);
    ctx_.AddMetadata(kPeerSerialKey, peer->serial_hex);
  } else {
    ctx_.AddMetadata(kPeerRoleKey, kAnonymousRole);
  }
  ctx_.AddMetadata(kSessionKey, session_id);
  if (start.timeout_ms() > 0) {
    // Clamp: a peer-chosen uint64 must not overflow the clock arithmetic.
    constexpr uint64_t kMaxTimeoutMs = 7ull * 24 * 3600 * 1000;
    uint64_t ms = std::min<uint64_t>(start.timeout_ms(), kMaxTimeoutMs);
    ctx_.set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(ms)));
  }
  stub->PrepareBidiStreamingCall(&ctx_, start.method(), grpc::StubOptions(), this);
  // Writes start from the tunnel's thread, outside any reaction: the hold
  // keeps OnDone (and our deletion) from happening while one may still start.
  AddHold();
  StartRead(&read_buf_);
  StartCall();
}

void InnerCall::Deliver(const std::string& message) {
  grpc::Slice slice(message);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (half_close_requested_) return;  // the client broke protocol; drop it
    pending_.emplace_back(&slice, 1);
  }
  PumpWrites();
}

void InnerCall::HalfClose() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    half_close_requested_ = true;
  }
  PumpWrites();
}

// Starts the next write, or the half-close once every write is done, or just
// releases the hold once the call was cancelled or failed. Decisions are made
// under the lock; gRPC is called outside it, as a reaction may run inline.
void InnerCall::PumpWrites() {
  enum { kNothing, kWrite, kWritesDone, kRelease } action = kNothing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_ || writes_finished_) return;
    if (cancelled_) {
      writes_finished_ = true;
      action = kRelease;
    } else if (!pending_.empty()) {
      write_buf_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      action = kWrite;
    } else if (half_close_requested_) {
      writes_finished_ = true;
      action = kWritesDone;
    }
  }
  switch (action) {
    case kWrite:
      StartWrite(&write_buf_);
      break;
    case kWritesDone:
      StartWritesDone();
      RemoveHold();
      break;
    case kRelease:
      RemoveHold();
      break;
    case kNothing:
      break;
  }
}

void InnerCall::Cancel() {
  ctx_.TryCancel();
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    pending_.clear();
  }
  PumpWrites();
}

void InnerCall::OnWriteDone(bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {  // the call is over; OnDone will say why
      cancelled_ = true;
      pending_.clear();
    }
  }
  PumpWrites();
}

void InnerCall::OnReadDone(bool ok) {
  if (!ok) {
    // The service has finished: no write can matter any more, so release the
    // hold now and let OnDone deliver the status without waiting for the
    // client's half-close.
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      pending_.clear();
    }
    PumpWrites();
    return;
  }
  v1::CallFrame frame;
  frame.set_call_id(id_);
  frame.set_message(Flatten(read_buf_));
  if (!io_->Send(frame).ok()) {
    ctx_.TryCancel();
    return;
  }
  StartRead(&read_buf_);
}

void InnerCall::OnDone(const grpc::Status& status) {
  SendStatus(*io_, id_, status);
  // Leave the session's table first, so nobody can find this call once it is
  // being deleted.
  on_done_(id_);
  delete this;
}

}  // namespace beibu::rpc::internal
