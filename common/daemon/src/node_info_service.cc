#include "beibu/daemon/node_info_service.h"

#include "beibu/rpc/peer.h"

namespace beibu::daemon {

grpc::Status NodeInfoService::Info(grpc::ServerContext* ctx, const v1::NodeInfoRequest*,
                                   v1::NodeInfoResponse* resp) {
  resp->set_node_id(self_.id);
  resp->set_role(std::string(pki::RoleName(self_.role)));
  resp->set_country(self_.country);
  resp->set_software_version(kSoftwareVersion);
  resp->set_trust_bundle_digest(bundle_digest_());
  if (std::optional<pki::Identity> peer = rpc::PeerOf(*ctx)) {
    resp->set_peer_id(peer->id);
    resp->set_peer_role(std::string(pki::RoleName(peer->role)));
  } else {
    resp->set_peer_role(rpc::kAnonymousRole);
  }
  return grpc::Status::OK;
}

}  // namespace beibu::daemon
