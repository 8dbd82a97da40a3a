#include "advisory_service.h"

#include "beibu/rpc/peer.h"

namespace beibu::edge {

grpc::Status AdvisoryService::ListRiskWarnings(grpc::ServerContext* ctx,
                                               const v1::ListRiskWarningsRequest*,
                                               v1::ListRiskWarningsResponse* resp) {
  pki::Identity caller;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEnterprise}, &caller); !s.ok()) {
    return s;
  }
  if (caller.country != country_) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "risk warnings are read at the edge of your own country (" +
                            caller.country + "), this edge serves " + country_);
  }
  for (v1::RiskWarning& w : advisor_->For(caller.id)) *resp->add_warnings() = std::move(w);
  return grpc::Status::OK;
}

}  // namespace beibu::edge
