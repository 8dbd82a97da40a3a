// One established secure-channel session over one tunnel stream: seals
// outgoing call frames (re-keying when a limit is reached) and opens incoming
// records. Used by both the tunnel server and the tunnel client.
//
// Sending never blocks the caller: frames go to a queue that one writer
// thread seals and writes in order. gRPC reactions call Send(), and a
// reaction must not block on the network. The queue is bounded in bytes; a
// peer that stops reading long enough to overflow it loses the session.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"
#include "beibu/v1/channel.pb.h"

namespace beibu::rpc::internal {

class SessionIo {
 public:
  static constexpr size_t kMaxQueuedBytes = 256u << 20;

  // `write` sends one frame on the stream; false means the stream is gone.
  // `on_broken` runs once, on the writer thread, when the session can no
  // longer send (write or seal failed, queue overflow): the owner cancels the
  // stream so the peer and both ends learn at once.
  SessionIo(channel::Session session, std::function<bool(const v1::TunnelFrame&)> write,
            std::function<void()> on_broken = {});
  // Writes what is queued (unless the stream is gone), then stops the writer.
  ~SessionIo();

  // Thread-safe, non-blocking. UNAVAILABLE once the stream is gone or closed;
  // RESOURCE_EXHAUSTED (and the session is marked broken) when the peer has
  // left more than kMaxQueuedBytes unread.
  absl::Status Send(const v1::CallFrame& frame);
  // Queues the close record; later Sends fail.
  absl::Status SendClose();
  // Blocks until everything queued so far was written (or the stream broke).
  void Flush();
  // Blocks while more than `max_queued` bytes wait to be written, until the
  // session breaks or closes, or `give_up` (polled) says so. For callers that
  // may block, so that they follow the peer's pace instead of the queue
  // growing to kMaxQueuedBytes.
  void WaitForRoom(size_t max_queued, const std::function<bool()>& give_up);

  enum class Kind { kCall, kKeyUpdate, kClose };
  struct Received {
    Kind kind;
    v1::CallFrame call;
  };
  // Opens the next record from the reading thread (one reader only).
  absl::StatusOr<Received> Open(const v1::TunnelFrame& frame);

  const channel::Session& session() const { return session_; }

 private:
  struct Item {
    channel::RecordType type;
    std::string payload;
  };
  absl::Status Enqueue(channel::RecordType type, std::string payload);
  void WriterLoop();
  bool SealAndWrite(const Item& item);  // writer thread only

  channel::Session session_;
  std::function<bool(const v1::TunnelFrame&)> write_;
  std::function<void()> on_broken_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;   // the writer holds an item
  bool closed_ = false;    // close queued: no more sends
  bool broken_ = false;    // the stream refused a write
  bool stopping_ = false;  // destructor: exit once the queue is empty
  std::thread writer_;
};

}  // namespace beibu::rpc::internal
