// beibu.v1.Node: every daemon says who it is and who the caller is to it.
#pragma once

#include <functional>

#include "beibu/pki/identity.h"
#include "beibu/v1/registry.grpc.pb.h"

namespace beibu::daemon {

class NodeInfoService final : public v1::Node::Service {
 public:
  // `bundle_digest` is read per call: the bundle changes while running.
  NodeInfoService(pki::Identity self, std::function<std::string()> bundle_digest)
      : self_(std::move(self)), bundle_digest_(std::move(bundle_digest)) {}

  grpc::Status Info(grpc::ServerContext* ctx, const v1::NodeInfoRequest* req,
                    v1::NodeInfoResponse* resp) override;

 private:
  pki::Identity self_;
  std::function<std::string()> bundle_digest_;
};

inline constexpr char kSoftwareVersion[] = "0.1.0";

}  // namespace beibu::daemon
