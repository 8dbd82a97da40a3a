// Calls the tunnel serves itself instead of replaying them on the in-process
// gRPC server. The replay costs several thread hand-offs per message at each
// end (the in-process transport, the callback executor, the sync server's
// pollers); on the hot streams (relay Push and Pull, the exchange's sends,
// inbox and acks) they were most of the CPU one message cost at moderate
// rates (docs/performance.md "Data plane"). A direct call runs its handler on
// a thread of its own: the session's reader hands it the client's messages,
// and its writes go straight to the session's writer.
//
// A service opts in by also implementing DirectService; daemon::ServerHost
// collects its methods. Handlers are written once against CallScope and the
// gRPC stream interfaces, so the same code serves the in-process server too:
//
//   class RelayService : public v1::Relay::Service, public rpc::DirectService {
//     grpc::Status Push(grpc::ServerContext* ctx, grpc::ServerReaderWriter<A, B>* s) override {
//       rpc::GrpcCallScope call(ctx);
//       return ServePush(call, s);
//     }
//     void AddDirectMethods(rpc::DirectMethods& m) override {
//       m.AddBidi<A, B>("/beibu.v1.Relay/Push",
//                       [this](rpc::CallScope& c, auto* s) { return ServePush(c, s); });
//     }
//   };
#pragma once

#include <grpcpp/support/sync_stream.h>

#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "beibu/rpc/call_scope.h"

namespace beibu::rpc {

// One direct call as the typed adapters below see it.
class DirectStream : public CallScope {
 public:
  // Blocks for the client's next message; false at its half-close or once
  // the call ended.
  virtual bool ReadBytes(std::string* message) = 0;
  // Queues one message to the client. Blocks while the session has more
  // than its write window queued and unsent, so a handler cannot outrun a
  // slow peer. False once the call ended.
  virtual bool WriteBytes(std::string message) = 0;
  // A client message did not parse as `type_name`: the call ends with
  // INVALID_ARGUMENT, whatever the handler returns.
  virtual void RefuseMalformed(std::string_view type_name) = 0;
};

namespace internal {

template <class R>
bool ReadMessage(DirectStream& s, R* msg) {
  std::string bytes;
  if (!s.ReadBytes(&bytes)) return false;
  if (msg->ParseFromString(bytes)) return true;
  s.RefuseMalformed(msg->GetTypeName());
  return false;
}

template <class W, class R>
class DirectReaderWriter final : public grpc::ServerReaderWriterInterface<W, R> {
 public:
  explicit DirectReaderWriter(DirectStream& s) : s_(s) {}
  void SendInitialMetadata() override {}
  bool NextMessageSize(uint32_t* sz) override {
    *sz = std::numeric_limits<uint32_t>::max();
    return true;
  }
  bool Read(R* msg) override { return ReadMessage(s_, msg); }
  using grpc::internal::WriterInterface<W>::Write;
  bool Write(const W& msg, grpc::WriteOptions) override {
    return s_.WriteBytes(msg.SerializeAsString());
  }

 private:
  DirectStream& s_;
};

template <class W>
class DirectWriter final : public grpc::ServerWriterInterface<W> {
 public:
  explicit DirectWriter(DirectStream& s) : s_(s) {}
  void SendInitialMetadata() override {}
  using grpc::internal::WriterInterface<W>::Write;
  bool Write(const W& msg, grpc::WriteOptions) override {
    return s_.WriteBytes(msg.SerializeAsString());
  }

 private:
  DirectStream& s_;
};

// The one request of a unary or server-streaming call.
template <class Req>
grpc::Status ReadRequest(DirectStream& s, Req* req) {
  if (ReadMessage(s, req)) return grpc::Status::OK;
  // A malformed request was already recorded; the status is replaced.
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      "the call ended before its request arrived");
}

}  // namespace internal

class DirectMethods {
 public:
  using Handler = std::function<grpc::Status(DirectStream&)>;

  template <class Req, class Resp>
  void AddUnary(std::string method, std::function<grpc::Status(CallScope&, const Req&, Resp*)> fn) {
    Add(std::move(method), [fn = std::move(fn)](DirectStream& s) {
      Req req;
      if (grpc::Status read = internal::ReadRequest(s, &req); !read.ok()) return read;
      Resp resp;
      grpc::Status status = fn(s, req, &resp);
      if (status.ok()) s.WriteBytes(resp.SerializeAsString());
      return status;
    });
  }

  template <class Req, class W>
  void AddServerStreaming(
      std::string method,
      std::function<grpc::Status(CallScope&, const Req&, grpc::ServerWriterInterface<W>*)> fn) {
    Add(std::move(method), [fn = std::move(fn)](DirectStream& s) {
      Req req;
      if (grpc::Status read = internal::ReadRequest(s, &req); !read.ok()) return read;
      internal::DirectWriter<W> writer(s);
      return fn(s, req, &writer);
    });
  }

  // W: what the server writes; R: what it reads (gRPC's order).
  template <class W, class R>
  void AddBidi(
      std::string method,
      std::function<grpc::Status(CallScope&, grpc::ServerReaderWriterInterface<W, R>*)> fn) {
    Add(std::move(method), [fn = std::move(fn)](DirectStream& s) {
      internal::DirectReaderWriter<W, R> stream(s);
      return fn(s, &stream);
    });
  }

  // The handler of a full method name ("/beibu.v1.Relay/Push"), or null.
  const Handler* Find(std::string_view method) const {
    auto it = handlers_.find(method);
    return it == handlers_.end() ? nullptr : &it->second;
  }
  size_t size() const { return handlers_.size(); }

 private:
  void Add(std::string method, Handler h) { handlers_[std::move(method)] = std::move(h); }
  std::map<std::string, Handler, std::less<>> handlers_;
};

// A gRPC service some of whose methods the tunnel may serve directly.
class DirectService {
 public:
  virtual ~DirectService() = default;
  virtual void AddDirectMethods(DirectMethods& methods) = 0;
};

}  // namespace beibu::rpc
