// One call carried by the tunnel, replayed on the in-process server as a
// generic bidirectional stream of serialized messages. Every RPC shape
// (unary, client/server streaming, bidi) is a bidi stream on the wire.
#pragma once

#include <grpcpp/generic/generic_stub.h>

#include <deque>
#include <functional>
#include <mutex>

#include "beibu/pki/identity.h"
#include "served_call.h"
#include "session_io.h"

namespace beibu::rpc::internal {

class InnerCall final : public ServedCall,
                        public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // `on_done` runs after the final status was sent; the object deletes
  // itself right after it returns.
  InnerCall(uint64_t id, SessionIo* io, std::function<void(uint64_t)> on_done)
      : id_(id), io_(io), on_done_(std::move(on_done)) {}

  void Start(grpc::GenericStub* stub, const v1::CallStart& start,
             const std::optional<pki::Identity>& peer, const std::string& session_id);
  void Deliver(const std::string& message) override;
  void HalfClose() override;
  void Cancel() override;

  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override {}
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void PumpWrites();

  const uint64_t id_;
  SessionIo* io_;
  std::function<void(uint64_t)> on_done_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer read_buf_;

  std::mutex mu_;
  std::deque<grpc::ByteBuffer> pending_;
  grpc::ByteBuffer write_buf_;
  bool writing_ = false;
  bool half_close_requested_ = false;
  bool cancelled_ = false;        // cancelled, or a write failed
  bool writes_finished_ = false;  // no write will start any more; hold released
};

}  // namespace beibu::rpc::internal
