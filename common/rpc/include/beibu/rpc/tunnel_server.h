// The server end of the secure channel: the `beibu.v1.Tunnel` gRPC service.
// Each Connect stream runs one handshake, then carries multiplexed calls that
// are forwarded to typed services on an in-process gRPC server, with the
// authenticated peer identity in the call metadata (see peer.h), or served
// directly by handlers registered in `direct` (see direct_methods.h).
//
//   grpc::ServerBuilder inner;             // typed services, no listening port
//   inner.RegisterService(&registry);
//   auto inner_server = inner.BuildAndStart();
//   TunnelService tunnel({.handshake = ..., .inner = inner_server.get()});
//   grpc::ServerBuilder outer;             // the network-facing server
//   outer.AddListeningPort(addr, creds); outer.RegisterService(&tunnel);
#pragma once

#include <grpcpp/server.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "beibu/channel/handshake.h"
#include "beibu/rpc/direct_methods.h"
#include "beibu/v1/tunnel.grpc.pb.h"

namespace beibu::rpc {

struct TunnelServiceOptions {
  // Called once per connection, so trust-bundle and CRL updates apply to new
  // sessions at once.
  std::function<channel::HandshakeConfig()> handshake;
  grpc::Server* inner = nullptr;
  // Methods served without the in-process server (direct_methods.h); the
  // rest go to `inner`. Must outlive the service.
  const DirectMethods* direct = nullptr;
  // Most calls one session may have open at once.
  size_t max_calls_per_session = 256;
  // Most sessions (established or handshaking) at once; more are refused
  // with RESOURCE_EXHAUSTED.
  size_t max_sessions = 4096;
  // Most direct calls running at once over all sessions, each a thread; more
  // are refused with RESOURCE_EXHAUSTED (the session and its other calls go
  // on), so that clients holding calls open cannot exhaust the process.
  size_t max_direct_calls = 4096;
  // A client that has not finished its handshake by then is cut off.
  std::chrono::milliseconds handshake_timeout{10000};
  // Called whenever THIS side refuses a client's handshake: its hello or its
  // certificate (unknown CA, revoked, expired, role not allowed), its proof
  // of the key, or a revocation that landed during the handshake; i.e. every
  // event=handshake_refused. Not called when the client refused us
  // (handshake_refused_by_client), for a handshake timeout, or for malformed
  // framing. `who`: the certificate id the client claimed when its hello was
  // readable, else its address without the port ("ipv4:10.0.0.7"), so that
  // repeated attempts from one host count together (the auth_failures
  // detector, docs/gateway.md). Called on the session's thread with no lock
  // of the tunnel held; exceptions it throws are caught and logged.
  std::function<void(const std::string& who)> on_handshake_refused;
};

class TunnelService final : public v1::Tunnel::Service {
 public:
  explicit TunnelService(TunnelServiceOptions options);
  ~TunnelService() override;

  grpc::Status Connect(grpc::ServerContext* ctx,
                       grpc::ServerReaderWriter<v1::TunnelFrame, v1::TunnelFrame>* stream) override;

  // Ends every live session whose authenticated peer matches (for example a
  // certificate that was just revoked). Returns how many were ended.
  int CloseSessions(const std::function<bool(const pki::Identity&)>& match);
  size_t active_sessions() const;

 private:
  struct Live {
    grpc::ServerContext* ctx;
    std::optional<pki::Identity> peer;
  };
  grpc::Status Serve(grpc::ServerContext* ctx,
                     grpc::ServerReaderWriter<v1::TunnelFrame, v1::TunnelFrame>* stream);
  // Cancels handshakes that outlive options_.handshake_timeout.
  void WatchHandshakes();
  // Calls options_.on_handshake_refused, if set, swallowing exceptions.
  void ReportRefusal(const std::optional<pki::Identity>& claimed, const std::string& addr);

  TunnelServiceOptions options_;
  std::shared_ptr<grpc::Channel> inner_channel_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::set<Live*> live_;
  std::atomic<size_t> direct_calls_{0};  // running, over all sessions
  std::map<grpc::ServerContext*, std::chrono::steady_clock::time_point> handshaking_;
  std::thread watchdog_;
};

}  // namespace beibu::rpc
