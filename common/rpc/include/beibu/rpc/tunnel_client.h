// The client end of the secure channel: one authenticated session to a hub or
// edge over which any number of calls run concurrently, so a call never pays
// a handshake.
//
//   auto client = TunnelClient::Connect({.address = "127.0.0.1:7400", .handshake = cfg});
//   v1::ListNodesResponse resp;
//   absl::Status s = (*client)->Call("/beibu.v1.Admin/ListNodes", req, &resp);
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"
#include "google/protobuf/message.h"

namespace beibu::rpc {

struct TunnelClientOptions {
  std::string address;  // host:port
  channel::HandshakeConfig handshake;
  // Transport under the channel; insecure by default (the channel itself
  // authenticates and encrypts), TLS credentials when the deployment wants both.
  std::shared_ptr<grpc::ChannelCredentials> transport;
  std::chrono::milliseconds connect_timeout{5000};
};

class TunnelClient;

// One call of any shape. Read() and Write() may be used from different threads.
class TunnelCall {
 public:
  ~TunnelCall();
  absl::Status Write(const google::protobuf::Message& message);
  absl::Status WritesDone();
  // Blocks for the next message; false at the end of the stream (then Finish()).
  bool Read(google::protobuf::Message* message);
  // Waits for the call's final status.
  absl::Status Finish();
  void Cancel();

 private:
  friend class TunnelClient;
  struct State;
  TunnelCall(std::shared_ptr<State> state, TunnelClient* client);
  // Waits for `ready` until the call's deadline, if it has one; past it,
  // sets DEADLINE_EXCEEDED and returns false. The lock is held throughout.
  template <typename Pred>
  bool WaitUntilReady(std::unique_lock<std::mutex>& lock, Pred ready);
  std::shared_ptr<State> state_;
  TunnelClient* client_;
};

class TunnelClient {
 public:
  // Connects and authenticates. UNAVAILABLE when the server cannot be reached
  // in time; otherwise the handshake's refusal (see handshake.h) from either side.
  static absl::StatusOr<std::unique_ptr<TunnelClient>> Connect(TunnelClientOptions options);
  ~TunnelClient();  // Close()s

  const pki::Identity& server() const;
  v1::CipherSuite suite() const;

  absl::Status Call(const std::string& method, const google::protobuf::Message& request,
                    google::protobuf::Message* response,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // timeout 0 = none (long-lived streams such as the heartbeat).
  std::unique_ptr<TunnelCall> StartCall(const std::string& method,
                                        std::chrono::milliseconds timeout = {});

  // OK while the session is up; once it broke, why (every call then fails).
  absl::Status status() const;
  // Sends the close record and ends the session; pending calls fail.
  void Close();

 private:
  friend class TunnelCall;
  struct Impl;
  explicit TunnelClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::rpc
