// beibu.v1.Gateway on the hub (docs/gateway.md §4, §6): the hub-wide
// breakers it imposes on every edge, and what each edge reported of its own.
// Operators only.
#pragma once

#include "beibu/v1/gateway.grpc.pb.h"
#include "edge_breaker_reports.h"
#include "hub_breakers.h"

namespace beibu::hub {

class GatewayService final : public v1::Gateway::Service {
 public:
  GatewayService(HubBreakers* breakers, const EdgeBreakerReports* reports)
      : breakers_(breakers), reports_(reports) {}

  // The hub-wide set, and in `edges` every edge's last report.
  grpc::Status ListBreakers(grpc::ServerContext* ctx, const v1::ListBreakersRequest* req,
                            v1::ListBreakersResponse* resp) override;
  // Opens the scope on every edge (pushed on every heartbeat stream at once).
  // INVALID_ARGUMENT for a bad scope (the message lists the forms) or no reason.
  grpc::Status TripBreaker(grpc::ServerContext* ctx, const v1::TripBreakerRequest* req,
                           v1::Breaker* resp) override;
  // Closes it everywhere; NOT_FOUND when the hub holds no breaker on the scope.
  grpc::Status ResetBreaker(grpc::ServerContext* ctx, const v1::ResetBreakerRequest* req,
                            v1::Breaker* resp) override;

 private:
  HubBreakers* breakers_;
  const EdgeBreakerReports* reports_;
};

}  // namespace beibu::hub
