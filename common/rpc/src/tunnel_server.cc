#include "beibu/rpc/tunnel_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>

#include "absl/strings/str_cat.h"
#include "beibu/rpc/status.h"
#include "direct_call.h"
#include "inner_call.h"
#include "session_io.h"

namespace beibu::rpc {
namespace {

using Stream = grpc::ServerReaderWriter<v1::TunnelFrame, v1::TunnelFrame>;

std::string PeerName(const std::optional<pki::Identity>& peer) {
  return peer ? pki::Describe(*peer) : std::string("anonymous client");
}

// "ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7", "ipv6:[::1]:51234" -> "ipv6:[::1]":
// a client's source port changes with every attempt, its host does not.
std::string HostOf(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) return addr;
  for (size_t i = colon + 1; i < addr.size(); ++i) {
    if (addr[i] < '0' || addr[i] > '9') return addr;
  }
  std::string host = addr.substr(0, colon);
  // "ipv4" alone would mean the address had no port; keep it whole.
  if (host.find(':') == std::string::npos) return addr;
  return host;
}

// The calls of one session. Connect() may only return once every call has
// finished, since each call writes to the session's stream. The lock is
// recursive because gRPC may run a call's OnDone inline from TryCancel, on
// the thread that holds it; a call is removed (under the lock) before it is
// deleted, so a call found under the lock stays alive while the lock is held.
class CallTable {
 public:
  bool Add(uint64_t id, internal::ServedCall* call, size_t limit) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (calls_.size() >= limit || calls_.count(id)) return false;
    calls_[id] = call;
    return true;
  }
  template <typename F>
  void With(uint64_t id, F f) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it != calls_.end()) f(it->second);
  }
  void Remove(uint64_t id) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    calls_.erase(id);
    if (calls_.empty()) empty_.notify_all();
  }
  void CancelAllAndWait() {
    std::vector<uint64_t> ids;
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      for (auto& [id, call] : calls_) ids.push_back(id);
    }
    for (uint64_t id : ids) With(id, [](internal::ServedCall* c) { c->Cancel(); });
    std::unique_lock<std::recursive_mutex> lock(mu_);
    empty_.wait(lock, [&] { return calls_.empty(); });
  }

 private:
  std::recursive_mutex mu_;
  std::condition_variable_any empty_;
  std::map<uint64_t, internal::ServedCall*> calls_;
};

}  // namespace

TunnelService::TunnelService(TunnelServiceOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  inner_channel_ = options_.inner->InProcessChannel(args);
  watchdog_ = std::thread([this] { WatchHandshakes(); });
}

TunnelService::~TunnelService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  watchdog_.join();
  // Each inner call's ClientContext holds a reference to inner_channel_ and
  // is destroyed on a gRPC callback thread, after the call left its session's
  // table. If that were the channel's last reference, gRPC would shut its
  // shared callback queue down from that very thread and abort (seen as
  // "ref_counted.h assertion failed: prior > 0" when a server is restarted in
  // one process; grpc/grpc#32584). So wait, bounded, until ours is the only
  // reference left, and drop it here.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (inner_channel_.use_count() > 1 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  inner_channel_.reset();
}

void TunnelService::WatchHandshakes() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(250));
    auto now = std::chrono::steady_clock::now();
    for (auto& [ctx, deadline] : handshaking_) {
      if (now > deadline) {
        spdlog::warn("event=handshake_timeout from={}", ctx->peer());
        ctx->TryCancel();
        deadline = std::chrono::steady_clock::time_point::max();  // warn once
      }
    }
  }
}

void TunnelService::ReportRefusal(const std::optional<pki::Identity>& claimed,
                                  const std::string& addr) {
  if (!options_.on_handshake_refused) return;
  const std::string who = claimed && !claimed->id.empty() ? claimed->id : HostOf(addr);
  try {
    options_.on_handshake_refused(who);
  } catch (const std::exception& e) {
    spdlog::error("event=handshake_refused_hook_failed who={} error=\"{}\"", who, e.what());
  } catch (...) {
    spdlog::error("event=handshake_refused_hook_failed who={} error=\"unknown exception\"", who);
  }
}

size_t TunnelService::active_sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

int TunnelService::CloseSessions(const std::function<bool(const pki::Identity&)>& match) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (Live* l : live_) {
    if (l->peer && match(*l->peer)) {
      l->ctx->TryCancel();
      ++n;
    }
  }
  return n;
}

grpc::Status TunnelService::Connect(grpc::ServerContext* ctx, Stream* stream) {
  const std::string addr = ctx->peer();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_.size() + handshaking_.size() >= options_.max_sessions) {
      spdlog::warn("event=session_refused from={} reason=too_many_sessions", addr);
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "too many secure-channel sessions on this node; retry later");
    }
    handshaking_[ctx] = std::chrono::steady_clock::now() + options_.handshake_timeout;
  }
  grpc::Status status = Serve(ctx, stream);
  std::lock_guard<std::mutex> lock(mu_);
  handshaking_.erase(ctx);
  return status;
}

grpc::Status TunnelService::Serve(grpc::ServerContext* ctx, Stream* stream) {
  const std::string addr = ctx->peer();
  v1::TunnelFrame frame;
  if (!stream->Read(&frame)) return grpc::Status::CANCELLED;
  if (frame.frame_case() != v1::TunnelFrame::kClientHello) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "secure channel must start with a ClientHello");
  }
  absl::StatusOr<channel::ServerHandshake> hs =
      channel::ServerHandshake::Accept(options_.handshake(), AsBytes(frame.client_hello()));
  if (!hs.ok()) {
    spdlog::warn("event=handshake_refused from={} error=\"{}\"", addr, hs.status().ToString());
    ReportRefusal(std::nullopt, addr);
    return ToGrpc(hs.status());
  }
  v1::TunnelFrame reply;
  *reply.mutable_server_flight() = hs->server_flight();
  if (!stream->Write(reply)) return grpc::Status::CANCELLED;
  if (!stream->Read(&frame)) return grpc::Status::CANCELLED;
  if (frame.frame_case() == v1::TunnelFrame::kAlert) {
    spdlog::warn("event=handshake_refused_by_client peer=\"{}\" from={} error=\"{}\"",
                 PeerName(hs->claimed_peer()), addr, frame.alert().message());
    return grpc::Status::CANCELLED;
  }
  if (frame.frame_case() != v1::TunnelFrame::kClientAuth) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected the client's HandshakeAuth");
  }
  absl::StatusOr<channel::Session> session = hs->Finish(frame.client_auth());
  if (!session.ok()) {
    spdlog::warn("event=handshake_refused peer=\"{}\" from={} error=\"{}\"",
                 PeerName(hs->claimed_peer()), addr, session.status().ToString());
    ReportRefusal(hs->claimed_peer(), addr);
    return ToGrpc(session.status());
  }
  const std::optional<pki::Identity> peer = session->peer;
  const std::string session_id = session->id_hex;
  const std::string suite = channel::SuiteName(session->suite);
  internal::SessionIo io(
      std::move(*session), [stream](const v1::TunnelFrame& f) { return stream->Write(f); },
      [ctx] { ctx->TryCancel(); });
  // Tell the client its authentication was accepted (call 0, status OK), so
  // that every refusal surfaces while it connects rather than on a later call.
  v1::CallFrame accepted;
  accepted.mutable_status()->set_code(0);
  if (!io.Send(accepted).ok()) return grpc::Status::CANCELLED;

  Live live{ctx, peer};
  {
    std::lock_guard<std::mutex> lock(mu_);
    handshaking_.erase(ctx);
    live_.insert(&live);
  }
  // A revocation that landed while this handshake was in progress: the
  // session is registered now, so a later one will find it; this one not.
  if (peer && options_.handshake().trust->IsRevoked(*peer)) {
    spdlog::warn("event=handshake_refused peer=\"{}\" from={} error=\"revoked during handshake\"",
                 PeerName(peer), addr);
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_.erase(&live);
    }
    ReportRefusal(peer, addr);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("certificate ", peer->serial_hex, " was revoked"));
  }
  spdlog::info("event=session_up session={} peer=\"{}\" from={} suite={}", session_id,
               PeerName(peer), addr, suite);
  grpc::GenericStub stub(inner_channel_);
  CallTable calls;
  absl::Status end = absl::OkStatus();
  bool clean_close = false;
  while (stream->Read(&frame)) {
    absl::StatusOr<internal::SessionIo::Received> rec = io.Open(frame);
    if (!rec.ok()) {
      end = rec.status();
      break;
    }
    if (rec->kind == internal::SessionIo::Kind::kKeyUpdate) continue;
    if (rec->kind == internal::SessionIo::Kind::kClose) {
      clean_close = true;
      break;
    }
    const v1::CallFrame& cf = rec->call;
    switch (cf.kind_case()) {
      case v1::CallFrame::kStart: {
        auto refuse = [&](const std::string& why) {
          v1::CallFrame refused;
          refused.set_call_id(cf.call_id());
          refused.mutable_status()->set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
          refused.mutable_status()->set_message(why);
          (void)io.Send(refused);
        };
        const DirectMethods::Handler* direct =
            options_.direct ? options_.direct->Find(cf.start().method()) : nullptr;
        if (direct && direct_calls_.fetch_add(1) >= options_.max_direct_calls) {
          direct_calls_.fetch_sub(1);
          spdlog::warn("event=direct_call_refused peer=\"{}\" error=\"{} direct calls running\"",
                       PeerName(peer), options_.max_direct_calls);
          refuse(absl::StrCat("this node runs ", options_.max_direct_calls,
                              " calls already, its limit; retry later"));
          break;
        }
        internal::ServedCall* call;
        if (direct) {
          call = new internal::DirectCall(cf.call_id(), direct, &io, peer, cf.start().timeout_ms(),
                                          [this, &calls](uint64_t id) {
                                            // Before Remove: once the table is
                                            // empty this service may go away.
                                            direct_calls_.fetch_sub(1);
                                            calls.Remove(id);
                                          });
        } else {
          call = new internal::InnerCall(cf.call_id(), &io,
                                         [&calls](uint64_t id) { calls.Remove(id); });
        }
        if (!calls.Add(cf.call_id(), call, options_.max_calls_per_session)) {
          delete call;
          if (direct) direct_calls_.fetch_sub(1);
          refuse(absl::StrCat("call id in use or more than ", options_.max_calls_per_session,
                              " calls open on this session"));
          break;
        }
        if (direct) {
          if (!static_cast<internal::DirectCall*>(call)->Start()) {
            // Out of threads: refuse this call, keep the session and the others.
            calls.Remove(cf.call_id());
            delete call;
            direct_calls_.fetch_sub(1);
            refuse("this node cannot start another call now (out of threads); retry later");
          }
        } else {
          static_cast<internal::InnerCall*>(call)->Start(&stub, cf.start(), peer, session_id);
        }
        break;
      }
      case v1::CallFrame::kMessage:
        calls.With(cf.call_id(), [&](internal::ServedCall* c) { c->Deliver(cf.message()); });
        break;
      case v1::CallFrame::kHalfClose:
        calls.With(cf.call_id(), [](internal::ServedCall* c) { c->HalfClose(); });
        break;
      case v1::CallFrame::kCancel:
        calls.With(cf.call_id(), [](internal::ServedCall* c) { c->Cancel(); });
        break;
      default:
        end = absl::InvalidArgumentError("client sent a call frame of an unknown kind");
        break;
    }
    if (!end.ok()) break;
  }
  if (end.ok() && !clean_close && !ctx->IsCancelled()) {
    end = absl::DataLossError("secure channel truncated: stream ended without a close record");
  }
  calls.CancelAllAndWait();
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(&live);
  }
  if (ctx->IsCancelled()) {
    spdlog::info("event=session_cancelled session={} peer=\"{}\"", session_id, PeerName(peer));
    return grpc::Status::CANCELLED;
  }
  if (!end.ok()) {
    spdlog::warn("event=session_failed session={} peer=\"{}\" error=\"{}\"", session_id,
                 PeerName(peer), end.ToString());
    return ToGrpc(end);
  }
  (void)io.SendClose();
  spdlog::info("event=session_closed session={} peer=\"{}\"", session_id, PeerName(peer));
  return grpc::Status::OK;
}

}  // namespace beibu::rpc
