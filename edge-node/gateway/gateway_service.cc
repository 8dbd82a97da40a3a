#include "gateway/gateway_service.h"

#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"

namespace beibu::edge {
namespace {

grpc::Status Operator(grpc::ServerContext* ctx, pki::Identity* caller) {
  return rpc::RequireRole(*ctx, {pki::Role::kOperator}, caller);
}

}  // namespace

grpc::Status GatewayService::ListBreakers(grpc::ServerContext* ctx, const v1::ListBreakersRequest*,
                                          v1::ListBreakersResponse* resp) {
  pki::Identity caller;
  if (grpc::Status s = Operator(ctx, &caller); !s.ok()) return s;
  for (v1::Breaker& b : gateway_->Breakers()) *resp->add_breakers() = std::move(b);
  return grpc::Status::OK;
}

grpc::Status GatewayService::TripBreaker(grpc::ServerContext* ctx,
                                         const v1::TripBreakerRequest* req, v1::Breaker* resp) {
  pki::Identity caller;
  if (grpc::Status s = Operator(ctx, &caller); !s.ok()) return s;
  absl::StatusOr<gateway::Scope> scope = gateway::Scope::Parse(req->scope());
  if (!scope.ok()) return rpc::ToGrpc(scope.status());
  absl::StatusOr<v1::Breaker> b =
      gateway_->board().Trip(*scope, req->reason(), "operator:" + caller.id);
  if (!b.ok()) return rpc::ToGrpc(b.status());
  *resp = *std::move(b);
  return grpc::Status::OK;
}

grpc::Status GatewayService::ResetBreaker(grpc::ServerContext* ctx,
                                          const v1::ResetBreakerRequest* req, v1::Breaker* resp) {
  pki::Identity caller;
  if (grpc::Status s = Operator(ctx, &caller); !s.ok()) return s;
  absl::StatusOr<gateway::Scope> scope = gateway::Scope::Parse(req->scope());
  if (!scope.ok()) return rpc::ToGrpc(scope.status());
  absl::StatusOr<v1::Breaker> b =
      gateway_->board().Reset(*scope, req->reason(), "operator:" + caller.id);
  if (!b.ok()) return rpc::ToGrpc(b.status());
  *resp = *std::move(b);
  return grpc::Status::OK;
}

}  // namespace beibu::edge
