// beibu.v1.Registry on the hub: enrolment and the edges' heartbeat streams.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

#include "beibu/v1/registry.grpc.pb.h"
#include "edge_breaker_reports.h"
#include "hub_breakers.h"
#include "hub_state.h"
#include "policy_publisher.h"

namespace beibu::hub {

class RegistryService final : public v1::Registry::Service {
 public:
  // `policy` may be null: no compliance database is then distributed.
  // `breakers` may be null: no hub-wide breakers are pushed; `reports` may be
  // null: the edges' reported breakers are not kept.
  explicit RegistryService(HubState* state, PolicySource* policy = nullptr,
                           HubBreakers* breakers = nullptr, EdgeBreakerReports* reports = nullptr)
      : state_(state), policy_(policy), breakers_(breakers), reports_(reports) {}

  grpc::Status Enroll(grpc::ServerContext* ctx, const v1::EnrollRequest* req,
                      v1::EnrollResponse* resp) override;
  // Pushes the trust bundle on connect and on every change, and the signed
  // compliance database whenever the edge reports an older version than the
  // hub's (on connect, and after each publication); pushes the hub-wide
  // breakers on connect and at once whenever they change (a second thread
  // waits on HubBreakers, so a trip does not wait for the bundle loop's
  // timeout); records each EdgeStatus and the breakers it reports.
  grpc::Status Heartbeat(grpc::ServerContext* ctx,
                         grpc::ServerReaderWriter<v1::HubPush, v1::EdgeStatus>* stream) override;

 private:
  // The breaker half of Heartbeat, on its own thread until `pushing` drops.
  void PushBreakers(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<v1::HubPush, v1::EdgeStatus>* stream,
                    const pki::Identity& edge, std::mutex& write_mu,
                    const std::atomic<bool>& pushing);

  HubState* state_;
  PolicySource* policy_;
  HubBreakers* breakers_;
  EdgeBreakerReports* reports_;
};

class AdminService final : public v1::Admin::Service {
 public:
  // `policy` may be null: PublishPolicy and GetPolicy then answer UNIMPLEMENTED.
  explicit AdminService(HubState* state, PolicySource* policy = nullptr)
      : state_(state), policy_(policy) {}

  grpc::Status CreateJoinToken(grpc::ServerContext* ctx, const v1::CreateJoinTokenRequest* req,
                               v1::CreateJoinTokenResponse* resp) override;
  grpc::Status Revoke(grpc::ServerContext* ctx, const v1::RevokeRequest* req,
                      v1::RevokeResponse* resp) override;
  grpc::Status ListNodes(grpc::ServerContext* ctx, const v1::ListNodesRequest* req,
                         v1::ListNodesResponse* resp) override;
  // Operators only.
  grpc::Status PublishPolicy(grpc::ServerContext* ctx, const v1::PublishPolicyRequest* req,
                             v1::PublishPolicyResponse* resp) override;
  grpc::Status GetPolicy(grpc::ServerContext* ctx, const v1::GetPolicyRequest* req,
                         v1::SignedPolicy* resp) override;

 private:
  HubState* state_;
  PolicySource* policy_;
};

}  // namespace beibu::hub
