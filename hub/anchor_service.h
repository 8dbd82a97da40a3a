// beibu.v1.Anchor on the hub: the witness of every edge's audit log. An edge's
// checkpoint is accepted only if it is signed by the edge's current key and
// consistent with the last one accepted from that edge; the check and the
// record of the new checkpoint are one atomic step. A stale size, a bad proof
// or a fork is refused, recorded as an alarm in the registry and the hub's
// audit log, and logged at error level for operators.
#pragma once

#include <mutex>

#include "beibu/v1/registry.grpc.pb.h"
#include "hub_state.h"

namespace beibu::hub {

class AnchorService final : public v1::Anchor::Service {
 public:
  explicit AnchorService(HubState* state) : state_(state) {}

  grpc::Status GetAnchored(grpc::ServerContext* ctx, const v1::GetAnchoredRequest* req,
                           v1::GetAnchoredResponse* resp) override;
  grpc::Status SubmitCheckpoint(grpc::ServerContext* ctx, const v1::SubmitCheckpointRequest* req,
                                v1::SubmitCheckpointResponse* resp) override;

 private:
  HubState* state_;
  std::mutex mu_;  // one witness step at a time: check and record are atomic
};

}  // namespace beibu::hub
