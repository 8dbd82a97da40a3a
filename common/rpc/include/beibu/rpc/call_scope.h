// What a service handler needs to know about the call it serves, whichever
// way the call reached it: the authenticated peer and cancellation. A call
// arrives either on the in-process gRPC server (GrpcCallScope over its
// ServerContext) or straight from the tunnel (direct_methods.h), and a
// handler written against CallScope serves both.
#pragma once

#include <grpcpp/server_context.h>

#include <optional>
#include <set>

#include "beibu/pki/identity.h"

namespace beibu::rpc {

class CallScope {
 public:
  virtual ~CallScope() = default;
  // The caller's identity, or nullopt for an anonymous (enrolling) caller.
  virtual std::optional<pki::Identity> Peer() const = 0;
  // True once the client cancelled, the deadline passed or TryCancel() ran.
  virtual bool IsCancelled() const = 0;
  // Ends the call: blocked Reads return false and later Writes fail.
  virtual void TryCancel() = 0;
};

class GrpcCallScope final : public CallScope {
 public:
  explicit GrpcCallScope(grpc::ServerContext* ctx) : ctx_(ctx) {}
  std::optional<pki::Identity> Peer() const override;
  bool IsCancelled() const override { return ctx_->IsCancelled(); }
  void TryCancel() override { ctx_->TryCancel(); }

 private:
  grpc::ServerContext* ctx_;
};

// OK with *peer set when the caller has one of `roles`; PERMISSION_DENIED
// naming the role needed otherwise (UNAUTHENTICATED for anonymous callers).
grpc::Status RequireRole(const CallScope& call, const std::set<pki::Role>& roles,
                         pki::Identity* peer);

}  // namespace beibu::rpc
