// The gateway in the edge's services, over real gRPC on 127.0.0.1: the
// Exchange service's accept path with an EdgeGateway (breakers refuse,
// rate limits answer in-stream, nothing refused is stored), and the
// Gateway service (operators only).
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <string>
#include <thread>
#include <vector>

#include "../edge_exchange/exchange_test_util.h"
#include "beibu/v1/gateway.grpc.pb.h"
#include "gateway/edge_gateway.h"
#include "gateway/gateway_service.h"
#include "gateway_test_util.h"

namespace beibu::edge::testing {
namespace {

using beibu::testing::TempDir;

// An edge of VN with its store, baseline policy, audit log, gateway, and the
// Exchange and Gateway services on 127.0.0.1.
class GatewayEdge {
 public:
  GatewayEdge(const TempDir& dir, GatewayConfig config) {
    self_.id = "edge-vn";
    self_.role = pki::Role::kEdge;
    self_.country = "VN";
    audit_ = OpenAudit(dir);
    store_ = ExchangeStore::Open((dir / "exchange").string(), audit_.get()).value();
    policy_ = PolicyHolder::CreateWithBaseline().value();
    EdgeGatewayOptions go;
    go.config = std::move(config);
    go.dir = (dir / "gateway").string();
    go.country = "VN";
    go.audit = audit_.get();
    gateway_ = EdgeGateway::Open(std::move(go)).value();
    ExchangeServiceOptions options;
    options.secret_path = (dir / "exchange-secret").string();
    options.gateway = gateway_.get();
    exchange_ =
        std::make_unique<ExchangeService>(options, self_, store_.get(), &keys_, policy_.get());
    gateway_service_ = std::make_unique<GatewayService>(gateway_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(exchange_.get());
    builder.RegisterService(gateway_service_.get());
    server_ = builder.BuildAndStart();
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    exchange_stub_ = v1::Exchange::NewStub(channel_);
    gateway_stub_ = v1::Gateway::NewStub(channel_);
  }
  ~GatewayEdge() {
    exchange_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  v1::Exchange::Stub& exchange() { return *exchange_stub_; }
  v1::Gateway::Stub& gateway_api() { return *gateway_stub_; }
  EdgeGateway& gateway() { return *gateway_; }
  FakeKeys& keys() { return keys_; }
  ExchangeStore& store() { return *store_; }
  audit::AuditLog& audit() {
    EXPECT_TRUE(store_->FlushAudit().ok());
    return *audit_;
  }

 private:
  pki::Identity self_;
  FakeKeys keys_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<ExchangeStore> store_;
  std::unique_ptr<PolicyHolder> policy_;
  std::unique_ptr<EdgeGateway> gateway_;
  std::unique_ptr<ExchangeService> exchange_;
  std::unique_ptr<GatewayService> gateway_service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> exchange_stub_;
  std::unique_ptr<v1::Gateway::Stub> gateway_stub_;
};

GatewayConfig Quiet() {
  GatewayConfig c;
  c.detectors.warmup_intervals = 1000000;  // no spikes: only what a test aims at
  return c;
}

void WithDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

v1::SendRequest Request(const std::string& id, const std::string& to_enterprise = "recipient-co") {
  v1::SendRequest req;
  v1::TransferHeader* h = req.mutable_header();
  h->set_transfer_id(id);
  h->set_to_country("CN");
  h->set_to_enterprise(to_enterprise);
  h->set_category("logistics.track");
  req.set_payload("container,port,eta\nMSCU1234565,Haiphong,2026-12-01\n");
  return req;
}

grpc::Status Send(GatewayEdge& edge, const v1::SendRequest& req, const std::string& who,
                  v1::TransferStatus* st) {
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, who, "VN");
  return edge.exchange().Send(&ctx, req, st);
}

TEST(GatewayExchangeTest, ATrippedEnterpriseIsRefusedAndNothingIsStored) {
  TempDir dir;
  GatewayEdge edge(dir, Quiet());
  ASSERT_TRUE(edge.gateway()
                  .board()
                  .Trip(gateway::Scope::Enterprise("vn-suspect"), "incident 4711", "operator:op-1")
                  .ok());
  v1::TransferStatus st;
  grpc::Status s = Send(edge, Request("gw-refused-000001"), "vn-suspect", &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("enterprise:vn-suspect"), std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("incident 4711"), std::string::npos);
  EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer("gw-refused-000001").status()));
  EXPECT_EQ(edge.store().outbox().items, 0u);
  // Nothing of it was audited as accepted.
  EXPECT_TRUE(EventsOf(edge.audit(), "transfer.accept").empty());

  // Another enterprise's send goes through as before.
  ASSERT_TRUE(Send(edge, Request("gw-accepted-000001"), "vn-honest", &st).ok());
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
  EXPECT_TRUE(edge.store().GetTransfer("gw-accepted-000001").ok());
  EXPECT_EQ(EventsOf(edge.audit(), "transfer.accept").size(), 1u);

  // A stream of the tripped enterprise is refused when its header arrives.
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "vn-suspect", "VN");
  v1::TransferStatus stream_st;
  auto writer = edge.exchange().SendStream(&ctx, &stream_st);
  v1::SendChunk chunk;
  *chunk.mutable_header() = Request("gw-stream-0000001").header();
  chunk.set_data("a,b\n1,2\n");
  chunk.set_last(true);
  writer->Write(chunk);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer("gw-stream-0000001").status()));
}

TEST(GatewayExchangeTest, RateLimitedSendBatchesAnswersInStream) {
  TempDir dir;
  GatewayConfig c = Quiet();
  c.rates.classes["default"] = {.requests_per_second = 0.01, .burst_requests = 3};
  GatewayEdge edge(dir, c);
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "vn-busy", "VN");
  auto stream = edge.exchange().SendBatches(&ctx);
  v1::SendBatch batch;
  for (int i = 1; i <= 5; ++i) *batch.add_requests() = Request(absl::StrCat("gw-batch-0000000", i));
  ASSERT_TRUE(stream->Write(batch));
  stream->WritesDone();
  std::vector<v1::TransferStatus> answers;
  v1::TransferStatusBatch msg;
  while (stream->Read(&msg))
    answers.insert(answers.end(), msg.statuses().begin(), msg.statuses().end());
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(answers.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(answers[i].state(), v1::IN_FLIGHT) << answers[i].ShortDebugString();
    EXPECT_TRUE(edge.store().GetTransfer(answers[i].transfer_id()).ok());
  }
  for (int i = 3; i < 5; ++i) {
    EXPECT_EQ(answers[i].transfer_id(), absl::StrCat("gw-batch-0000000", i + 1));
    EXPECT_EQ(answers[i].detail().rfind("RESOURCE_EXHAUSTED: ", 0), 0u)
        << answers[i].ShortDebugString();
    EXPECT_NE(answers[i].detail().find("retry in"), std::string::npos) << answers[i].detail();
    EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer(answers[i].transfer_id()).status()));
  }
  // The limit is the sender's: another enterprise still sends.
  v1::TransferStatus st;
  EXPECT_TRUE(Send(edge, Request("gw-other-0000001"), "vn-quiet", &st).ok());
}

// Sends to many distinct recipients raise the scraping alarm: the sender's
// breaker trips during the burst and its next send is refused.
TEST(GatewayExchangeTest, ABurstOfRecipientsTripsTheSenderThroughTheAcceptPath) {
  TempDir dir;
  GatewayConfig c = Quiet();
  c.detectors.distinct_recipients = 4;
  GatewayEdge edge(dir, c);
  v1::TransferStatus st;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(Send(edge, Request(absl::StrCat("gw-scrape-00000", i), absl::StrCat("r-", i)),
                     "vn-scraper", &st)
                    .ok());
  }
  EXPECT_EQ(Send(edge, Request("gw-scrape-000009"), "vn-scraper", &st).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(EventsOf(edge.audit(), "gateway.alarm").size(), 1u);
  EXPECT_TRUE(Send(edge, Request("gw-other-0000002"), "vn-honest", &st).ok());
}

// A half-open breaker's probe whose request fails after it was admitted
// (here: the destination's keys are unknown) was never decided: it gives its
// slot back and passes nothing (regression: it used to count as passed and
// close the breaker). The next decided send is the probe that closes it.
TEST(GatewayExchangeTest, AProbeThatFailsBeforeItsDecisionGivesItsSlotBack) {
  TempDir dir;
  GatewayConfig c = Quiet();
  c.breaker.cool_down = std::chrono::hours(1);  // never quiet-closes during the test
  c.breaker.probe_budget = 1;
  GatewayEdge edge(dir, c);
  // Tripped a cool-down ago: half-open from now on.
  edge.gateway().board().TripByAlarm(
      gateway::Alarm{"scraping", gateway::Scope::Enterprise("vn-prober"), "many recipients"},
      gateway::BreakerBoard::Clock::now() - c.breaker.cool_down);
  v1::TransferStatus st;
  edge.keys().unavailable = true;
  for (int i = 0; i < 3; ++i) {
    grpc::Status s =
        Send(edge, Request(absl::StrCat("gw-probe-000000", i), "r-1"), "vn-prober", &st);
    EXPECT_FALSE(s.ok()) << i;
    EXPECT_NE(s.error_message().find("keys"), std::string::npos) << s.error_message();
  }
  std::vector<v1::Breaker> open = edge.gateway().Breakers();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state(), v1::BREAKER_HALF_OPEN);
  EXPECT_EQ(open[0].probes_passed(), 0u);
  EXPECT_EQ(open[0].probes_left(), 1u);
  edge.keys().unavailable = false;
  EXPECT_TRUE(Send(edge, Request("gw-probe-0000009", "r-1"), "vn-prober", &st).ok());
  EXPECT_TRUE(edge.gateway().Breakers().empty());
}

// A stream over the byte limit is slowed down, not refused; its last chunk's
// bytes are owed by the sender's next request.
TEST(GatewayExchangeTest, AStreamOverTheByteLimitIsPacedNotRefused) {
  TempDir dir;
  GatewayConfig c = Quiet();
  c.rates.classes["default"] = {.bytes_per_second = 100000, .burst_bytes = 1000};
  GatewayEdge edge(dir, c);
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "vn-streamer", "VN");
  v1::TransferStatus st;
  auto writer = edge.exchange().SendStream(&ctx, &st);
  const std::vector<std::string> parts = {std::string(10000, 'a'), std::string(10000, 'b'),
                                          std::string(size_t{1} << 20, 'c')};
  uint64_t offset = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    v1::SendChunk chunk;
    if (i == 0) *chunk.mutable_header() = Request("gw-stream-0000002").header();
    chunk.set_offset(offset);
    chunk.set_data(parts[i]);
    chunk.set_last(i + 1 == parts.size());
    offset += parts[i].size();
    ASSERT_TRUE(writer->Write(chunk));
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
  EXPECT_EQ(st.size(), offset);
  // About 10 s of debt at 100 kB/s: the next bytes of this sender wait.
  EXPECT_GT(edge.gateway().PaceStream("vn-streamer", 1), std::chrono::seconds(1));
  EXPECT_EQ(edge.gateway().PaceStream("vn-other", 1), std::chrono::steady_clock::duration::zero());
}

grpc::Status Trip(GatewayEdge& edge, const std::string& who, const std::string& role,
                  const std::string& scope, const std::string& reason, v1::Breaker* out) {
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, who, "CN", role);
  v1::TripBreakerRequest req;
  req.set_scope(scope);
  req.set_reason(reason);
  return edge.gateway_api().TripBreaker(&ctx, req, out);
}

TEST(GatewayServiceTest, AnOperatorTripsListsAndResets) {
  TempDir dir;
  GatewayEdge edge(dir, Quiet());
  v1::Breaker b;
  ASSERT_TRUE(Trip(edge, "op-1", "operator", "route:VN>CN", "incident 4711", &b).ok());
  EXPECT_EQ(b.scope(), "route:VN>CN");
  EXPECT_EQ(b.state(), v1::BREAKER_OPEN);
  EXPECT_EQ(b.tripped_by(), "operator:op-1");
  v1::TransferStatus st;
  EXPECT_EQ(Send(edge, Request("gw-route-0000001"), "vn-shipper", &st).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "op-1", "CN", "operator");
    v1::ListBreakersResponse list;
    ASSERT_TRUE(edge.gateway_api().ListBreakers(&ctx, {}, &list).ok());
    ASSERT_EQ(list.breakers_size(), 1);
    EXPECT_EQ(list.breakers(0).scope(), "route:VN>CN");
    EXPECT_EQ(list.breakers(0).reason(), "incident 4711");
  }
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "op-1", "CN", "operator");
    v1::ResetBreakerRequest req;
    req.set_scope("route:VN>CN");
    req.set_reason("cleared");
    v1::Breaker closed;
    ASSERT_TRUE(edge.gateway_api().ResetBreaker(&ctx, req, &closed).ok());
    EXPECT_EQ(closed.state(), v1::BREAKER_CLOSED);
  }
  EXPECT_TRUE(Send(edge, Request("gw-route-0000002"), "vn-shipper", &st).ok());
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "op-1", "CN", "operator");
    v1::ResetBreakerRequest req;
    req.set_scope("route:VN>CN");
    req.set_reason("again");
    v1::Breaker closed;
    EXPECT_EQ(edge.gateway_api().ResetBreaker(&ctx, req, &closed).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // Both the trip and the reset are audited, naming the operator.
  std::vector<v1::AuditEvent> tripped = EventsOf(edge.audit(), "gateway.breaker_tripped");
  ASSERT_EQ(tripped.size(), 1u);
  EXPECT_EQ(tripped[0].who().id(), "op-1");
  std::vector<v1::AuditEvent> closed = EventsOf(edge.audit(), "gateway.breaker_closed");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_NE(closed[0].detail().find("operator:op-1"), std::string::npos) << closed[0].detail();
}

TEST(GatewayServiceTest, BadScopesAndMissingReasonsAreInvalidArguments) {
  TempDir dir;
  GatewayEdge edge(dir, Quiet());
  v1::Breaker b;
  grpc::Status s = Trip(edge, "op-1", "operator", "route:vn-cn", "x", &b);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("global"), std::string::npos) << s.error_message();
  s = Trip(edge, "op-1", "operator", "global", "", &b);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(edge.gateway().Breakers().empty());
}

TEST(GatewayServiceTest, OnlyOperatorsMayUseIt) {
  TempDir dir;
  GatewayEdge edge(dir, Quiet());
  v1::Breaker b;
  EXPECT_EQ(Trip(edge, "vn-shipper", "enterprise", "global", "mine", &b).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, "vn-shipper", "VN", "enterprise");
  v1::ListBreakersResponse list;
  EXPECT_EQ(edge.gateway_api().ListBreakers(&ctx, {}, &list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(edge.gateway().Breakers().empty());
}

}  // namespace
}  // namespace beibu::edge::testing
