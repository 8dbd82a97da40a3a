// The hub-wide breakers end to end inside one process: a real HubState (PKI
// files, registry and audit on RocksDB), the hub's Registry and Gateway
// services behind a real ServerHost, and edges and operators connecting over
// the secure channel on 127.0.0.1 as the daemons do.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "beibu/config/files.h"
#include "beibu/daemon/server_host.h"
#include "beibu/pki/authority.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/registry.grpc.pb.h"
#include "edge_breaker_reports.h"
#include "gateway_service.h"
#include "hub_breakers.h"
#include "hub_state.h"
#include "log_capture.h"
#include "registry_service.h"
#include "temp_dir.h"

namespace beibu::hub {
namespace {

using Deadline = std::chrono::steady_clock::time_point;
Deadline In(std::chrono::seconds s) { return std::chrono::steady_clock::now() + s; }

crypto::Sm2PrivateKey NewKey() { return crypto::Sm2PrivateKey::Generate().value(); }

// An edge's heartbeat stream: a thread reads every HubPush into a queue the
// test waits on (with a deadline that only guards against a hang).
class EdgeStream {
 public:
  // `send_status`: as an edge does, a status at once (the hub waits for it
  // before its bundle and policy pushes).
  explicit EdgeStream(std::unique_ptr<rpc::TunnelClient> client, bool send_status = true)
      : client_(std::move(client)) {
    call_ = client_->StartCall("/beibu.v1.Registry/Heartbeat");
    if (send_status) {
      v1::EdgeStatus hello;
      hello.set_state("serving");
      EXPECT_TRUE(call_->Write(hello).ok());
    }
    reader_ = std::thread([this] {
      v1::HubPush push;
      while (call_->Read(&push)) {
        std::lock_guard<std::mutex> lock(mu_);
        pushes_.push_back(push);
        cv_.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~EdgeStream() {
    call_->Cancel();
    reader_.join();
  }
  absl::Status Send(const v1::EdgeStatus& status) { return call_->Write(status); }

  // The next breaker push (breakers_set), skipping bundle and policy pushes;
  // nullopt if none came before the deadline or the stream ended.
  std::optional<v1::HubPush> NextBreakerPush(Deadline deadline = In(std::chrono::seconds(20))) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      while (!pushes_.empty()) {
        v1::HubPush p = std::move(pushes_.front());
        pushes_.pop_front();
        if (p.breakers_set()) return p;
      }
      if (ended_) return std::nullopt;
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && pushes_.empty()) {
        return std::nullopt;
      }
    }
  }

 private:
  std::unique_ptr<rpc::TunnelClient> client_;
  std::unique_ptr<rpc::TunnelCall> call_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::HubPush> pushes_;
  bool ended_ = false;
  std::thread reader_;
};

class HubGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.emplace(pki::CertificateAuthority::CreateRoot(ca_key_, "Test Root", "CN").value());
    const std::string pki_dir = (dir_ / "pki").string();
    std::filesystem::create_directories(pki_dir);
    crypto::Sm2PrivateKey hub_key = NewKey();
    pki::Certificate hub_cert =
        ca_->Issue(hub_key.PublicKey(), {.id = "hub-gx", .role = pki::Role::kHub, .country = "CN"})
            .value();
    Write(pki_dir + "/ca.key", ca_key_.ToPem());
    Write(pki_dir + "/ca.crt", ca_->certificate().ToPem());
    Write(pki_dir + "/hub.key", hub_key.ToPem());
    Write(pki_dir + "/hub.crt", hub_cert.ToPem());
    HubConfig config;
    config.data_dir = (dir_ / "data").string();
    config.pki_dir = pki_dir;
    auto state = HubState::Open(config);
    ASSERT_TRUE(state.ok()) << state.status();
    state_ = *std::move(state);
    StartHub();
  }
  void TearDown() override { StopHub(); }

  static void Write(const std::string& path, const std::string& content) {
    ASSERT_TRUE(config::WriteFileAtomic(path, content, 0600, /*overwrite=*/true).ok()) << path;
  }

  // The hub's services as beibu-hub wires them (hub/main.cc); the breaker
  // store is reopened from disk on every start.
  void StartHub() {
    auto breakers = HubBreakers::Open({.dir = (dir_ / "data" / "gateway").string(),
                                       .hub_id = state_->self().id,
                                       .audit = &state_->audit()});
    ASSERT_TRUE(breakers.ok()) << breakers.status();
    breakers_ = *std::move(breakers);
    reports_ = std::make_unique<EdgeBreakerReports>(&state_->audit());
    gateway_ = std::make_unique<GatewayService>(breakers_.get(), reports_.get());
    registry_ =
        std::make_unique<RegistryService>(state_.get(), nullptr, breakers_.get(), reports_.get());
    HubState* hub = state_.get();
    auto host = daemon::ServerHost::Start({
        .listen_address = "127.0.0.1:0",
        .handshake =
            [hub] {
              channel::HandshakeConfig c;
              c.credentials = hub->credentials();
              c.trust = hub->bundle();
              c.allowed_peer_roles = {pki::Role::kEdge, pki::Role::kOperator,
                                      pki::Role::kRegulator};
              c.allow_anonymous_peer = true;
              return c;
            },
        .services = {registry_.get(), gateway_.get()},
    });
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
    address_ = "127.0.0.1:" + std::to_string(host_->port());
  }
  void StopHub() {
    if (host_) host_->Shutdown(std::chrono::milliseconds(200));
    host_.reset();
    registry_.reset();
    gateway_.reset();
    reports_.reset();
    breakers_.reset();
  }

  std::unique_ptr<rpc::TunnelClient> Connect(const std::string& id, pki::Role role,
                                             const std::string& country = "VN") {
    crypto::Sm2PrivateKey key = NewKey();
    pki::Certificate cert =
        ca_->Issue(key.PublicKey(), {.id = id, .role = role, .country = country}).value();
    channel::HandshakeConfig c;
    c.credentials = channel::Credentials{key, {cert, ca_->certificate()}};
    c.trust = state_->bundle();
    c.allowed_peer_roles = {pki::Role::kHub};
    auto client = rpc::TunnelClient::Connect({.address = address_, .handshake = std::move(c)});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<rpc::TunnelClient> Operator() {
    return Connect("ops", pki::Role::kOperator, "CN");
  }

  absl::StatusOr<v1::Breaker> Trip(rpc::TunnelClient& c, const std::string& scope,
                                   const std::string& reason) {
    v1::TripBreakerRequest req;
    req.set_scope(scope);
    req.set_reason(reason);
    v1::Breaker b;
    if (absl::Status s = c.Call("/beibu.v1.Gateway/TripBreaker", req, &b); !s.ok()) return s;
    return b;
  }
  absl::StatusOr<v1::Breaker> Reset(rpc::TunnelClient& c, const std::string& scope) {
    v1::ResetBreakerRequest req;
    req.set_scope(scope);
    req.set_reason("cleared");
    v1::Breaker b;
    if (absl::Status s = c.Call("/beibu.v1.Gateway/ResetBreaker", req, &b); !s.ok()) return s;
    return b;
  }
  absl::StatusOr<v1::ListBreakersResponse> List(rpc::TunnelClient& c) {
    v1::ListBreakersResponse resp;
    if (absl::Status s = c.Call("/beibu.v1.Gateway/ListBreakers", v1::ListBreakersRequest(), &resp);
        !s.ok()) {
      return s;
    }
    return resp;
  }

  // The hub audit log's events with `operation`, oldest first.
  std::vector<v1::AuditEvent> Audited(const std::string& operation) {
    std::vector<v1::AuditEvent> out;
    audit::LogStore& store = state_->audit().store();
    for (uint64_t i = 0; i < store.size(); ++i) {
      absl::StatusOr<Bytes> entry = store.Entry(i);
      if (!entry.ok()) continue;
      absl::StatusOr<v1::AuditEvent> e = audit::DecodeAuditEvent(*entry);
      if (e.ok() && e->operation() == operation) out.push_back(*std::move(e));
    }
    return out;
  }

  beibu::testing::TempDir dir_;
  crypto::Sm2PrivateKey ca_key_ = NewKey();
  std::optional<pki::CertificateAuthority> ca_;
  std::unique_ptr<HubState> state_;
  std::unique_ptr<HubBreakers> breakers_;
  std::unique_ptr<EdgeBreakerReports> reports_;
  std::unique_ptr<GatewayService> gateway_;
  std::unique_ptr<RegistryService> registry_;
  std::unique_ptr<daemon::ServerHost> host_;
  std::string address_;
};

std::vector<std::string> Scopes(const google::protobuf::RepeatedPtrField<v1::Breaker>& bs) {
  std::vector<std::string> out;
  for (const v1::Breaker& b : bs) out.push_back(b.scope());
  return out;
}

TEST_F(HubGatewayTest, TripAndResetReachAConnectedEdge) {
  auto edge_client = Connect("edge-vn", pki::Role::kEdge);
  ASSERT_NE(edge_client, nullptr);
  EdgeStream edge(std::move(edge_client));
  // On connect: the (empty) set, meant as a set.
  std::optional<v1::HubPush> first = edge.NextBreakerPush();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->breakers_size(), 0);

  auto op = Operator();
  ASSERT_NE(op, nullptr);
  auto tripped = Trip(*op, "route:VN>CN", "incident 4711");
  ASSERT_TRUE(tripped.ok()) << tripped.status();
  EXPECT_EQ(tripped->tripped_by(), "hub:hub-gx");
  EXPECT_TRUE(tripped->from_hub());

  std::optional<v1::HubPush> push = edge.NextBreakerPush();
  ASSERT_TRUE(push.has_value());
  ASSERT_EQ(Scopes(push->breakers()), std::vector<std::string>{"route:VN>CN"});
  const v1::Breaker& b = push->breakers(0);
  EXPECT_EQ(b.state(), v1::BREAKER_OPEN);
  EXPECT_EQ(b.reason(), "incident 4711");
  EXPECT_EQ(b.tripped_by(), "hub:hub-gx");
  EXPECT_TRUE(b.from_hub());

  auto reset = Reset(*op, "route:VN>CN");
  ASSERT_TRUE(reset.ok()) << reset.status();
  push = edge.NextBreakerPush();
  ASSERT_TRUE(push.has_value());
  EXPECT_TRUE(push->breakers_set());
  EXPECT_EQ(push->breakers_size(), 0);

  auto listed = List(*op);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->breakers_size(), 0);

  // Both are in the hub's audit log, naming the operator, the scope and why.
  std::vector<v1::AuditEvent> trips = Audited("hub.breaker_tripped");
  ASSERT_EQ(trips.size(), 1u);
  EXPECT_EQ(trips[0].who().id(), "ops");
  EXPECT_NE(trips[0].detail().find("route:VN>CN"), std::string::npos) << trips[0].detail();
  EXPECT_NE(trips[0].detail().find("incident 4711"), std::string::npos) << trips[0].detail();
  EXPECT_EQ(Audited("hub.breaker_reset").size(), 1u);
}

TEST_F(HubGatewayTest, NewlyConnectingEdgeGetsTheCurrentSet) {
  auto op = Operator();
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(Trip(*op, "global", "drill").ok());
  ASSERT_TRUE(Trip(*op, "enterprise:vn-shipper", "ticket 88").ok());
  auto edge_client = Connect("edge-th", pki::Role::kEdge, "TH");
  ASSERT_NE(edge_client, nullptr);
  EdgeStream edge(std::move(edge_client));
  std::optional<v1::HubPush> push = edge.NextBreakerPush();
  ASSERT_TRUE(push.has_value());
  std::vector<std::string> scopes = Scopes(push->breakers());
  std::sort(scopes.begin(), scopes.end());
  EXPECT_EQ(scopes, (std::vector<std::string>{"enterprise:vn-shipper", "global"}));
}

// The set does not wait for the edge's first status (the bundle push does).
TEST_F(HubGatewayTest, SetIsPushedBeforeTheEdgesFirstStatus) {
  auto op = Operator();
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(Trip(*op, "route:VN>TH", "drill").ok());
  auto edge_client = Connect("edge-quiet", pki::Role::kEdge);
  ASSERT_NE(edge_client, nullptr);
  EdgeStream edge(std::move(edge_client), /*send_status=*/false);
  std::optional<v1::HubPush> push = edge.NextBreakerPush();
  ASSERT_TRUE(push.has_value());
  EXPECT_EQ(Scopes(push->breakers()), std::vector<std::string>{"route:VN>TH"});
}

TEST_F(HubGatewayTest, HubSetSurvivesARestart) {
  {
    auto op = Operator();
    ASSERT_NE(op, nullptr);
    ASSERT_TRUE(Trip(*op, "route:TH>CN", "held over restart").ok());
  }
  StopHub();
  StartHub();
  auto op = Operator();
  ASSERT_NE(op, nullptr);
  auto listed = List(*op);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(Scopes(listed->breakers()), std::vector<std::string>{"route:TH>CN"});
  EXPECT_EQ(listed->breakers(0).reason(), "held over restart");
  EXPECT_EQ(listed->breakers(0).state(), v1::BREAKER_OPEN);

  auto edge_client = Connect("edge-vn", pki::Role::kEdge);
  ASSERT_NE(edge_client, nullptr);
  EdgeStream edge(std::move(edge_client));
  std::optional<v1::HubPush> push = edge.NextBreakerPush();
  ASSERT_TRUE(push.has_value());
  EXPECT_EQ(Scopes(push->breakers()), std::vector<std::string>{"route:TH>CN"});

  ASSERT_TRUE(Reset(*op, "route:TH>CN").ok());
  StopHub();
  StartHub();
  op = Operator();
  ASSERT_NE(op, nullptr);
  listed = List(*op);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->breakers_size(), 0);  // the reset survives too
}

TEST_F(HubGatewayTest, EdgeReportsShowInListBreakers) {
  auto edge_client = Connect("edge-vn", pki::Role::kEdge);
  ASSERT_NE(edge_client, nullptr);
  EdgeStream edge(std::move(edge_client));
  v1::EdgeStatus status;
  status.set_state("serving");
  status.set_breakers_reported(true);
  v1::Breaker* b = status.add_breakers();
  b->set_scope("enterprise:vn-shipper");
  b->set_state(v1::BREAKER_OPEN);
  b->set_tripped_by("detector:rate_spike");
  b->set_reason("412 requests against a baseline of 20.3");
  ASSERT_TRUE(edge.Send(status).ok());

  auto op = Operator();
  ASSERT_NE(op, nullptr);
  // The report is recorded by the hub's reader thread: poll until it shows.
  std::optional<v1::EdgeBreakers> seen;
  for (Deadline d = In(std::chrono::seconds(20)); !seen && std::chrono::steady_clock::now() < d;) {
    auto listed = List(*op);
    ASSERT_TRUE(listed.ok()) << listed.status();
    for (const v1::EdgeBreakers& e : listed->edges()) {
      if (e.node_id() == "edge-vn" && e.breakers_size() == 1) seen = e;
    }
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->country(), "VN");
  EXPECT_TRUE(seen->has_reported_at());
  EXPECT_EQ(seen->breakers(0).scope(), "enterprise:vn-shipper");
  EXPECT_EQ(seen->breakers(0).tripped_by(), "detector:rate_spike");
  // Audited just after the report is recorded (outside the reports' lock).
  std::vector<v1::AuditEvent> audited;
  for (Deadline d = In(std::chrono::seconds(20));
       audited.empty() && std::chrono::steady_clock::now() < d;) {
    audited = Audited("hub.edge_breaker");
    if (audited.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].who().id(), "edge-vn");
  EXPECT_NE(audited[0].detail().find("enterprise:vn-shipper"), std::string::npos);

  // It closed at the edge: the next report says so.
  status.clear_breakers();
  ASSERT_TRUE(edge.Send(status).ok());
  bool cleared = false;
  for (Deadline d = In(std::chrono::seconds(20));
       !cleared && std::chrono::steady_clock::now() < d;) {
    auto listed = List(*op);
    ASSERT_TRUE(listed.ok()) << listed.status();
    for (const v1::EdgeBreakers& e : listed->edges()) {
      if (e.node_id() == "edge-vn" && e.breakers_size() == 0) cleared = true;
    }
    if (!cleared) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(cleared);
}

TEST_F(HubGatewayTest, StatusWithoutBreakersReportedIsIgnored) {
  EdgeBreakerReports reports;
  v1::EdgeStatus old_edge;
  old_edge.add_breakers()->set_scope("global");  // not meant: breakers_reported unset
  reports.Record({.id = "edge-old", .role = pki::Role::kEdge, .country = "TH"}, old_edge);
  EXPECT_TRUE(reports.All().empty());
}

// The hub's log lines. Attached before main (before any thread logs).
beibu::testing::LogCapture& Logs() { return beibu::testing::CapturedLogs(); }
const bool kLogsAttached = (Logs(), true);

// Regression: the edge_breaker_closed line logged what the edge sent as it
// was, so an edge could forge log events with a newline in a scope.
TEST(EdgeBreakerReportsTest, WhatTheEdgeSentIsEscapedInEveryLogLine) {
  ASSERT_TRUE(kLogsAttached);
  EdgeBreakerReports reports;
  const pki::Identity edge{.id = "edge-evil", .role = pki::Role::kEdge, .country = "VN"};
  v1::EdgeStatus status;
  status.set_breakers_reported(true);
  v1::Breaker* b = status.add_breakers();
  b->set_scope("enterprise:x\nevent=forged_scope");
  b->set_state(v1::BREAKER_OPEN);
  b->set_tripped_by("detector:y\nevent=forged_by");
  b->set_reason("r\nevent=forged_reason");
  reports.Record(edge, status);  // opened
  status.clear_breakers();
  reports.Record(edge, status);  // closed
  bool opened = false;
  bool closed = false;
  for (const std::string& line : Logs().Lines()) {
    if (line.find("node=edge-evil") == std::string::npos) continue;
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    opened |= line.find("event=edge_breaker_tripped") != std::string::npos;
    if (line.find("event=edge_breaker_closed") != std::string::npos) {
      closed = true;
      EXPECT_NE(line.find("x\\nevent=forged_scope"), std::string::npos) << line;
      EXPECT_NE(line.find("y\\nevent=forged_by"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(opened);
  EXPECT_TRUE(closed);
}

// Regression: the heartbeat handler joined its breaker pusher before
// cancelling the call, so with the pusher stuck in Write to an edge that
// stopped reading (flow control full), a stream the edge half-closed never
// ended. Plain gRPC here (the tunnel client reads everything into memory, so
// it never stops reading); the identity comes as the tunnel would set it.
TEST_F(HubGatewayTest, HeartbeatOfAnEdgeThatStopsReadingStillEnds) {
  ASSERT_TRUE(kLogsAttached);
  RegistryService registry(state_.get(), nullptr, breakers_.get(), nullptr);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&registry);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Registry::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata(rpc::kPeerIdKey, "edge-stuck");
  ctx.AddMetadata(rpc::kPeerRoleKey, "edge");
  ctx.AddMetadata(rpc::kPeerCountryKey, "VN");
  ctx.AddMetadata(rpc::kPeerSerialKey, "01");
  auto stream = stub->Heartbeat(&ctx);
  v1::EdgeStatus hello;
  hello.set_state("serving");
  ASSERT_TRUE(stream->Write(hello));
  // Never read: each trip pushes the whole set again until the pusher blocks.
  const pki::Identity op{.id = "ops", .role = pki::Role::kOperator, .country = "CN"};
  const std::string reason(4000, 'r');
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(breakers_->Trip(absl::StrCat("enterprise:e-", i), reason, op).ok());
  }
  ASSERT_TRUE(stream->WritesDone());  // the hub's reader ends: the handler leaves
  bool ended = false;
  for (Deadline d = In(std::chrono::seconds(30)); !ended && std::chrono::steady_clock::now() < d;) {
    for (const std::string& line : Logs().Lines()) {
      ended |= line.find("event=edge_disconnected node=edge-stuck") != std::string::npos;
    }
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ended);
  ctx.TryCancel();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

TEST_F(HubGatewayTest, OnlyOperatorsMayUseTheGateway) {
  for (pki::Role role : {pki::Role::kEdge, pki::Role::kRegulator}) {
    auto c = Connect("not-an-operator", role);
    ASSERT_NE(c, nullptr);
    auto listed = List(*c);
    EXPECT_TRUE(absl::IsPermissionDenied(listed.status())) << listed.status();
    auto tripped = Trip(*c, "global", "nope");
    EXPECT_TRUE(absl::IsPermissionDenied(tripped.status())) << tripped.status();
    auto reset = Reset(*c, "global");
    EXPECT_TRUE(absl::IsPermissionDenied(reset.status())) << reset.status();
  }
  auto op = Operator();
  ASSERT_NE(op, nullptr);
  auto listed = List(*op);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->breakers_size(), 0);  // nothing was tripped by them
}

TEST_F(HubGatewayTest, BadRequestsAreRefusedWithWhatToDo) {
  auto op = Operator();
  ASSERT_NE(op, nullptr);
  for (const char* scope : {"route:vn>cn", "bogus", "", "enterprise:"}) {
    auto tripped = Trip(*op, scope, "reason");
    ASSERT_TRUE(absl::IsInvalidArgument(tripped.status())) << scope << ": " << tripped.status();
    EXPECT_NE(tripped.status().message().find("route:"), std::string::npos)
        << tripped.status();  // the message lists the accepted forms
  }
  auto no_reason = Trip(*op, "global", "  ");
  ASSERT_TRUE(absl::IsInvalidArgument(no_reason.status())) << no_reason.status();
  EXPECT_NE(no_reason.status().message().find("reason"), std::string::npos);
  auto not_open = Reset(*op, "route:VN>CN");
  EXPECT_TRUE(absl::IsNotFound(not_open.status())) << not_open.status();
  auto listed = List(*op);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->breakers_size(), 0);
}

}  // namespace
}  // namespace beibu::hub
