#include "beibu/daemon/server_host.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <signal.h>

#include "absl/strings/str_cat.h"

namespace beibu::daemon {

absl::StatusOr<std::unique_ptr<ServerHost>> ServerHost::Start(ServerHostOptions options) {
  std::unique_ptr<ServerHost> host(new ServerHost());
  grpc::ServerBuilder inner;
  inner.SetMaxReceiveMessageSize(-1);
  inner.SetMaxSendMessageSize(-1);
  host->direct_ = std::make_unique<rpc::DirectMethods>();
  for (grpc::Service* s : options.services) {
    inner.RegisterService(s);
    if (auto* d = dynamic_cast<rpc::DirectService*>(s); d && options.direct_calls) {
      d->AddDirectMethods(*host->direct_);
    }
  }
  host->inner_ = inner.BuildAndStart();
  if (!host->inner_) return absl::InternalError("cannot start the in-process server");

  host->tunnel_ = std::make_unique<rpc::TunnelService>(
      rpc::TunnelServiceOptions{.handshake = options.handshake,
                                .inner = host->inner_.get(),
                                .direct = host->direct_.get(),
                                .max_sessions = options.max_sessions,
                                .max_direct_calls = options.max_direct_calls,
                                .handshake_timeout = options.handshake_timeout,
                                .on_handshake_refused = options.on_handshake_refused});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder outer;
  outer.SetMaxReceiveMessageSize(64 << 20);
  outer.SetMaxSendMessageSize(64 << 20);
  // Clients ping every 10 s to notice dead peers; allow it without calls.
  outer.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  outer.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Without this gRPC sets SO_REUSEPORT, and a second daemon on the same port
  // would silently share its connections instead of failing to start.
  outer.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  auto creds = options.transport ? options.transport : grpc::InsecureServerCredentials();
  outer.AddListeningPort(options.listen_address, creds, &host->port_);
  outer.RegisterService(host->tunnel_.get());
  host->outer_ = outer.BuildAndStart();
  if (!host->outer_ || host->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen_address,
        ": address in use or not local (pick another port or stop the other process)"));
  }
  host->SetServing(true);
  return host;
}

ServerHost::~ServerHost() { Shutdown(std::chrono::milliseconds(0)); }

void ServerHost::SetServing(bool serving) {
  if (!outer_) return;
  grpc::HealthCheckServiceInterface* health = outer_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  health->SetServingStatus("beibu.v1.Tunnel", serving);
}

void ServerHost::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  // Live tunnels are long streams: cancel them after the grace period. Either
  // server may be missing when Start() failed half-way.
  if (outer_) outer_->Shutdown(std::chrono::system_clock::now() + grace);
  if (inner_) inner_->Shutdown(std::chrono::system_clock::now());
  if (outer_) outer_->Wait();
  if (inner_) inner_->Wait();
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace beibu::daemon
