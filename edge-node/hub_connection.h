// The edge's secure channel to the hub, authenticated with the edge's
// certificate, checking the hub's role, over TLS when hub_tls_ca is set.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "beibu/rpc/tunnel_client.h"
#include "edge_config.h"
#include "edge_identity.h"

namespace beibu::edge {

absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> ConnectToHub(const EdgeConfig& config,
                                                                const EdgeIdentity& identity);

}  // namespace beibu::edge
