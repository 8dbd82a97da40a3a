// Internal: Transport over the secure channel (rpc::TunnelClient).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "beibu/client/client.h"
#include "transport.h"

namespace beibu::sdk_internal {

// Connects once (so that Client::Connect reports a bad identity or an
// unreachable server right away); reconnects from the same files later.
absl::StatusOr<std::unique_ptr<Transport>> ConnectTunnel(const ClientOptions& options);

}  // namespace beibu::sdk_internal
