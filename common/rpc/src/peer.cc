#include "beibu/rpc/peer.h"

#include "beibu/rpc/call_scope.h"

#include "absl/strings/str_cat.h"

namespace beibu::rpc {
namespace {

std::string Metadata(const grpc::ServerContext& ctx, const char* key) {
  auto range = ctx.client_metadata().equal_range(key);
  if (range.first == range.second) return "";
  return std::string(range.first->second.data(), range.first->second.size());
}

}  // namespace

std::optional<pki::Identity> PeerOf(const grpc::ServerContext& ctx) {
  std::optional<pki::Role> role = pki::ParseRole(Metadata(ctx, kPeerRoleKey));
  if (!role) return std::nullopt;
  pki::Identity id;
  id.id = Metadata(ctx, kPeerIdKey);
  id.role = *role;
  id.country = Metadata(ctx, kPeerCountryKey);
  id.organization = Metadata(ctx, kPeerOrgKey);
  id.serial_hex = Metadata(ctx, kPeerSerialKey);
  return id;
}

namespace {

grpc::Status RequireRoleOf(std::optional<pki::Identity> p, const std::set<pki::Role>& roles,
                           pki::Identity* peer) {
  std::string wanted;
  for (pki::Role r : roles)
    absl::StrAppend(&wanted, wanted.empty() ? "" : " or ", std::string(pki::RoleName(r)));
  if (!p) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("this call needs a certificate with role ", wanted,
                                     "; connect with your enrolled key and certificate"));
  }
  if (roles.count(p->role) == 0) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat(pki::Describe(*p), " may not call this; it needs role ", wanted));
  }
  if (peer) *peer = *std::move(p);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status RequireRole(const grpc::ServerContext& ctx, const std::set<pki::Role>& roles,
                         pki::Identity* peer) {
  return RequireRoleOf(PeerOf(ctx), roles, peer);
}

grpc::Status RequireRole(const CallScope& call, const std::set<pki::Role>& roles,
                         pki::Identity* peer) {
  return RequireRoleOf(call.Peer(), roles, peer);
}

std::optional<pki::Identity> GrpcCallScope::Peer() const { return PeerOf(*ctx_); }

}  // namespace beibu::rpc
