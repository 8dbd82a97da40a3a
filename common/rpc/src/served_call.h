// One call the tunnel server carries, as its session's reader drives it:
// replayed on the in-process gRPC server (InnerCall) or served directly
// (DirectCall). The reader never blocks in these.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "session_io.h"

namespace beibu::rpc::internal {

class ServedCall {
 public:
  virtual ~ServedCall() = default;
  virtual void Deliver(const std::string& message) = 0;  // the client's next message
  virtual void HalfClose() = 0;                          // the client sends no more
  virtual void Cancel() = 0;                             // the client (or the session) ended it
};

// Queues a call's final status for the client (which may be gone: nothing
// else is to be done then).
inline void SendStatus(SessionIo& io, uint64_t call_id, const grpc::Status& status) {
  v1::CallFrame frame;
  frame.set_call_id(call_id);
  frame.mutable_status()->set_code(status.error_code());
  frame.mutable_status()->set_message(status.error_message());
  (void)io.Send(frame);
}

}  // namespace beibu::rpc::internal
