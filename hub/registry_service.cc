#include "registry_service.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"

namespace beibu::hub {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return rpc::ToGrpc(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status RegistryService::Enroll(grpc::ServerContext* ctx, const v1::EnrollRequest* req,
                                     v1::EnrollResponse* resp) {
  if (rpc::PeerOf(*ctx)) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "already enrolled: enrol a new identity from an anonymous connection");
  }
  return Reply(state_->Enroll(*req), resp);
}

grpc::Status RegistryService::Heartbeat(
    grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::HubPush, v1::EdgeStatus>* stream) {
  pki::Identity edge;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEdge}, &edge); !s.ok()) return s;
  state_->SetConnected(edge, true);
  spdlog::info("event=edge_connected node={} country={}", edge.id, edge.country);

  // The reader records statuses and remembers which bundle the edge has; this
  // thread pushes whenever the edge's bundle differs from the hub's.
  std::atomic<bool> reading{true};
  std::mutex mu;
  std::string edge_digest;
  uint64_t edge_policy_version = 0;
  bool first_status = false;
  std::condition_variable cv;
  std::thread reader([&] {
    v1::EdgeStatus status;
    bool warned = false;
    while (stream->Read(&status)) {
      if (reports_ != nullptr) reports_->Record(edge, status);
      if (!state_->RecordHeartbeat(edge.id, status) && !warned) {
        spdlog::warn(
            "event=heartbeat_unknown_node node={} action=\"the registry has no record of "
            "this edge (restored from an old backup?); re-enrol it to list it\"",
            edge.id);
        warned = true;
      }
      std::lock_guard<std::mutex> lock(mu);
      edge_digest = status.trust_bundle_digest();
      edge_policy_version = status.policy_version();
      first_status = true;
      cv.notify_all();
    }
    reading = false;
    cv.notify_all();
  });
  // This thread and the breaker pusher write to the stream: one at a time. The
  // pusher starts at once: the set does not wait for the edge's first status.
  std::mutex write_mu;
  std::atomic<bool> pushing{true};
  std::thread breaker_pusher;
  if (breakers_ != nullptr) {
    breaker_pusher = std::thread([&] { PushBreakers(ctx, stream, edge, write_mu, pushing); });
  }
  {
    // In slices, so that a stream cancelled before its first status (hub
    // shutting down, edge gone) does not hold this handler for the full wait.
    std::unique_lock<std::mutex> lock(mu);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!first_status && reading && !ctx->IsCancelled() &&
           std::chrono::steady_clock::now() < until) {
      cv.wait_for(lock, std::chrono::milliseconds(250));
    }
  }
  uint64_t seen_version = 0;
  std::string pushed_digest;
  uint64_t pushed_policy = 0;  // pushed once per version per stream, even if refused
  while (reading && !ctx->IsCancelled()) {
    std::shared_ptr<const pki::TrustBundle> bundle = state_->bundle();
    std::string digest = bundle->DigestHex();
    std::string reported;
    uint64_t reported_policy = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      reported = edge_digest;
      reported_policy = edge_policy_version;
    }
    v1::HubPush push;
    if (digest != reported && digest != pushed_digest) {
      push.set_trust_bundle_pem(bundle->ToPem());
      push.set_bundle_digest(digest);
    }
    std::shared_ptr<const v1::SignedPolicy> policy = policy_ ? policy_->current() : nullptr;
    if (policy && reported_policy < policy->version() && pushed_policy < policy->version()) {
      *push.mutable_policy() = *policy;
    }
    if (!push.trust_bundle_pem().empty() || push.has_policy()) {
      *push.mutable_hub_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
      bool written;
      {
        std::lock_guard<std::mutex> lock(write_mu);
        written = stream->Write(push);
      }
      if (!written) break;
      if (!push.trust_bundle_pem().empty()) {
        pushed_digest = digest;
        spdlog::info("event=bundle_pushed node={} digest={}", edge.id, digest.substr(0, 16));
      }
      if (push.has_policy()) {
        pushed_policy = policy->version();
        spdlog::info("event=policy_pushed node={} version={} edge_version={}", edge.id,
                     policy->version(), reported_policy);
      }
    }
    // Bundle changes wake this loop at once; a new policy version or a new
    // edge status is noticed within the timeout.
    seen_version = state_->WaitForBundleChange(seen_version, std::chrono::milliseconds(250));
  }
  pushing = false;
  // Cancel before joining: it unblocks the reader if we left first, and the
  // pusher if it is stuck in Write to an edge that stopped reading (joined
  // first, it would hold this handler for ever).
  ctx->TryCancel();
  if (breaker_pusher.joinable()) breaker_pusher.join();
  reader.join();
  state_->SetConnected(edge, false);
  spdlog::info("event=edge_disconnected node={}", edge.id);
  return grpc::Status::OK;
}

void RegistryService::PushBreakers(grpc::ServerContext* ctx,
                                   grpc::ServerReaderWriter<v1::HubPush, v1::EdgeStatus>* stream,
                                   const pki::Identity& edge, std::mutex& write_mu,
                                   const std::atomic<bool>& pushing) {
  // Version 0 is never current: the first pass pushes the set on connect.
  uint64_t pushed = 0;
  while (pushing && !ctx->IsCancelled()) {
    HubBreakers::Snapshot now = breakers_->Current();
    if (now.version != pushed) {
      v1::HubPush push;
      for (v1::Breaker& b : now.breakers) *push.add_breakers() = std::move(b);
      push.set_breakers_set(true);  // an empty set closes the hub's breakers at the edge
      *push.mutable_hub_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
      bool written;
      {
        std::lock_guard<std::mutex> lock(write_mu);
        written = stream->Write(push);
      }
      if (!written) {
        ctx->TryCancel();  // the stream is gone: end the reader and the bundle loop
        return;
      }
      pushed = now.version;
      spdlog::info("event=breakers_pushed node={} count={} version={}", edge.id,
                   push.breakers_size(), pushed);
    }
    // Wakes at once on a change; the timeout only bounds how long a closed
    // stream keeps this thread.
    breakers_->WaitForChange(pushed, std::chrono::milliseconds(250));
  }
}

grpc::Status AdminService::CreateJoinToken(grpc::ServerContext* ctx,
                                           const v1::CreateJoinTokenRequest* req,
                                           v1::CreateJoinTokenResponse* resp) {
  pki::Identity op;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, &op); !s.ok()) return s;
  return Reply(state_->CreateJoinToken(*req, op), resp);
}

grpc::Status AdminService::Revoke(grpc::ServerContext* ctx, const v1::RevokeRequest* req,
                                  v1::RevokeResponse* resp) {
  pki::Identity op;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, &op); !s.ok()) return s;
  return Reply(state_->Revoke(*req, op), resp);
}

grpc::Status AdminService::ListNodes(grpc::ServerContext* ctx, const v1::ListNodesRequest*,
                                     v1::ListNodesResponse* resp) {
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, nullptr); !s.ok()) return s;
  *resp = state_->ListNodes();
  return grpc::Status::OK;
}

grpc::Status AdminService::PublishPolicy(grpc::ServerContext* ctx,
                                         const v1::PublishPolicyRequest* req,
                                         v1::PublishPolicyResponse* resp) {
  pki::Identity op;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, &op); !s.ok()) return s;
  if (policy_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "this hub does not distribute a compliance database");
  }
  return Reply(policy_->Publish(*req, op), resp);
}

grpc::Status AdminService::GetPolicy(grpc::ServerContext* ctx, const v1::GetPolicyRequest*,
                                     v1::SignedPolicy* resp) {
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kOperator}, nullptr); !s.ok()) return s;
  if (policy_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "this hub does not distribute a compliance database");
  }
  *resp = *policy_->current();
  return grpc::Status::OK;
}

}  // namespace beibu::hub
