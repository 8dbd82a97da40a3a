// Internal: the calls the SDK makes, behind a small interface so that the
// resume and inbox logic can be tested with a fake (tests/unit/sdk) and run
// over the real secure channel (rpc::TunnelClient) in production.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace beibu::sdk_internal {

// One call of any shape (see rpc::TunnelCall).
class Stream {
 public:
  virtual ~Stream() = default;
  virtual absl::Status Write(const google::protobuf::Message& message) = 0;
  virtual absl::Status WritesDone() = 0;
  // Blocks for the next message; false at the end (then Finish()).
  virtual bool Read(google::protobuf::Message* message) = 0;
  virtual absl::Status Finish() = 0;
  // May be called from another thread to unblock Read().
  virtual void Cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual absl::Status Call(const std::string& method, const google::protobuf::Message& request,
                            google::protobuf::Message* response,
                            std::chrono::milliseconds timeout) = 0;
  // timeout 0 = none.
  virtual std::unique_ptr<Stream> StartCall(const std::string& method,
                                            std::chrono::milliseconds timeout) = 0;
  // Makes sure a session is up: a no-op while the current one is healthy,
  // else a new connect and handshake. UNAVAILABLE when the server is away.
  virtual absl::Status Reconnect() = 0;
  virtual std::string server_id() const = 0;
};

// Whether a failed call may be repeated as it is (after Reconnect()).
inline bool IsRetryable(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsAborted(s);
}

}  // namespace beibu::sdk_internal
