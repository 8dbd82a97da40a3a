// The secure channel on real loopback gRPC: calls of every shape through the
// tunnel, identity propagation, key updates under traffic, and refusals seen
// by a real client, including an attacker that replays, truncates or breaks
// off records on the wire.
#include <gtest/gtest.h>

#include <grpcpp/create_channel.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "beibu/crypto/random.h"
#include "beibu/daemon/server_host.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/tunnel.grpc.pb.h"
#include "echo.grpc.pb.h"
#include "pki_fixture.h"
#include "raw_tunnel_client.h"

namespace beibu::rpc {
namespace {

using pki::Role;
using test::EchoReply;
using test::EchoRequest;

class EchoService final : public test::Echo::Service {
 public:
  grpc::Status Unary(grpc::ServerContext* ctx, const EchoRequest* req, EchoReply* resp) override {
    if (req->delay_ms()) std::this_thread::sleep_for(std::chrono::milliseconds(req->delay_ms()));
    if (req->fail_code()) {
      return grpc::Status(static_cast<grpc::StatusCode>(req->fail_code()), "asked to fail");
    }
    Fill(*ctx, *req, resp);
    return grpc::Status::OK;
  }
  grpc::Status ServerStream(grpc::ServerContext* ctx, const EchoRequest* req,
                            grpc::ServerWriter<EchoReply>* writer) override {
    for (uint32_t i = 0; i < req->repeat(); ++i) {
      EchoReply r;
      Fill(*ctx, *req, &r);
      r.set_index(i);
      if (!writer->Write(r)) break;
    }
    return grpc::Status::OK;
  }
  grpc::Status Bidi(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    EchoRequest req;
    uint32_t i = 0;
    while (stream->Read(&req)) {
      EchoReply r;
      Fill(*ctx, req, &r);
      r.set_index(i++);
      stream->Write(r);
    }
    return grpc::Status::OK;
  }

 private:
  static void Fill(const grpc::ServerContext& ctx, const EchoRequest& req, EchoReply* r) {
    r->set_text(req.text());
    r->set_blob(req.blob());
    if (auto peer = PeerOf(ctx)) {
      r->set_peer_id(peer->id);
      r->set_peer_role(std::string(pki::RoleName(peer->role)));
    } else {
      r->set_peer_role(kAnonymousRole);
    }
  }
};

class TunnelTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(channel::KeyUpdateLimits limits, size_t max_sessions = 4096,
                   std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10)) {
    host_.reset();
    server_creds_ = pki_.Issue("edge-sg", Role::kEdge, "SG");
    auto started = daemon::ServerHost::Start({
        .listen_address = "127.0.0.1:0",
        .handshake =
            [this, limits] {
              channel::HandshakeConfig c = pki_.Config(server_creds_);
              c.trust = trust_;
              c.allowed_peer_roles = {Role::kEnterprise, Role::kOperator};
              c.limits = limits;
              return c;
            },
        .services = {&echo_},
        .max_sessions = max_sessions,
        .handshake_timeout = handshake_timeout,
        .on_handshake_refused =
            [this](const std::string& who) {
              std::lock_guard<std::mutex> lock(refused_mu_);
              refused_.push_back(who);
            },
    });
    ASSERT_TRUE(started.ok()) << started.status();
    host_ = *std::move(started);
    address_ = "127.0.0.1:" + std::to_string(host_->port());
  }

  channel::HandshakeConfig ClientConfig(const std::string& id = "acme",
                                        Role role = Role::kEnterprise) {
    channel::HandshakeConfig c = pki_.Config(pki_.Issue(id, role, "SG"), {Role::kEdge});
    return c;
  }

  absl::StatusOr<std::unique_ptr<TunnelClient>> Connect(channel::HandshakeConfig c) {
    return TunnelClient::Connect({.address = address_, .handshake = std::move(c)});
  }

  testing::TestPki pki_;
  std::shared_ptr<pki::TrustBundle> trust_ = pki_.Bundle();
  channel::Credentials server_creds_ = pki_.Issue("edge-sg", Role::kEdge, "SG");
  EchoService echo_;
  std::mutex refused_mu_;
  std::vector<std::string> refused_;  // what on_handshake_refused was called with
  std::unique_ptr<daemon::ServerHost> host_;
  std::string address_;
};

TEST_F(TunnelTest, UnaryCallCarriesTheAuthenticatedIdentity) {
  auto client = Connect(ClientConfig("acme"));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->server().id, "edge-sg");
  EchoRequest req;
  req.set_text("xin chao");
  EchoReply resp;
  ASSERT_TRUE((*client)->Call("/beibu.test.Echo/Unary", req, &resp).ok());
  EXPECT_EQ(resp.text(), "xin chao");
  EXPECT_EQ(resp.peer_id(), "acme");
  EXPECT_EQ(resp.peer_role(), "enterprise");
}

TEST_F(TunnelTest, ServerStreamingAndBidi) {
  auto client = Connect(ClientConfig());
  ASSERT_TRUE(client.ok()) << client.status();
  EchoRequest req;
  req.set_text("s");
  req.set_repeat(100);
  auto call = (*client)->StartCall("/beibu.test.Echo/ServerStream");
  ASSERT_TRUE(call->Write(req).ok());
  ASSERT_TRUE(call->WritesDone().ok());
  EchoReply r;
  uint32_t n = 0;
  while (call->Read(&r)) EXPECT_EQ(r.index(), n++);
  EXPECT_EQ(n, 100u);
  EXPECT_TRUE(call->Finish().ok());

  auto bidi = (*client)->StartCall("/beibu.test.Echo/Bidi");
  for (int i = 0; i < 20; ++i) {
    req.set_text("b" + std::to_string(i));
    ASSERT_TRUE(bidi->Write(req).ok());
    ASSERT_TRUE(bidi->Read(&r));
    EXPECT_EQ(r.text(), "b" + std::to_string(i));
  }
  ASSERT_TRUE(bidi->WritesDone().ok());
  EXPECT_FALSE(bidi->Read(&r));
  EXPECT_TRUE(bidi->Finish().ok());
}

TEST_F(TunnelTest, ManyConcurrentCallsShareOneSession) {
  auto client = Connect(ClientConfig());
  ASSERT_TRUE(client.ok()) << client.status();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        EchoRequest req;
        req.set_text(std::to_string(t) + "/" + std::to_string(i));
        EchoReply resp;
        if ((*client)->Call("/beibu.test.Echo/Unary", req, &resp).ok() &&
            resp.text() == req.text()) {
          ++ok;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(host_->tunnel().active_sessions(), 1u);
}

TEST_F(TunnelTest, FourMebibyteMessage) {
  auto client = Connect(ClientConfig());
  ASSERT_TRUE(client.ok()) << client.status();
  EchoRequest req;
  Bytes blob = crypto::RandomBytes(4 << 20);
  req.set_blob(std::string(blob.begin(), blob.end()));
  EchoReply resp;
  ASSERT_TRUE((*client)->Call("/beibu.test.Echo/Unary", req, &resp).ok());
  EXPECT_EQ(resp.blob(), req.blob());
}

TEST_F(TunnelTest, KeysUpdateUnderTrafficBothWays) {
  StartServer(channel::KeyUpdateLimits{.max_records = 7, .max_bytes = 1 << 20});
  channel::HandshakeConfig c = ClientConfig();
  c.limits = {.max_records = 5, .max_bytes = 1 << 20};
  auto client = Connect(c);
  ASSERT_TRUE(client.ok()) << client.status();
  for (int i = 0; i < 60; ++i) {
    EchoRequest req;
    req.set_text(std::to_string(i));
    EchoReply resp;
    ASSERT_TRUE((*client)->Call("/beibu.test.Echo/Unary", req, &resp).ok()) << i;
    ASSERT_EQ(resp.text(), req.text());
  }
}

TEST_F(TunnelTest, ServiceStatusAndUnknownMethodAndDeadline) {
  auto client = Connect(ClientConfig());
  ASSERT_TRUE(client.ok()) << client.status();
  EchoRequest req;
  req.set_fail_code(static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EchoReply resp;
  absl::Status s = (*client)->Call("/beibu.test.Echo/Unary", req, &resp);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(s.message(), "asked to fail");

  s = (*client)->Call("/beibu.test.Echo/NoSuchMethod", EchoRequest(), &resp);
  EXPECT_TRUE(absl::IsUnimplemented(s)) << s;

  req.Clear();
  req.set_delay_ms(500);
  s = (*client)->Call("/beibu.test.Echo/Unary", req, &resp, std::chrono::milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  // The session survives all of the above.
  req.Clear();
  EXPECT_TRUE((*client)->Call("/beibu.test.Echo/Unary", req, &resp).ok());
}

TEST_F(TunnelTest, RefusalsReachTheClientWithTheirReason) {
  auto wrong_role = Connect(ClientConfig("an-edge", Role::kEdge));
  ASSERT_FALSE(wrong_role.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(wrong_role.status())) << wrong_role.status();
  EXPECT_NE(wrong_role.status().message().find("role"), std::string::npos);

  channel::HandshakeConfig foreign =
      pki_.Config(pki_.Issue(pki_.foreign, "x", Role::kEnterprise, "SG"), {Role::kEdge});
  auto unknown = Connect(foreign);
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(unknown.status())) << unknown.status();

  channel::HandshakeConfig c = ClientConfig("revoked-co");
  std::string serial = c.credentials->chain.front().SerialHex();
  auto bundle = pki_.Bundle();
  ASSERT_TRUE(bundle->AddCrl(pki_.ca.IssueCrl({{serial, pki::Clock::now()}}, 1).value()).ok());
  trust_ = bundle;  // the server reads the bundle per connection
  auto revoked = Connect(c);
  ASSERT_FALSE(revoked.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(revoked.status())) << revoked.status();
  EXPECT_NE(revoked.status().message().find("revoked"), std::string::npos);
}

// The auth-failure hook (the gateway's auth_failures detector): called for
// each refusal by the server, before the client hears of it, with the host
// when the certificate was refused outright.
TEST_F(TunnelTest, RefusedHandshakesAreReportedByHost) {
  ASSERT_TRUE(Connect(ClientConfig("acme")).ok());
  ASSERT_FALSE(Connect(ClientConfig("an-edge", Role::kEdge)).ok());
  channel::HandshakeConfig foreign =
      pki_.Config(pki_.Issue(pki_.foreign, "x", Role::kEnterprise, "SG"), {Role::kEdge});
  ASSERT_FALSE(Connect(foreign).ok());
  std::lock_guard<std::mutex> lock(refused_mu_);
  EXPECT_EQ(refused_, (std::vector<std::string>{"ipv4:127.0.0.1", "ipv4:127.0.0.1"}));
}

// A client whose certificate verifies but whose proof of its key does not:
// reported under the certificate id it claimed.
TEST_F(TunnelTest, BadKeyProofIsReportedUnderTheClaimedId) {
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  auto stub = v1::Tunnel::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->Connect(&ctx);
  auto hs = channel::ClientHandshake::Start(ClientConfig("forger-co")).value();
  v1::TunnelFrame f;
  f.set_client_hello(std::string(hs.client_hello().begin(), hs.client_hello().end()));
  ASSERT_TRUE(stream->Write(f));
  ASSERT_TRUE(stream->Read(&f));
  auto done = hs.Finish(f.server_flight());
  ASSERT_TRUE(done.ok()) << done.status();
  v1::TunnelFrame auth;
  *auth.mutable_client_auth() = done->first;
  std::string sig = auth.client_auth().signature();
  ASSERT_FALSE(sig.empty());
  sig[sig.size() / 2] ^= 0x5a;  // a signature by someone without the key
  auth.mutable_client_auth()->set_signature(sig);
  ASSERT_TRUE(stream->Write(auth));
  stream->WritesDone();
  while (stream->Read(&f)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_FALSE(s.ok());
  std::lock_guard<std::mutex> lock(refused_mu_);
  EXPECT_EQ(refused_, std::vector<std::string>{"forger-co"});
}

// A hook that throws must not take the server down or change the refusal.
TEST_F(TunnelTest, ThrowingRefusalHookIsContained) {
  host_.reset();
  auto started = daemon::ServerHost::Start({
      .listen_address = "127.0.0.1:0",
      .handshake =
          [this] {
            channel::HandshakeConfig c = pki_.Config(server_creds_);
            c.allowed_peer_roles = {Role::kEnterprise};
            return c;
          },
      .services = {&echo_},
      .on_handshake_refused = [](const std::string&) { throw std::runtime_error("boom"); },
  });
  ASSERT_TRUE(started.ok()) << started.status();
  host_ = *std::move(started);
  address_ = "127.0.0.1:" + std::to_string(host_->port());
  auto refused = Connect(ClientConfig("an-edge", Role::kEdge));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
  EXPECT_TRUE(Connect(ClientConfig("acme")).ok());
}

TEST_F(TunnelTest, ClosingSessionsOfARevokedPeerEndsItsCalls) {
  auto client = Connect(ClientConfig("acme"));
  ASSERT_TRUE(client.ok()) << client.status();
  EchoReply resp;
  ASSERT_TRUE((*client)->Call("/beibu.test.Echo/Unary", EchoRequest(), &resp).ok());
  EXPECT_EQ(host_->tunnel().CloseSessions([](const pki::Identity& p) { return p.id == "acme"; }),
            1);
  for (int i = 0; i < 100 && (*client)->status().ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE((*client)->status().ok());
  absl::Status s = (*client)->Call("/beibu.test.Echo/Unary", EchoRequest(), &resp);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
}

TEST_F(TunnelTest, SessionCapRefusesTheNextClient) {
  StartServer({}, /*max_sessions=*/1);
  auto first = Connect(ClientConfig("first"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Connect(ClientConfig("second"));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(second.status())) << second.status();
  first->reset();  // closing the first session frees the slot
  bool admitted = false;
  for (int i = 0; i < 50 && !admitted; ++i) {
    admitted = Connect(ClientConfig("third")).ok();
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(admitted);
}

TEST_F(TunnelTest, StalledHandshakeIsCutOff) {
  StartServer({}, 4096, std::chrono::milliseconds(300));
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  auto stub = v1::Tunnel::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->Connect(&ctx);
  // Send nothing: the server must not keep this session forever.
  v1::TunnelFrame f;
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(stream->Read(&f));
  grpc::Status s = stream->Finish();
  EXPECT_FALSE(s.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(host_->tunnel().active_sessions(), 0u);
}

TEST_F(TunnelTest, UnreachableServerIsUnavailable) {
  auto client = TunnelClient::Connect({.address = "127.0.0.1:1",
                                       .handshake = ClientConfig(),
                                       .connect_timeout = std::chrono::milliseconds(300)});
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(absl::IsUnavailable(client.status())) << client.status();
}

// Misbehaves on the record layer after a genuine handshake.
class RawClient : public RawTunnelClient {
 public:
  using RawTunnelClient::RawTunnelClient;
  Bytes SealCall(uint64_t id, const std::string& method) {
    v1::CallFrame cf;
    cf.set_call_id(id);
    cf.mutable_start()->set_method(method);
    return Seal(cf);
  }
};

TEST_F(TunnelTest, ReplayedRecordOnTheWireEndsTheSession) {
  RawClient raw(address_, ClientConfig());
  Bytes rec = raw.SealCall(1, "/beibu.test.Echo/Unary");
  raw.Send(rec);
  raw.Send(rec);
  grpc::Status s = raw.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_NE(s.error_message().find("replayed"), std::string::npos) << s.error_message();
}

TEST_F(TunnelTest, ReorderedRecordOnTheWireEndsTheSession) {
  RawClient raw(address_, ClientConfig());
  Bytes first = raw.SealCall(1, "/beibu.test.Echo/Unary");
  Bytes second = raw.SealCall(2, "/beibu.test.Echo/Unary");
  raw.Send(second);
  grpc::Status s = raw.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_NE(s.error_message().find("reordered"), std::string::npos) << s.error_message();
}

TEST_F(TunnelTest, TamperedAndTruncatedRecordsOnTheWireEndTheSession) {
  {
    RawClient raw(address_, ClientConfig());
    Bytes rec = raw.SealCall(1, "/beibu.test.Echo/Unary");
    rec[20] ^= 0x10;
    raw.Send(rec);
    grpc::Status s = raw.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
    EXPECT_NE(s.error_message().find("tampered"), std::string::npos) << s.error_message();
  }
  {
    RawClient raw(address_, ClientConfig());
    Bytes rec = raw.SealCall(1, "/beibu.test.Echo/Unary");
    rec.resize(rec.size() - 5);
    raw.Send(rec);
    grpc::Status s = raw.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
    EXPECT_NE(s.error_message().find("truncated"), std::string::npos) << s.error_message();
  }
}

TEST_F(TunnelTest, StreamEndingWithoutCloseRecordIsTruncation) {
  RawClient raw(address_, ClientConfig());
  grpc::Status s = raw.Finish();  // half-close without the close record
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_NE(s.error_message().find("truncated"), std::string::npos) << s.error_message();
}

}  // namespace
}  // namespace beibu::rpc
