#include "gateway_service.h"

#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"

namespace beibu::hub {
namespace {

grpc::Status Reply(absl::StatusOr<v1::Breaker> result, v1::Breaker* out) {
  if (!result.ok()) return rpc::ToGrpc(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status GatewayService::ListBreakers(grpc::ServerContext* ctx, const v1::ListBreakersRequest*,
                                          v1::ListBreakersResponse* resp) {
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, nullptr); !s.ok()) return s;
  for (v1::Breaker& b : breakers_->Current().breakers) *resp->add_breakers() = std::move(b);
  for (v1::EdgeBreakers& e : reports_->All()) *resp->add_edges() = std::move(e);
  return grpc::Status::OK;
}

grpc::Status GatewayService::TripBreaker(grpc::ServerContext* ctx,
                                         const v1::TripBreakerRequest* req, v1::Breaker* resp) {
  pki::Identity op;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, &op); !s.ok()) return s;
  return Reply(breakers_->Trip(req->scope(), req->reason(), op), resp);
}

grpc::Status GatewayService::ResetBreaker(grpc::ServerContext* ctx,
                                          const v1::ResetBreakerRequest* req, v1::Breaker* resp) {
  pki::Identity op;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, &op); !s.ok()) return s;
  return Reply(breakers_->Reset(req->scope(), req->reason(), op), resp);
}

}  // namespace beibu::hub
