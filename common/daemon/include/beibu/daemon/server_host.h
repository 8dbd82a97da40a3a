// Hosts a daemon's gRPC servers: typed services on an in-process server that
// only the tunnel reaches (hot methods the tunnel serves directly), and the
// network-facing server with the Tunnel and
// the standard grpc.health.v1.Health service.
#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/rpc/tunnel_server.h"

namespace beibu::daemon {

struct ServerHostOptions {
  std::string listen_address;  // "127.0.0.1:0" picks a free port
  std::function<channel::HandshakeConfig()> handshake;
  std::vector<grpc::Service*> services;  // reached through the tunnel only
  // Serve the methods of services that are also rpc::DirectService straight
  // from the tunnel (rpc/direct_methods.h). Off: every call goes through the
  // in-process server (kept to compare the two).
  bool direct_calls = true;
  // Transport credentials under the channel; insecure when null.
  std::shared_ptr<grpc::ServerCredentials> transport;
  size_t max_sessions = 4096;
  size_t max_direct_calls = 4096;  // rpc::TunnelServiceOptions
  std::chrono::milliseconds handshake_timeout{10000};
  // rpc::TunnelServiceOptions::on_handshake_refused (failed authentication
  // of a client; feeds the gateway's auth_failures detector on edges).
  std::function<void(const std::string& who)> on_handshake_refused;
};

class ServerHost {
 public:
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<ServerHost>> Start(ServerHostOptions options);
  ~ServerHost();

  int port() const { return port_; }
  rpc::TunnelService& tunnel() { return *tunnel_; }
  // Health reported to grpc.health.v1 for "" and "beibu.v1.Tunnel".
  void SetServing(bool serving);
  // Stops accepting, cancels live sessions after `grace`, waits for handlers.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

 private:
  ServerHost() = default;
  std::unique_ptr<grpc::Server> inner_;
  std::unique_ptr<rpc::DirectMethods> direct_;  // outlives tunnel_
  std::unique_ptr<rpc::TunnelService> tunnel_;
  std::unique_ptr<grpc::Server> outer_;
  int port_ = 0;
  bool shut_down_ = false;
};

// Blocks until SIGINT or SIGTERM arrives (they must be blocked in all threads
// first: call BlockShutdownSignals() at the top of main). Returns the signal.
void BlockShutdownSignals();
int WaitForShutdownSignal();

}  // namespace beibu::daemon
