#include "hub_connection.h"

#include "beibu/daemon/identity_files.h"

namespace beibu::edge {

absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> ConnectToHub(const EdgeConfig& config,
                                                                const EdgeIdentity& identity) {
  channel::HandshakeConfig hs;
  hs.credentials = identity.credentials();
  hs.trust = identity.trust();
  hs.allowed_peer_roles = {pki::Role::kHub};
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> transport =
      daemon::LoadClientTransport(config.hub_tls_ca);
  if (!transport.ok()) return transport.status();
  return rpc::TunnelClient::Connect(
      {.address = config.hub, .handshake = std::move(hs), .transport = *transport});
}

}  // namespace beibu::edge
