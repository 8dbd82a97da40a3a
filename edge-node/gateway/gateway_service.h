// beibu.v1.Gateway on an edge (proto/beibu/v1/gateway.proto,
// docs/gateway.md §6): operators list, trip and reset this edge's data
// circuit breakers. Operators only (any country: the space's operators run
// every edge). A breaker imposed by the hub is reset at the hub only.
#pragma once

#include "beibu/v1/gateway.grpc.pb.h"
#include "gateway/edge_gateway.h"

namespace beibu::edge {

class GatewayService final : public v1::Gateway::Service {
 public:
  explicit GatewayService(EdgeGateway* gateway) : gateway_(gateway) {}

  grpc::Status ListBreakers(grpc::ServerContext* ctx, const v1::ListBreakersRequest* req,
                            v1::ListBreakersResponse* resp) override;
  // INVALID_ARGUMENT for a scope that does not parse (the message lists the
  // forms) or an empty reason; tripped_by "operator:<certificate id>".
  grpc::Status TripBreaker(grpc::ServerContext* ctx, const v1::TripBreakerRequest* req,
                           v1::Breaker* resp) override;
  // NOT_FOUND when the scope is closed; FAILED_PRECONDITION when the hub holds it.
  grpc::Status ResetBreaker(grpc::ServerContext* ctx, const v1::ResetBreakerRequest* req,
                            v1::Breaker* resp) override;

 private:
  EdgeGateway* gateway_;
};

}  // namespace beibu::edge
