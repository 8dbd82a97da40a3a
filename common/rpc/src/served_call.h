// One call the tunnel server carries, as its session's reader drives it:
// replayed on the in-process gRPC server (InnerCall) or served directly
// (DirectCall). The reader never blocks in these.
#pragma once

#include <string>

namespace beibu::rpc::internal {

class ServedCall {
 public:
  virtual ~ServedCall() = default;
  virtual void Deliver(const std::string& message) = 0;  // the client's next message
  virtual void HalfClose() = 0;                          // the client sends no more
  virtual void Cancel() = 0;                             // the client (or the session) ended it
};

}  // namespace beibu::rpc::internal
