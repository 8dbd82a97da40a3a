// Direct calls (beibu/rpc/direct_methods.h) through a real TunnelClient on
// loopback: the same handlers, written once against CallScope, serve the
// call whether the tunnel runs them itself or replays them on the in-process
// gRPC server. Counters in the service show which path ran, so a test cannot
// pass on the wrong one.
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <limits>
#include <thread>

#include "beibu/daemon/server_host.h"
#include "beibu/rpc/call_scope.h"
#include "beibu/rpc/direct_methods.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/tunnel.grpc.pb.h"
#include "echo.grpc.pb.h"
#include "pki_fixture.h"
#include "raw_tunnel_client.h"

namespace beibu::rpc {
namespace {

using namespace std::chrono_literals;
using pki::Role;
using test::EchoReply;
using test::EchoRequest;

constexpr char kUnary[] = "/beibu.test.Echo/Unary";
constexpr char kServerStream[] = "/beibu.test.Echo/ServerStream";
constexpr char kBidi[] = "/beibu.test.Echo/Bidi";
// A Unary request with this text needs role operator.
constexpr char kOperatorOnly[] = "operator-only";
// A Unary request with this text makes the handler TryCancel() and return OK.
constexpr char kTryCancel[] = "try-cancel";

// Echo over both paths. Handlers see only CallScope and the gRPC stream
// interfaces, as production services do.
class EchoService final : public test::Echo::Service, public DirectService {
 public:
  // Which methods AddDirectMethods registers.
  struct Direct {
    bool unary = true;
    bool server_stream = true;
    bool bidi = true;
  };
  explicit EchoService(Direct direct) : direct_(direct) {}

  std::atomic<int> direct_calls{0};  // handlers started by the tunnel
  std::atomic<int> grpc_calls{0};    // handlers started by the in-process server
  std::atomic<int> finished{0};      // handlers that returned, either path
  std::atomic<int> saw_cancel{0};    // handlers that saw IsCancelled() become true
  std::atomic<int> blocked_in_read{0};
  std::atomic<int> stream_writes{
      0};  // ServerStream writes that succeeded  // Bidi handlers inside Read() right now

  grpc::Status Unary(grpc::ServerContext* ctx, const EchoRequest* req, EchoReply* resp) override {
    ++grpc_calls;
    GrpcCallScope call(ctx);
    return ServeUnary(call, *req, resp);
  }
  grpc::Status ServerStream(grpc::ServerContext* ctx, const EchoRequest* req,
                            grpc::ServerWriter<EchoReply>* writer) override {
    ++grpc_calls;
    GrpcCallScope call(ctx);
    return ServeStream(call, *req, writer);
  }
  grpc::Status Bidi(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    ++grpc_calls;
    GrpcCallScope call(ctx);
    return ServeBidi(call, stream);
  }

  void AddDirectMethods(DirectMethods& m) override {
    if (direct_.unary) {
      m.AddUnary<EchoRequest, EchoReply>(
          kUnary, [this](CallScope& c, const EchoRequest& req, EchoReply* resp) {
            ++direct_calls;
            return ServeUnary(c, req, resp);
          });
    }
    if (direct_.server_stream) {
      m.AddServerStreaming<EchoRequest, EchoReply>(
          kServerStream, [this](CallScope& c, const EchoRequest& req, auto* writer) {
            ++direct_calls;
            return ServeStream(c, req, writer);
          });
    }
    if (direct_.bidi) {
      m.AddBidi<EchoReply, EchoRequest>(kBidi, [this](CallScope& c, auto* stream) {
        ++direct_calls;
        return ServeBidi(c, stream);
      });
    }
  }

 private:
  // Counts the handler as finished however it returns.
  struct Finisher {
    EchoService* s;
    ~Finisher() { ++s->finished; }
  };

  grpc::Status ServeUnary(CallScope& call, const EchoRequest& req, EchoReply* resp) {
    Finisher f{this};
    if (req.text() == kOperatorOnly) {
      pki::Identity peer;
      if (grpc::Status s = RequireRole(call, {Role::kOperator}, &peer); !s.ok()) return s;
    }
    if (req.text() == kTryCancel) {
      call.TryCancel();
      // gRPC's ServerContext learns of its own TryCancel asynchronously.
      auto until = std::chrono::steady_clock::now() + 2s;
      while (!call.IsCancelled() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(1ms);
      }
      if (call.IsCancelled()) ++saw_cancel;
      Fill(call, req, resp);
      return grpc::Status::OK;
    }
    if (req.delay_ms()) {
      // Wait as a handler doing long work would: checking for cancellation.
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.delay_ms());
      while (std::chrono::steady_clock::now() < until) {
        if (call.IsCancelled()) {
          ++saw_cancel;
          return grpc::Status(grpc::StatusCode::CANCELLED, "gave up: the call was cancelled");
        }
        std::this_thread::sleep_for(2ms);
      }
    }
    if (req.fail_code()) {
      return grpc::Status(static_cast<grpc::StatusCode>(req.fail_code()), "asked to fail");
    }
    Fill(call, req, resp);
    return grpc::Status::OK;
  }

  grpc::Status ServeStream(CallScope& call, const EchoRequest& req,
                           grpc::ServerWriterInterface<EchoReply>* writer) {
    Finisher f{this};
    for (uint32_t i = 0; i < req.repeat(); ++i) {
      EchoReply r;
      Fill(call, req, &r);
      r.set_index(i);
      if (!writer->Write(r)) break;
      ++stream_writes;
    }
    return grpc::Status::OK;
  }

  grpc::Status ServeBidi(CallScope& call,
                         grpc::ServerReaderWriterInterface<EchoReply, EchoRequest>* stream) {
    Finisher f{this};
    EchoRequest req;
    uint32_t i = 0;
    for (;;) {
      ++blocked_in_read;
      bool got = stream->Read(&req);
      --blocked_in_read;
      if (!got) break;
      EchoReply r;
      Fill(call, req, &r);
      r.set_index(i++);
      if (!stream->Write(r)) break;
    }
    if (call.IsCancelled()) ++saw_cancel;
    return grpc::Status::OK;
  }

  static void Fill(const CallScope& call, const EchoRequest& req, EchoReply* r) {
    r->set_text(req.text());
    r->set_blob(req.blob());
    if (auto peer = call.Peer()) {
      r->set_peer_id(peer->id);
      r->set_peer_role(std::string(pki::RoleName(peer->role)));
    } else {
      r->set_peer_role(kAnonymousRole);
    }
  }

  const Direct direct_;
};

// Polls `done` until it holds or `limit` passes; the result is the last poll.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Runs `fn` on a thread of its own. A hang aborts the binary with a message
// instead of stalling it until ctest's timeout: state behind a hung shutdown
// cannot be torn down anyway.
void MustFinishWithin(std::chrono::seconds limit, const char* what, std::function<void()> fn) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([fn = std::move(fn), done] {
    fn();
    done->set_value();
  }).detach();
  if (finished.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "FATAL: %s did not finish within %llds\n", what,
                 static_cast<long long>(limit.count()));
    std::abort();
  }
}

class DirectCallFixture : public ::testing::Test {
 protected:
  void StartServer(bool direct_calls, EchoService::Direct which = {},
                   channel::KeyUpdateLimits limits = {}, size_t max_direct_calls = 4096) {
    host_.reset();
    echo_ = std::make_unique<EchoService>(which);
    direct_calls_ = direct_calls;
    auto started = daemon::ServerHost::Start({
        .listen_address = "127.0.0.1:0",
        .handshake =
            [this, limits] {
              channel::HandshakeConfig c = pki_.Config(server_creds_);
              c.allowed_peer_roles = {Role::kEnterprise, Role::kOperator};
              c.limits = limits;
              return c;
            },
        .services = {echo_.get()},
        .direct_calls = direct_calls,
        .max_direct_calls = max_direct_calls,
    });
    ASSERT_TRUE(started.ok()) << started.status();
    host_ = *std::move(started);
    address_ = "127.0.0.1:" + std::to_string(host_->port());
  }

  std::unique_ptr<TunnelClient> Connect(const std::string& id = "acme",
                                        Role role = Role::kEnterprise) {
    auto client = TunnelClient::Connect(
        {.address = address_, .handshake = pki_.Config(pki_.Issue(id, role, "SG"), {Role::kEdge})});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Every one of `n` handlers ran on the path the server was started with.
  void ExpectServedBy(int n) {
    EXPECT_EQ(echo_->direct_calls.load(), direct_calls_ ? n : 0);
    EXPECT_EQ(echo_->grpc_calls.load(), direct_calls_ ? 0 : n);
  }

  testing::TestPki pki_;
  channel::Credentials server_creds_ = pki_.Issue("edge-sg", Role::kEdge, "SG");
  std::unique_ptr<EchoService> echo_;  // outlives host_ (declared first)
  std::unique_ptr<daemon::ServerHost> host_;
  std::string address_;
  bool direct_calls_ = true;
};

// The tests below must pass on both paths: direct (true) and in-process (false).
class BothPaths : public DirectCallFixture, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { StartServer(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Paths, BothPaths, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Direct" : "InProcess";
                         });

TEST_P(BothPaths, UnaryCarriesTheAuthenticatedPeer) {
  auto client = Connect("acme", Role::kEnterprise);
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_text("xin chao");
  EchoReply resp;
  ASSERT_TRUE(client->Call(kUnary, req, &resp).ok());
  EXPECT_EQ(resp.text(), "xin chao");
  EXPECT_EQ(resp.peer_id(), "acme");
  EXPECT_EQ(resp.peer_role(), "enterprise");
  ExpectServedBy(1);
}

TEST_P(BothPaths, HandlerStatusReachesTheClient) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_fail_code(static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EchoReply resp;
  absl::Status s = client->Call(kUnary, req, &resp);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(s.message(), "asked to fail");
  ExpectServedBy(1);
}

TEST_P(BothPaths, ServerStreamArrivesInOrder) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_text("s");
  req.set_repeat(1000);
  auto call = client->StartCall(kServerStream);
  ASSERT_TRUE(call->Write(req).ok());
  ASSERT_TRUE(call->WritesDone().ok());
  EchoReply r;
  uint32_t n = 0;
  while (call->Read(&r)) {
    ASSERT_EQ(r.index(), n) << "out of order";
    ASSERT_EQ(r.text(), "s");
    ++n;
  }
  EXPECT_EQ(n, 1000u);
  EXPECT_TRUE(call->Finish().ok());
  ExpectServedBy(1);
}

TEST_P(BothPaths, ConcurrentBidiStreamsKeepTheirOwnOrder) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kStreams = 8;
  constexpr int kMessages = 300;
  constexpr int kUnaries = 100;
  std::atomic<int> streams_ok{0};
  std::atomic<int> unaries_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kStreams; ++t) {
    threads.emplace_back([&, t] {
      auto call = client->StartCall(kBidi);
      // Pipelined: the server reads while replies are already flowing back.
      std::thread writer([&] {
        for (int i = 0; i < kMessages; ++i) {
          EchoRequest req;
          req.set_text(std::to_string(t) + ":" + std::to_string(i));
          if (!call->Write(req).ok()) return;
        }
        (void)call->WritesDone();
      });
      EchoReply r;
      int n = 0;
      bool in_order = true;
      while (call->Read(&r)) {
        if (r.index() != static_cast<uint32_t>(n) ||
            r.text() != std::to_string(t) + ":" + std::to_string(n)) {
          in_order = false;
        }
        ++n;
      }
      writer.join();
      absl::Status s = call->Finish();
      EXPECT_TRUE(s.ok()) << "stream " << t << ": " << s;
      EXPECT_EQ(n, kMessages) << "stream " << t;
      EXPECT_TRUE(in_order) << "stream " << t << " saw another stream's or a reordered message";
      if (s.ok() && n == kMessages && in_order) ++streams_ok;
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kUnaries; ++i) {
      EchoRequest req;
      req.set_text("u" + std::to_string(i));
      EchoReply resp;
      if (client->Call(kUnary, req, &resp).ok() && resp.text() == req.text()) ++unaries_ok;
    }
  });
  for (auto& th : threads) th.join();
  EXPECT_EQ(streams_ok.load(), kStreams);
  EXPECT_EQ(unaries_ok.load(), kUnaries);
  EXPECT_EQ(host_->tunnel().active_sessions(), 1u);
  ExpectServedBy(kStreams + kUnaries);
}

TEST_P(BothPaths, ClientCancelEndsAHandlerBlockedInRead) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto call = client->StartCall(kBidi);
  EchoRequest req;
  req.set_text("ping");
  ASSERT_TRUE(call->Write(req).ok());
  EchoReply r;
  ASSERT_TRUE(call->Read(&r));  // the handler runs and is back in Read
  ASSERT_TRUE(PollUntil([&] { return echo_->blocked_in_read.load() == 1; }));
  EXPECT_EQ(echo_->finished.load(), 0);

  call->Cancel();
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }))
      << "the handler is still blocked after the client cancelled";
  EXPECT_EQ(echo_->saw_cancel.load(), 1) << "Read ended but IsCancelled() is false";
  EXPECT_TRUE(absl::IsCancelled(call->Finish()));
  // The session is unharmed.
  EchoReply resp;
  EXPECT_TRUE(client->Call(kUnary, req, &resp).ok());
  ExpectServedBy(2);
}

TEST_P(BothPaths, DeadlineEndsTheCallAndTheHandlerSeesIt) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_delay_ms(30000);  // far beyond the timeout: only cancellation ends it
  EchoReply resp;
  absl::Status s = client->Call(kUnary, req, &resp, 200ms);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  // The server's status, not the client's fallback a second later.
  EXPECT_EQ(s.message().find("no answer from the server"), std::string::npos) << s;
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }));
  EXPECT_EQ(echo_->saw_cancel.load(), 1) << "the handler never saw IsCancelled() become true";
  req.Clear();
  req.set_text("after");
  EXPECT_TRUE(client->Call(kUnary, req, &resp).ok());
  ExpectServedBy(2);
}

TEST_P(BothPaths, BidiDeadlineEndsAHandlerBlockedInRead) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto call = client->StartCall(kBidi, 200ms);
  EchoReply r;
  EXPECT_FALSE(call->Read(&r));  // the client never writes: only the deadline ends this
  absl::Status s = call->Finish();
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_EQ(s.message().find("no answer from the server"), std::string::npos) << s;
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }));
  EXPECT_EQ(echo_->saw_cancel.load(), 1);
  ExpectServedBy(1);
}

TEST_P(BothPaths, ClientCancelStopsAStreamingHandlersWrites) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_text("endless");
  req.set_repeat(std::numeric_limits<uint32_t>::max());
  auto call = client->StartCall(kServerStream);
  ASSERT_TRUE(call->Write(req).ok());
  ASSERT_TRUE(call->WritesDone().ok());
  EchoReply r;
  for (uint32_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(call->Read(&r));
    ASSERT_EQ(r.index(), i);
  }
  call->Cancel();
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }))
      << "the handler kept writing after the client cancelled";
  EXPECT_TRUE(absl::IsCancelled(call->Finish()));
  ExpectServedBy(1);
}

// CallScope::TryCancel "ends the call": the client must see it end as
// cancelled, not succeed, whatever status the handler returns afterwards.
TEST_P(BothPaths, HandlerTryCancelEndsTheCallAsCancelled) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_text(kTryCancel);
  EchoReply resp;
  absl::Status s = client->Call(kUnary, req, &resp);
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  // The client may hear of the cancel before the handler returns.
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }));
  EXPECT_EQ(echo_->saw_cancel.load(), 1) << "IsCancelled() false after TryCancel()";
  ExpectServedBy(1);
}

TEST_P(BothPaths, SixtyFourMebibytesToASlowReaderArriveInOrder) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr uint32_t kReplies = 64;
  EchoRequest req;
  std::string blob(1 << 20, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 31 + 7);
  req.set_blob(blob);
  req.set_repeat(kReplies);
  auto call = client->StartCall(kServerStream);
  ASSERT_TRUE(call->Write(req).ok());
  ASSERT_TRUE(call->WritesDone().ok());
  EchoReply r;
  uint32_t n = 0;
  while (call->Read(&r)) {
    ASSERT_EQ(r.index(), n);
    ASSERT_TRUE(r.blob() == blob) << "reply " << n << " was corrupted";
    ++n;
    std::this_thread::sleep_for(5ms);  // a slow consumer
  }
  EXPECT_EQ(n, kReplies);
  EXPECT_TRUE(call->Finish().ok());
  ExpectServedBy(1);
}

TEST_P(BothPaths, RequireRoleRefusesTheWrongRoleByName) {
  auto enterprise = Connect("acme", Role::kEnterprise);
  ASSERT_NE(enterprise, nullptr);
  EchoRequest req;
  req.set_text(kOperatorOnly);
  EchoReply resp;
  absl::Status s = enterprise->Call(kUnary, req, &resp);
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_NE(s.message().find("operator"), std::string::npos) << s;

  auto op = Connect("ops-1", Role::kOperator);
  ASSERT_NE(op, nullptr);
  EXPECT_TRUE(op->Call(kUnary, req, &resp).ok());
  EXPECT_EQ(resp.peer_role(), "operator");
  ExpectServedBy(2);
}

TEST_P(BothPaths, ClientCloseEndsBlockedHandlersAndShutdownCompletes) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<std::unique_ptr<TunnelCall>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(client->StartCall(kBidi));
  ASSERT_TRUE(PollUntil([&] { return echo_->blocked_in_read.load() == 3; }));

  MustFinishWithin(10s, "TunnelClient::Close", [&] { client->Close(); });
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 3; }))
      << echo_->finished.load() << " of 3 handlers ended after the client closed";
  for (auto& c : calls) EXPECT_FALSE(c->Finish().ok());
  MustFinishWithin(10s, "ServerHost::Shutdown", [&] { host_->Shutdown(0ms); });
  calls.clear();
  MustFinishWithin(10s, "~TunnelClient", [&] { client.reset(); });
  ExpectServedBy(3);
}

TEST_P(BothPaths, ClientDestroyedWhileHandlersBlock) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<std::unique_ptr<TunnelCall>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(client->StartCall(kBidi));
  ASSERT_TRUE(PollUntil([&] { return echo_->blocked_in_read.load() == 3; }));
  // Calls still open when their client goes: TunnelCall must not outlive it,
  // so release them unfinished (their destructors cancel) with the client.
  MustFinishWithin(10s, "~TunnelClient", [&] {
    calls.clear();
    client.reset();
  });
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 3; }));
  EXPECT_TRUE(PollUntil([&] { return host_->tunnel().active_sessions() == 0; }));
  MustFinishWithin(10s, "ServerHost::Shutdown", [&] { host_->Shutdown(0ms); });
}

TEST_P(BothPaths, ServerShutdownEndsBlockedHandlers) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto call = client->StartCall(kBidi);
  ASSERT_TRUE(PollUntil([&] { return echo_->blocked_in_read.load() == 1; }));
  MustFinishWithin(10s, "ServerHost::Shutdown", [&] { host_->Shutdown(0ms); });
  EXPECT_EQ(echo_->finished.load(), 1) << "Shutdown returned with a handler still running";
  EchoReply r;
  EXPECT_FALSE(call->Read(&r));
  EXPECT_FALSE(call->Finish().ok());
  EXPECT_TRUE(PollUntil([&] { return !client->status().ok(); }));
}

// --- direct path only -------------------------------------------------------

using DirectCallTest = DirectCallFixture;

TEST_F(DirectCallTest, MethodsNotRegisteredDirectGoToTheInProcessServer) {
  StartServer(true, {.unary = true, .server_stream = false, .bidi = true});
  auto client = Connect("acme");
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_text("via grpc");
  req.set_repeat(10);
  auto call = client->StartCall(kServerStream);
  ASSERT_TRUE(call->Write(req).ok());
  ASSERT_TRUE(call->WritesDone().ok());
  EchoReply r;
  uint32_t n = 0;
  while (call->Read(&r)) {
    EXPECT_EQ(r.index(), n++);
    EXPECT_EQ(r.peer_id(), "acme");
  }
  EXPECT_EQ(n, 10u);
  EXPECT_TRUE(call->Finish().ok());
  EXPECT_EQ(echo_->grpc_calls.load(), 1);
  EXPECT_EQ(echo_->direct_calls.load(), 0);

  EchoReply resp;
  ASSERT_TRUE(client->Call(kUnary, req, &resp).ok());
  EXPECT_EQ(echo_->direct_calls.load(), 1);
  EXPECT_EQ(echo_->grpc_calls.load(), 1);
}

TEST_F(DirectCallTest, CallsBeyondTheNodesLimitAreRefusedAndTheSessionGoesOn) {
  StartServer(true, {}, {}, /*max_direct_calls=*/2);
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoRequest req;
  req.set_text("x");
  EchoReply r;
  std::vector<std::unique_ptr<TunnelCall>> open;
  for (int i = 0; i < 2; ++i) {  // two handlers running, blocked in Read
    open.push_back(client->StartCall(kBidi));
    ASSERT_TRUE(open.back()->Write(req).ok());
    ASSERT_TRUE(open.back()->Read(&r));
  }
  auto third = client->StartCall(kBidi);
  (void)third->Write(req);
  EXPECT_FALSE(third->Read(&r));
  absl::Status refused = third->Finish();
  EXPECT_TRUE(absl::IsResourceExhausted(refused)) << refused;
  EXPECT_NE(refused.message().find("limit"), std::string_view::npos) << refused;
  // One ends: there is room again, on the same session.
  ASSERT_TRUE(open.front()->WritesDone().ok());
  EXPECT_FALSE(open.front()->Read(&r));
  EXPECT_TRUE(open.front()->Finish().ok());
  EchoReply resp;
  EXPECT_TRUE(PollUntil([&] { return client->Call(kUnary, req, &resp).ok(); }));
  EXPECT_EQ(resp.text(), "x");
}

TEST_F(DirectCallTest, DirectCallsOffRegistersNothing) {
  StartServer(false);
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoReply resp;
  ASSERT_TRUE(client->Call(kUnary, EchoRequest(), &resp).ok());
  EXPECT_EQ(echo_->grpc_calls.load(), 1);
  EXPECT_EQ(echo_->direct_calls.load(), 0);
}

TEST_F(DirectCallTest, KeysUpdateUnderDirectTrafficBothWays) {
  StartServer(true, {}, channel::KeyUpdateLimits{.max_records = 7, .max_bytes = 1 << 20});
  channel::HandshakeConfig c =
      pki_.Config(pki_.Issue("acme", Role::kEnterprise, "SG"), {Role::kEdge});
  c.limits = {.max_records = 5, .max_bytes = 1 << 20};
  auto client = TunnelClient::Connect({.address = address_, .handshake = std::move(c)});
  ASSERT_TRUE(client.ok()) << client.status();
  auto call = (*client)->StartCall(kBidi);
  EchoReply r;
  for (int i = 0; i < 100; ++i) {
    EchoRequest req;
    req.set_text(std::to_string(i));
    req.set_blob(std::string(64 << 10, 'k'));  // crosses max_bytes too
    ASSERT_TRUE(call->Write(req).ok()) << i;
    ASSERT_TRUE(call->Read(&r)) << i;
    ASSERT_EQ(r.text(), req.text());
  }
  ASSERT_TRUE(call->WritesDone().ok());
  EXPECT_FALSE(call->Read(&r));
  EXPECT_TRUE(call->Finish().ok());
  EXPECT_EQ(echo_->direct_calls.load(), 1);
}

// A client that completes a genuine handshake on the raw Tunnel stream and
// then reads only when told to, so the server meets real back-pressure.
class StallingClient : public RawTunnelClient {
 public:
  using RawTunnelClient::RawTunnelClient;

  void Send(const v1::CallFrame& cf) { EXPECT_TRUE(RawTunnelClient::Send(Seal(cf))); }
  // Starts a ServerStream call of `repeat` replies carrying `blob`.
  void StartStream(uint64_t id, uint32_t repeat, const std::string& blob, uint64_t timeout_ms = 0) {
    v1::CallFrame cf;
    cf.set_call_id(id);
    cf.mutable_start()->set_method(kServerStream);
    cf.mutable_start()->set_timeout_ms(timeout_ms);
    Send(cf);
    EchoRequest req;
    req.set_repeat(repeat);
    req.set_blob(blob);
    cf.Clear();
    cf.set_call_id(id);
    cf.set_message(req.SerializeAsString());
    Send(cf);
    cf.Clear();
    cf.set_call_id(id);
    cf.set_half_close(true);
    Send(cf);
  }
  // The status frame of call `id`, skipping its messages.
  std::optional<v1::CallStatus> StatusOf(uint64_t id) {
    v1::CallFrame cf;
    while (ReadCall(&cf)) {
      if (cf.call_id() == id && cf.kind_case() == v1::CallFrame::kStatus) return cf.status();
    }
    return std::nullopt;
  }
};

class StallFixture : public DirectCallFixture {
 protected:
  // Waits until the streaming handler's writes stop advancing (or it
  // finished). Not an assertion: a slow machine only makes this wait longer.
  void WaitForWritesToStall() {
    ASSERT_TRUE(PollUntil([&] { return echo_->stream_writes.load() >= 1; }));
    int last = -1;
    for (int stable = 0; stable < 10 && echo_->finished.load() == 0;) {
      int now = echo_->stream_writes.load();
      stable = now == last ? stable + 1 : 0;
      last = now;
      std::this_thread::sleep_for(50ms);
    }
  }
};

// Without the write window a handler's writes to a peer that stopped reading
// all land in the session queue at once (and past 256 MiB the session dies).
// With it the handler stalls after a few MiB, and resumes as the peer reads.
TEST_F(StallFixture, WriteWindowStallsAHandlerWhileThePeerDoesNotRead) {
  StartServer(true);
  StallingClient raw(address_,
                     pki_.Config(pki_.Issue("acme", Role::kEnterprise, "SG"), {Role::kEdge}));
  constexpr int kReplies = 64;  // 64 MiB, several times the window
  const std::string blob(1 << 20, 'w');
  raw.StartStream(1, kReplies, blob);

  WaitForWritesToStall();
  EXPECT_EQ(echo_->finished.load(), 0)
      << "all " << kReplies << " MiB were queued for a peer that reads nothing";
  EXPECT_LT(echo_->stream_writes.load(), kReplies);

  // Now read: everything arrives in order and the call ends OK.
  v1::CallFrame cf;
  int n = 0;
  for (;;) {
    ASSERT_TRUE(raw.ReadCall(&cf)) << "session ended after " << n << " replies";
    ASSERT_EQ(cf.call_id(), 1u);
    if (cf.kind_case() == v1::CallFrame::kStatus) {
      EXPECT_EQ(cf.status().code(), 0) << cf.status().message();
      break;
    }
    ASSERT_EQ(cf.kind_case(), v1::CallFrame::kMessage);
    EchoReply r;
    ASSERT_TRUE(r.ParseFromString(cf.message()));
    ASSERT_EQ(r.index(), static_cast<uint32_t>(n));
    ASSERT_EQ(r.blob().size(), blob.size());
    ++n;
  }
  EXPECT_EQ(n, kReplies);
  EXPECT_EQ(echo_->finished.load(), 1);
}

// A handler stalled on the window still ends at its deadline, and the status
// reaches the peer once it reads again.
TEST_F(StallFixture, DeadlineEndsAHandlerStalledOnTheWindow) {
  StartServer(true);
  StallingClient raw(address_,
                     pki_.Config(pki_.Issue("acme", Role::kEnterprise, "SG"), {Role::kEdge}));
  raw.StartStream(1, 64, std::string(1 << 20, 'd'), /*timeout_ms=*/500);
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }))
      << "the handler is still blocked on the window after its deadline";
  EXPECT_LT(echo_->stream_writes.load(), 64);
  std::optional<v1::CallStatus> status = raw.StatusOf(1);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status->message();
}

// The client's cancel is read while the session's writer is stuck: it ends a
// handler stalled on the window.
TEST_F(StallFixture, CancelEndsAHandlerStalledOnTheWindow) {
  StartServer(true);
  StallingClient raw(address_,
                     pki_.Config(pki_.Issue("acme", Role::kEnterprise, "SG"), {Role::kEdge}));
  raw.StartStream(1, 64, std::string(1 << 20, 'c'));
  WaitForWritesToStall();
  ASSERT_EQ(echo_->finished.load(), 0);
  v1::CallFrame cancel;
  cancel.set_call_id(1);
  cancel.set_cancel(true);
  raw.Send(cancel);
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }))
      << "the handler is still blocked on the window after the client cancelled";
  std::optional<v1::CallStatus> status = raw.StatusOf(1);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), grpc::StatusCode::CANCELLED) << status->message();
}

// A `bytes` field 1 holding invalid UTF-8: on the wire it is EchoRequest's
// `string text = 1`, which a proto3 parser must refuse.
google::protobuf::BytesValue NotAnEchoRequest() {
  google::protobuf::BytesValue bad;
  bad.set_value(std::string("\xff\xfe\xfd", 3));
  return bad;
}

TEST_F(DirectCallTest, MalformedUnaryRequestIsInvalidArgumentNamingTheType) {
  StartServer(true);
  EchoRequest probe;
  ASSERT_FALSE(probe.ParseFromString(NotAnEchoRequest().SerializeAsString()))
      << "premise: the crafted bytes must not parse as EchoRequest";
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EchoReply resp;
  absl::Status s = client->Call(kUnary, NotAnEchoRequest(), &resp);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("beibu.test.EchoRequest"), std::string::npos) << s;
  // The handler never ran; the session is unharmed.
  EXPECT_EQ(echo_->direct_calls.load(), 0);
  EchoRequest req;
  req.set_text("fine");
  ASSERT_TRUE(client->Call(kUnary, req, &resp).ok());
  EXPECT_EQ(resp.text(), "fine");
}

TEST_F(DirectCallTest, MalformedBidiMessageEndsTheCallWithInvalidArgument) {
  StartServer(true);
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto call = client->StartCall(kBidi);
  EchoRequest req;
  req.set_text("fine");
  ASSERT_TRUE(call->Write(req).ok());
  EchoReply r;
  ASSERT_TRUE(call->Read(&r));
  EXPECT_EQ(r.text(), "fine");
  ASSERT_TRUE(call->Write(NotAnEchoRequest()).ok());
  EXPECT_FALSE(call->Read(&r));
  absl::Status s = call->Finish();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("beibu.test.EchoRequest"), std::string::npos) << s;
  EXPECT_TRUE(PollUntil([&] { return echo_->finished.load() == 1; }));
}

}  // namespace
}  // namespace beibu::rpc
