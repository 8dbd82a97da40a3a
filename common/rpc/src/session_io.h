// One established secure-channel session over one tunnel stream: seals
// outgoing call frames (re-keying when a limit is reached) and opens incoming
// records. Used by both the tunnel server and the tunnel client.
#pragma once

#include <functional>
#include <mutex>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"
#include "beibu/v1/channel.pb.h"

namespace beibu::rpc::internal {

class SessionIo {
 public:
  // `write` sends one frame on the stream; false means the stream is gone.
  SessionIo(channel::Session session, std::function<bool(const v1::TunnelFrame&)> write)
      : session_(std::move(session)), write_(std::move(write)) {}

  // Thread-safe. UNAVAILABLE once the stream is gone or closed.
  absl::Status Send(const v1::CallFrame& frame);
  // Sends the close record; later Sends fail.
  absl::Status SendClose();

  enum class Kind { kCall, kKeyUpdate, kClose };
  struct Received {
    Kind kind;
    v1::CallFrame call;
  };
  // Opens the next record from the reading thread (one reader only).
  absl::StatusOr<Received> Open(const v1::TunnelFrame& frame);

  const channel::Session& session() const { return session_; }

 private:
  absl::Status SealAndWrite(channel::RecordType type, ByteView payload);

  std::mutex write_mu_;
  bool closed_ = false;
  channel::Session session_;
  std::function<bool(const v1::TunnelFrame&)> write_;
};

}  // namespace beibu::rpc::internal
