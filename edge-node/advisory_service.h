// beibu.v1.Advisories on an edge: an enterprise reads the risk warnings issued
// to it when a new compliance database version came into force.
#pragma once

#include "beibu/v1/advisory.grpc.pb.h"
#include "risk_advisor.h"

namespace beibu::edge {

class AdvisoryService final : public v1::Advisories::Service {
 public:
  AdvisoryService(RiskAdvisor* advisor, std::string country)
      : advisor_(advisor), country_(std::move(country)) {}
  grpc::Status ListRiskWarnings(grpc::ServerContext* ctx, const v1::ListRiskWarningsRequest* req,
                                v1::ListRiskWarningsResponse* resp) override;

 private:
  RiskAdvisor* advisor_;
  std::string country_;
};

}  // namespace beibu::edge
