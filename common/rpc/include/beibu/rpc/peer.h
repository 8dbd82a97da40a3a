// Who is calling: services behind the tunnel read the authenticated peer from
// call metadata that only the tunnel sets (the inner server has no network
// port, so no one else can).
#pragma once

#include <grpcpp/server_context.h>

#include <optional>
#include <set>

#include "beibu/pki/identity.h"

namespace beibu::rpc {

// Binary ("-bin") metadata: certificate names may hold any UTF-8, which
// plain gRPC metadata (printable ASCII only) would refuse.
inline constexpr char kPeerIdKey[] = "beibu-peer-id-bin";
inline constexpr char kPeerRoleKey[] = "beibu-peer-role-bin";
inline constexpr char kPeerCountryKey[] = "beibu-peer-country-bin";
inline constexpr char kPeerOrgKey[] = "beibu-peer-org-bin";
inline constexpr char kPeerSerialKey[] = "beibu-peer-serial-bin";
inline constexpr char kSessionKey[] = "beibu-session-bin";
inline constexpr char kAnonymousRole[] = "anonymous";

// The caller's identity, or nullopt for an anonymous (enrolling) caller.
std::optional<pki::Identity> PeerOf(const grpc::ServerContext& ctx);

// OK with *peer set when the caller has one of `roles`; PERMISSION_DENIED
// naming the role needed otherwise (UNAUTHENTICATED for anonymous callers).
grpc::Status RequireRole(const grpc::ServerContext& ctx, const std::set<pki::Role>& roles,
                         pki::Identity* peer);

}  // namespace beibu::rpc
