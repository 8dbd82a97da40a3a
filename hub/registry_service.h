// beibu.v1.Registry on the hub: enrolment and the edges' heartbeat streams.
#pragma once

#include <functional>

#include "beibu/v1/registry.grpc.pb.h"
#include "hub_state.h"

namespace beibu::hub {

class RegistryService final : public v1::Registry::Service {
 public:
  explicit RegistryService(HubState* state) : state_(state) {}

  grpc::Status Enroll(grpc::ServerContext* ctx, const v1::EnrollRequest* req,
                      v1::EnrollResponse* resp) override;
  // Pushes the trust bundle on connect and on every change; records each
  // EdgeStatus the edge sends.
  grpc::Status Heartbeat(grpc::ServerContext* ctx,
                         grpc::ServerReaderWriter<v1::HubPush, v1::EdgeStatus>* stream) override;

 private:
  HubState* state_;
};

class AdminService final : public v1::Admin::Service {
 public:
  explicit AdminService(HubState* state) : state_(state) {}

  grpc::Status CreateJoinToken(grpc::ServerContext* ctx, const v1::CreateJoinTokenRequest* req,
                               v1::CreateJoinTokenResponse* resp) override;
  grpc::Status Revoke(grpc::ServerContext* ctx, const v1::RevokeRequest* req,
                      v1::RevokeResponse* resp) override;
  grpc::Status ListNodes(grpc::ServerContext* ctx, const v1::ListNodesRequest* req,
                         v1::ListNodesResponse* resp) override;

 private:
  HubState* state_;
};

}  // namespace beibu::hub
