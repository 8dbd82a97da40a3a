#include "beibu/rpc/tunnel_client.h"

#include <grpcpp/create_channel.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "beibu/rpc/status.h"
#include "beibu/v1/tunnel.grpc.pb.h"
#include "session_io.h"

namespace beibu::rpc {

struct TunnelCall::State {
  uint64_t id = 0;
  // Client-side deadline: the server enforces the timeout too, but a reply
  // lost with a dead server must not block the caller forever.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> messages;
  std::optional<absl::Status> status;
};

struct TunnelClient::Impl {
  TunnelClientOptions options;
  std::shared_ptr<grpc::Channel> grpc_channel;
  std::unique_ptr<v1::Tunnel::Stub> stub;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::TunnelFrame, v1::TunnelFrame>> stream;
  std::unique_ptr<internal::SessionIo> io;
  pki::Identity server;
  v1::CipherSuite suite = v1::CIPHER_SUITE_UNSPECIFIED;
  std::thread reader;
  std::promise<void> reader_finished;
  std::future<void> reader_done = reader_finished.get_future();
  std::atomic<uint64_t> next_call_id{1};

  mutable std::mutex mu;
  std::map<uint64_t, std::shared_ptr<TunnelCall::State>> calls;
  absl::Status broken;  // set once the session is over
  std::once_flag close_once;

  void Fail(absl::Status why) {
    std::map<uint64_t, std::shared_ptr<TunnelCall::State>> calls_copy;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (broken.ok()) broken = why;
      calls_copy.swap(calls);
    }
    for (auto& [id, st] : calls_copy) {
      std::lock_guard<std::mutex> lock(st->mu);
      if (!st->status)
        st->status = absl::UnavailableError(
            absl::StrCat("secure channel to ", server.id, " ended: ", why.message()));
      st->cv.notify_all();
    }
  }

  void ReadLoop() {
    v1::TunnelFrame frame;
    bool peer_closed = false;
    absl::Status end;
    while (stream->Read(&frame)) {
      absl::StatusOr<internal::SessionIo::Received> rec = io->Open(frame);
      if (!rec.ok()) {
        end = rec.status();
        ctx.TryCancel();
        break;
      }
      if (rec->kind == internal::SessionIo::Kind::kKeyUpdate) continue;
      if (rec->kind == internal::SessionIo::Kind::kClose) {
        peer_closed = true;
        continue;
      }
      Dispatch(rec->call);
    }
    grpc::Status finish = stream->Finish();
    if (end.ok()) {
      if (!finish.ok()) {
        end = FromGrpc(finish);
      } else if (!peer_closed) {
        end = absl::DataLossError("secure channel truncated: stream ended without a close record");
      } else {
        end = absl::UnavailableError("server closed the session");
      }
    }
    Fail(end);
    reader_finished.set_value();
  }

  void Dispatch(const v1::CallFrame& frame) {
    std::shared_ptr<TunnelCall::State> st;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = calls.find(frame.call_id());
      if (it == calls.end()) return;  // a call we already gave up on
      st = it->second;
      if (frame.kind_case() == v1::CallFrame::kStatus) calls.erase(it);
    }
    std::lock_guard<std::mutex> lock(st->mu);
    if (frame.kind_case() == v1::CallFrame::kMessage) {
      st->messages.push_back(frame.message());
    } else if (frame.kind_case() == v1::CallFrame::kStatus) {
      st->status = absl::Status(static_cast<absl::StatusCode>(frame.status().code()),
                                frame.status().message());
    }
    st->cv.notify_all();
  }
};

namespace {

// Reads the next frame during connection set-up, turning a closed stream into
// the server's refusal.
absl::StatusOr<v1::TunnelFrame> ReadSetupFrame(
    grpc::ClientReaderWriter<v1::TunnelFrame, v1::TunnelFrame>* stream) {
  v1::TunnelFrame frame;
  if (stream->Read(&frame)) return frame;
  grpc::Status s = stream->Finish();
  if (s.ok()) return absl::UnavailableError("server closed the stream during the handshake");
  return FromGrpc(s);
}

}  // namespace

TunnelClient::TunnelClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TunnelClient::~TunnelClient() {
  Close();
  // The server answers our close by ending the stream; don't wait forever
  // for a server that does not.
  if (impl_->reader_done.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    impl_->ctx.TryCancel();
  }
  if (impl_->reader.joinable()) impl_->reader.join();
}

absl::StatusOr<std::unique_ptr<TunnelClient>> TunnelClient::Connect(TunnelClientOptions options) {
  auto impl = std::make_unique<Impl>();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // One TCP connection per session, never shared with another TunnelClient.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto creds = options.transport ? options.transport : grpc::InsecureChannelCredentials();
  impl->grpc_channel = grpc::CreateCustomChannel(options.address, creds, args);
  if (!impl->grpc_channel->WaitForConnected(std::chrono::system_clock::now() +
                                            options.connect_timeout)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach ", options.address, " within ", options.connect_timeout.count(),
        " ms: is the daemon running there, and does the transport match (TLS needs --tls-ca / "
        "hub_tls_ca with the daemon's TLS root; a plaintext daemon needs neither)?"));
  }
  impl->stub = v1::Tunnel::NewStub(impl->grpc_channel);
  impl->stream = impl->stub->Connect(&impl->ctx);

  absl::StatusOr<channel::ClientHandshake> hs = channel::ClientHandshake::Start(options.handshake);
  if (!hs.ok()) return hs.status();
  v1::TunnelFrame hello;
  hello.set_client_hello(std::string(hs->client_hello().begin(), hs->client_hello().end()));
  if (!impl->stream->Write(hello)) {
    absl::StatusOr<v1::TunnelFrame> f = ReadSetupFrame(impl->stream.get());
    return f.ok() ? absl::UnavailableError("stream closed") : f.status();
  }
  absl::StatusOr<v1::TunnelFrame> flight = ReadSetupFrame(impl->stream.get());
  if (!flight.ok()) return flight.status();
  if (flight->frame_case() != v1::TunnelFrame::kServerFlight) {
    return absl::InvalidArgumentError("server did not answer with a ServerFlight");
  }
  auto finished = hs->Finish(flight->server_flight());
  if (!finished.ok()) {
    // Tell the server why before leaving, so its operator sees it too.
    v1::TunnelFrame alert;
    alert.mutable_alert()->set_code(static_cast<int>(finished.status().code()));
    alert.mutable_alert()->set_message(std::string(finished.status().message()));
    impl->stream->Write(alert);
    impl->stream->WritesDone();
    impl->ctx.TryCancel();
    (void)impl->stream->Finish();
    return finished.status();
  }
  v1::TunnelFrame auth;
  *auth.mutable_client_auth() = finished->first;
  if (!impl->stream->Write(auth)) {
    absl::StatusOr<v1::TunnelFrame> f = ReadSetupFrame(impl->stream.get());
    return f.ok() ? absl::UnavailableError("stream closed") : f.status();
  }
  impl->server = *finished->second.peer;
  impl->suite = finished->second.suite;
  auto* stream = impl->stream.get();
  grpc::ClientContext* ctx = &impl->ctx;
  impl->io = std::make_unique<internal::SessionIo>(
      std::move(finished->second), [stream](const v1::TunnelFrame& f) { return stream->Write(f); },
      [ctx] { ctx->TryCancel(); });
  // The server confirms our authentication with call 0's OK status.
  absl::StatusOr<v1::TunnelFrame> confirm = ReadSetupFrame(impl->stream.get());
  if (!confirm.ok()) return confirm.status();
  absl::StatusOr<internal::SessionIo::Received> rec = impl->io->Open(*confirm);
  if (!rec.ok()) return rec.status();
  if (rec->kind != internal::SessionIo::Kind::kCall || rec->call.call_id() != 0 ||
      rec->call.kind_case() != v1::CallFrame::kStatus || rec->call.status().code() != 0) {
    return absl::InvalidArgumentError("server did not confirm the session");
  }
  impl->options = std::move(options);
  Impl* raw = impl.get();
  impl->reader = std::thread([raw] { raw->ReadLoop(); });
  return std::unique_ptr<TunnelClient>(new TunnelClient(std::move(impl)));
}

const pki::Identity& TunnelClient::server() const { return impl_->server; }
v1::CipherSuite TunnelClient::suite() const { return impl_->suite; }

absl::Status TunnelClient::status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->broken;
}

void TunnelClient::Close() {
  std::call_once(impl_->close_once, [this] {
    if (impl_->io) {
      (void)impl_->io->SendClose();
      impl_->io->Flush();  // the writer thread must be done before WritesDone
    }
    impl_->stream->WritesDone();
  });
}

std::unique_ptr<TunnelCall> TunnelClient::StartCall(const std::string& method,
                                                    std::chrono::milliseconds timeout) {
  auto st = std::make_shared<TunnelCall::State>();
  st->id = impl_->next_call_id++;
  if (timeout.count() > 0) {
    // A second of grace lets the server's own DEADLINE_EXCEEDED arrive first.
    st->deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(1);
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->broken.ok()) {
      st->status = absl::UnavailableError(absl::StrCat("secure channel to ", impl_->server.id,
                                                       " ended: ", impl_->broken.message()));
    } else {
      impl_->calls[st->id] = st;
    }
  }
  if (!st->status) {
    v1::CallFrame frame;
    frame.set_call_id(st->id);
    frame.mutable_start()->set_method(method);
    frame.mutable_start()->set_timeout_ms(timeout.count());
    if (absl::Status s = impl_->io->Send(frame); !s.ok()) impl_->Fail(s);
  }
  return std::unique_ptr<TunnelCall>(new TunnelCall(std::move(st), this));
}

absl::Status TunnelClient::Call(const std::string& method, const google::protobuf::Message& request,
                                google::protobuf::Message* response,
                                std::chrono::milliseconds timeout) {
  std::unique_ptr<TunnelCall> call = StartCall(method, timeout);
  (void)call->Write(request);
  (void)call->WritesDone();
  bool got = call->Read(response);
  absl::Status s = call->Finish();
  if (s.ok() && !got) return absl::InternalError(absl::StrCat(method, " returned no response"));
  return s;
}

// --- TunnelCall -------------------------------------------------------------

TunnelCall::TunnelCall(std::shared_ptr<State> state, TunnelClient* client)
    : state_(std::move(state)), client_(client) {}

TunnelCall::~TunnelCall() {
  bool done;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    done = state_->status.has_value();
  }
  if (!done) Cancel();
}

absl::Status TunnelCall::Write(const google::protobuf::Message& message) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->status) {
      return state_->status->ok() ? absl::FailedPreconditionError("the call has already ended")
                                  : *state_->status;
    }
  }
  v1::CallFrame frame;
  frame.set_call_id(state_->id);
  frame.set_message(message.SerializeAsString());
  return client_->impl_->io->Send(frame);
}

absl::Status TunnelCall::WritesDone() {
  v1::CallFrame frame;
  frame.set_call_id(state_->id);
  frame.set_half_close(true);
  return client_->impl_->io->Send(frame);
}

bool TunnelCall::Read(google::protobuf::Message* message) {
  std::unique_lock<std::mutex> lock(state_->mu);
  if (!WaitUntilReady(lock,
                      [&] { return !state_->messages.empty() || state_->status.has_value(); })) {
    lock.unlock();
    Cancel();
    return false;
  }
  if (state_->messages.empty()) return false;
  bool ok = message->ParseFromString(state_->messages.front());
  state_->messages.pop_front();
  if (!ok)
    state_->status = absl::InternalError("response is not a valid message of the expected type");
  return ok;
}

absl::Status TunnelCall::Finish() {
  std::unique_lock<std::mutex> lock(state_->mu);
  if (!WaitUntilReady(lock, [&] { return state_->status.has_value(); })) {
    lock.unlock();
    Cancel();
    lock.lock();
  }
  return *state_->status;
}

template <typename Pred>
bool TunnelCall::WaitUntilReady(std::unique_lock<std::mutex>& lock, Pred ready) {
  if (!state_->deadline) {
    state_->cv.wait(lock, ready);
    return true;
  }
  if (state_->cv.wait_until(lock, *state_->deadline, ready)) return true;
  if (!state_->status) {
    state_->status = absl::DeadlineExceededError(
        "no answer from the server before the call's deadline (the session may be dead)");
  }
  return false;
}

void TunnelCall::Cancel() {
  v1::CallFrame frame;
  frame.set_call_id(state_->id);
  frame.set_cancel(true);
  (void)client_->impl_->io->Send(frame);
  {
    std::lock_guard<std::mutex> lock(client_->impl_->mu);
    client_->impl_->calls.erase(state_->id);
  }
  std::lock_guard<std::mutex> lock(state_->mu);
  if (!state_->status) state_->status = absl::CancelledError("call cancelled by the client");
  state_->cv.notify_all();
}

}  // namespace beibu::rpc
