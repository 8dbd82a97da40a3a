// RelayService over a real gRPC server on 127.0.0.1: the client sets the peer
// metadata that the hub's tunnel sets for an authenticated caller
// (beibu/rpc/peer.h). Nodes come from a fake directory holding real
// certificates; the audit log is real.
#include "relay_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "beibu/crypto/sm3.h"
#include "beibu/envelope/epoch_key.h"
#include "beibu/pki/authority.h"
#include "beibu/rpc/peer.h"
#include "temp_dir.h"

namespace beibu::hub {
namespace {

using Deadline = std::chrono::steady_clock::time_point;

Deadline In(std::chrono::seconds s) { return std::chrono::steady_clock::now() + s; }

class FakeDirectory : public RelayDirectory {
 public:
  void Add(RelayNode node, crypto::Sm2PublicKey key) {
    std::lock_guard<std::mutex> lock(mu_);
    keys_.erase(node.id);
    keys_.emplace(node.id, std::move(key));
    nodes_[node.id] = std::move(node);
  }
  void SetRevoked(const std::string& id, bool revoked) {
    std::lock_guard<std::mutex> lock(mu_);
    nodes_[id].revoked = revoked;
  }
  absl::StatusOr<RelayNode> FindNode(const std::string& id) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return absl::NotFoundError(absl::StrCat("no enrolled node '", id, "'"));
    return it->second;
  }
  absl::StatusOr<crypto::Sm2PublicKey> NodeKey(const std::string& id) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(id);
    if (it == keys_.end()) return absl::NotFoundError(absl::StrCat("no enrolled node '", id, "'"));
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, RelayNode> nodes_;
  std::map<std::string, crypto::Sm2PublicKey> keys_;
};

struct Caller {
  std::string id;
  std::string role = "edge";
  std::string country;
};

class RelayServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca_key = crypto::Sm2PrivateKey::Generate();
    ASSERT_TRUE(ca_key.ok());
    auto ca = pki::CertificateAuthority::CreateRoot(*std::move(ca_key), "test-ca", "CN");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
    AddNode("edge-vn", "VN");
    AddNode("edge-th", "TH");
    AddNode("edge-cn", "CN");
    AddNode("ops", "CN", pki::Role::kOperator);
    auto hub_key = crypto::Sm2PrivateKey::Generate();
    ASSERT_TRUE(hub_key.ok());
    auto log = audit::AuditLog::Open({.dir = (dir_ / "audit").string(),
                                      .node_id = "hub",
                                      .key = *std::move(hub_key),
                                      .node_country = "CN",
                                      .checkpoint_interval = std::chrono::milliseconds(0)});
    ASSERT_TRUE(log.ok()) << log.status();
    audit_ = *std::move(log);
    Start();
  }

  void TearDown() override { StopServer(); }

  void AddNode(const std::string& id, const std::string& country,
               pki::Role role = pki::Role::kEdge) {
    auto key = crypto::Sm2PrivateKey::Generate();
    ASSERT_TRUE(key.ok());
    auto cert =
        ca_->Issue(key->PublicKey(), pki::Identity{.id = id, .role = role, .country = country});
    ASSERT_TRUE(cert.ok()) << cert.status();
    directory_.Add(RelayNode{.id = id,
                             .role = std::string(pki::RoleName(role)),
                             .country = country,
                             .certificate_pem = cert->ToPem()},
                   key->PublicKey());
    keys_.erase(id);
    keys_.emplace(id, *std::move(key));
  }

  void Start(RelayLimits limits = {}) {
    auto svc = RelayService::Open({.dir = (dir_ / "relay").string(),
                                   .limits = limits,
                                   .directory = &directory_,
                                   .audit = audit_.get()});
    ASSERT_TRUE(svc.ok()) << svc.status();
    svc_ = *std::move(svc);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(svc_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    stub_ = v1::Relay::NewStub(channel);
  }

  void StopServer() {
    if (svc_) svc_->Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_.reset();
    svc_.reset();
  }

  void Restart(RelayLimits limits = {}) {
    StopServer();
    Start(limits);
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const Caller& c) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata(rpc::kPeerIdKey, c.id);
    ctx->AddMetadata(rpc::kPeerRoleKey, c.role);
    ctx->AddMetadata(rpc::kPeerCountryKey, c.country);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }

  static v1::Envelope Env(const std::string& from, const std::string& from_country,
                          const std::string& to, const std::string& to_country,
                          const std::string& transfer_id, uint64_t relay_sequence,
                          uint32_t chunks = 1, uint32_t first_chunk = 0, int n_chunks = 1) {
    v1::EnvelopeHeader h;
    h.set_version(1);
    h.set_suite("SM4_CTR_HMAC_SM3");
    h.set_transfer_id(transfer_id);
    h.set_from_edge(from);
    h.set_from_country(from_country);
    h.set_to_edge(to);
    h.set_to_country(to_country);
    h.set_category("logistics.track");
    h.set_decision("FAST");
    h.add_rules("R-1");
    h.set_chunks(chunks);
    v1::Envelope e;
    e.set_header(h.SerializeAsString());
    for (int i = 0; i < n_chunks; ++i) e.add_sealed_chunks(std::string(64, 'c'));
    e.set_first_chunk(first_chunk);
    e.set_relay_sequence(relay_sequence);
    return e;
  }
  static v1::Envelope VnToCn(const std::string& transfer_id, uint64_t relay_sequence) {
    return Env("edge-vn", "VN", "edge-cn", "CN", transfer_id, relay_sequence);
  }

  struct PushResult {
    std::vector<uint64_t> acks;
    std::vector<v1::UndeliverableItem> undeliverable;  // of every ack
    grpc::Status status;
  };
  PushResult Push(const Caller& c, const std::vector<std::vector<v1::Envelope>>& batches) {
    auto ctx = Ctx(c);
    auto stream = stub_->Push(ctx.get());
    PushResult r;
    for (const auto& b : batches) {
      v1::RelayBatch batch;
      for (const auto& e : b) *batch.add_envelopes() = e;
      if (!stream->Write(batch)) break;
      v1::RelayAck ack;
      if (!stream->Read(&ack)) break;
      r.acks.push_back(ack.through_sequence());
      for (const auto& u : ack.undeliverable()) r.undeliverable.push_back(u);
    }
    stream->WritesDone();
    r.status = stream->Finish();
    return r;
  }

  // Reads batches until `n` envelopes arrived; returns them with the last
  // batch's hub_sequence.
  static std::vector<v1::Envelope> ReadN(
      grpc::ClientReaderWriter<v1::RelayAck, v1::RelayBatch>* stream, size_t n, uint64_t* through) {
    std::vector<v1::Envelope> out;
    v1::RelayBatch batch;
    while (out.size() < n && stream->Read(&batch)) {
      for (const auto& e : batch.envelopes()) out.push_back(e);
      *through = batch.hub_sequence();
    }
    return out;
  }

  static std::vector<std::string> TransferIds(const std::vector<v1::Envelope>& envs) {
    std::vector<std::string> out;
    for (const auto& e : envs) {
      if (e.has_notice()) {
        out.push_back(e.notice().transfer_id());
        continue;
      }
      v1::EnvelopeHeader h;
      EXPECT_TRUE(h.ParseFromString(e.header()));
      out.push_back(h.transfer_id());
    }
    return out;
  }

  std::vector<v1::AuditEvent> AuditEvents(const std::string& operation) {
    EXPECT_TRUE(svc_->FlushAudit().ok());  // staged events reach the log just after
    std::vector<v1::AuditEvent> out;
    for (uint64_t i = 0; i < audit_->store().size(); ++i) {
      auto entry = audit_->store().Entry(i);
      if (!entry.ok()) continue;
      auto e = audit::DecodeAuditEvent(*entry);
      if (e.ok() && e->operation() == operation) out.push_back(*e);
    }
    return out;
  }

  bool WaitFor(const std::function<bool()>& cond,
               std::chrono::seconds timeout = std::chrono::seconds(10)) {
    Deadline end = In(timeout);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  const Caller vn_{"edge-vn", "edge", "VN"};
  const Caller th_{"edge-th", "edge", "TH"};
  const Caller cn_{"edge-cn", "edge", "CN"};
  const Caller ops_{"ops", "operator", "CN"};

  testing::TempDir dir_;
  std::optional<pki::CertificateAuthority> ca_;
  FakeDirectory directory_;
  std::map<std::string, crypto::Sm2PrivateKey> keys_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<RelayService> svc_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Relay::Stub> stub_;
};

TEST_F(RelayServiceTest, PushedEnvelopesAreAuditedQueuedAndPulledInOrder) {
  PushResult vn = Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2)}, {VnToCn("t3", 3)}});
  ASSERT_TRUE(vn.status.ok()) << vn.status.error_message();
  EXPECT_EQ(vn.acks, (std::vector<uint64_t>{2, 3}));
  PushResult th = Push(th_, {{Env("edge-th", "TH", "edge-cn", "CN", "u1", 1)}});
  ASSERT_TRUE(th.status.ok()) << th.status.error_message();
  PushResult vn2 = Push(vn_, {{VnToCn("t4", 4)}});
  ASSERT_TRUE(vn2.status.ok());

  auto relayed = AuditEvents("transfer.relayed");
  ASSERT_EQ(relayed.size(), 5u);
  EXPECT_EQ(relayed[0].transfer_id(), "t1");
  EXPECT_EQ(relayed[0].who().id(), "edge-vn");
  EXPECT_EQ(relayed[0].source_country(), "VN");
  EXPECT_EQ(relayed[0].destination_country(), "CN");
  EXPECT_EQ(relayed[0].category(), "logistics.track");
  EXPECT_EQ(relayed[0].decision(), "FAST");
  ASSERT_EQ(relayed[0].rule_ids_size(), 1);
  EXPECT_EQ(relayed[0].detail(), "queued for edge-cn");
  ASSERT_EQ(relayed[0].digests_size(), 1);
  EXPECT_EQ(relayed[0].digests(0).algorithm(), "sm3-envelope-header");
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(VnToCn("t1", 1).header()));
  EXPECT_EQ(relayed[0].digests(0).value(), std::string(d.begin(), d.end()));

  auto ctx = Ctx(cn_);
  auto pull = stub_->Pull(ctx.get());
  uint64_t through = 0;
  std::vector<v1::Envelope> got = ReadN(pull.get(), 5, &through);
  // Arrival order at the hub: each source's order is kept.
  EXPECT_EQ(TransferIds(got), (std::vector<std::string>{"t1", "t2", "t3", "u1", "t4"}));
  EXPECT_EQ(through, 5u);
  EXPECT_EQ(got[0].SerializeAsString(), VnToCn("t1", 1).SerializeAsString());  // untouched
  v1::RelayAck ack;
  ack.set_through_sequence(through);
  ASSERT_TRUE(pull->Write(ack));
  EXPECT_TRUE(WaitFor([&] { return svc_->queue().Depth("edge-cn").items == 0; }));
  pull->WritesDone();
  EXPECT_TRUE(pull->Finish().ok());
}

TEST_F(RelayServiceTest, AnEdgeCannotPoseAsAnother) {
  PushResult r = Push(vn_, {{Env("edge-th", "TH", "edge-cn", "CN", "t1", 1)}});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(r.acks.empty());
  r = Push(vn_, {{Env("edge-vn", "TH", "edge-cn", "CN", "t1", 1)}});  // wrong country
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::Envelope notice;
  notice.set_relay_sequence(1);
  notice.mutable_notice()->set_transfer_id("t0");
  notice.mutable_notice()->set_from_edge("edge-th");
  notice.mutable_notice()->set_to_edge("edge-cn");
  notice.mutable_notice()->set_kind(v1::NOTICE_DELIVERED);
  r = Push(vn_, {{notice}});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Only edges push at all.
  r = Push(ops_, {{VnToCn("t1", 1)}});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 0u);
  EXPECT_EQ(svc_->queue().Watermark("edge-vn"), 0u);
  auto refused = AuditEvents("relay.refused");
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[0].who().id(), "edge-vn");
  EXPECT_EQ(refused[0].transfer_id(), "t1");
  EXPECT_NE(refused[0].detail().find("cannot send as 'edge-th'"), std::string::npos);
  EXPECT_TRUE(AuditEvents("transfer.relayed").empty());
}

TEST_F(RelayServiceTest, UnknownOrRevokedDestinationIsAcknowledgedAsUndeliverableByName) {
  // An item whose destination cannot take it does not hold up the items
  // behind it: it is acknowledged as undeliverable, the rest is stored.
  v1::Envelope notice;
  notice.set_relay_sequence(3);
  notice.mutable_notice()->set_transfer_id("t0");
  notice.mutable_notice()->set_from_edge("edge-vn");
  notice.mutable_notice()->set_to_edge("edge-gone");
  notice.mutable_notice()->set_kind(v1::NOTICE_ACKNOWLEDGED);
  PushResult r = Push(vn_, {{Env("edge-vn", "VN", "edge-xx", "XX", "t1", 1), VnToCn("t2", 2),
                             notice, Env("edge-vn", "VN", "ops", "CN", "t4", 4)}});
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.acks, std::vector<uint64_t>{4});
  ASSERT_EQ(r.undeliverable.size(), 3u);
  EXPECT_EQ(r.undeliverable[0].relay_sequence(), 1u);
  EXPECT_EQ(r.undeliverable[0].transfer_id(), "t1");
  EXPECT_FALSE(r.undeliverable[0].notice());
  EXPECT_NE(r.undeliverable[0].reason().find("edge-xx"), std::string::npos);
  EXPECT_EQ(r.undeliverable[1].relay_sequence(), 3u);
  EXPECT_TRUE(r.undeliverable[1].notice());
  EXPECT_EQ(r.undeliverable[2].transfer_id(), "t4");  // "ops" is not an edge
  EXPECT_NE(r.undeliverable[2].reason().find("not edge"), std::string::npos);
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 1u);  // t2 went through
  EXPECT_EQ(AuditEvents("relay.refused").size(), 3u);
  // The edge drops t4 on this ack: the watermark it asks for next covers
  // it, or it would take the gap for items the hub lost.
  EXPECT_EQ(svc_->queue().Watermark("edge-vn"), 4u);
  r = Push(vn_, {{}});
  EXPECT_EQ(r.acks, std::vector<uint64_t>{4});
  // The ack was lost: the edge pushes the same items again and gets the same
  // answers, not a silent "already stored" that would leave them IN_FLIGHT.
  r = Push(vn_, {{Env("edge-vn", "VN", "edge-xx", "XX", "t1", 1), VnToCn("t2", 2), notice,
                  Env("edge-vn", "VN", "ops", "CN", "t4", 4)}});
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.acks, std::vector<uint64_t>{4});
  ASSERT_EQ(r.undeliverable.size(), 3u);
  EXPECT_EQ(r.undeliverable[0].relay_sequence(), 1u);
  EXPECT_EQ(r.undeliverable[1].relay_sequence(), 3u);
  EXPECT_EQ(r.undeliverable[2].transfer_id(), "t4");
  EXPECT_NE(r.undeliverable[2].reason().find("not edge"), std::string::npos);
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 1u);  // t2 stored once

  directory_.SetRevoked("edge-cn", true);
  r = Push(vn_, {{VnToCn("t5", 5)}});
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.undeliverable.size(), 1u);
  EXPECT_NE(r.undeliverable[0].reason().find("revoked"), std::string::npos);
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 1u);
  EXPECT_EQ(AuditEvents("relay.refused").size(), 4u);
  EXPECT_EQ(svc_->queue().Watermark("edge-vn"), 5u);  // a batch of nothing stored
  // A stream that starts at 5 shows the edge saw the answers below it.
  EXPECT_FALSE(svc_->queue().Undeliverable("edge-vn", 4).has_value());
  EXPECT_TRUE(svc_->queue().Undeliverable("edge-vn", 5).has_value());
}

TEST_F(RelayServiceTest, MalformedItemsFailTheCall) {
  // A good item before a bad one in the same batch is not stored either.
  v1::Envelope bad_range = Env("edge-vn", "VN", "edge-cn", "CN", "t2", 2, /*chunks=*/2,
                               /*first_chunk=*/1, /*n_chunks=*/2);
  PushResult r = Push(vn_, {{VnToCn("t1", 1), bad_range}});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 0u);
  v1::Envelope garbage;
  garbage.set_header("\xff\xff not a header");
  garbage.add_sealed_chunks("x");
  garbage.set_relay_sequence(1);
  EXPECT_EQ(Push(vn_, {{garbage}}).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // relay_sequence must increase strictly within a stream.
  r = Push(vn_, {{VnToCn("t1", 1)}, {VnToCn("t2", 1)}});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.acks, (std::vector<uint64_t>{1}));
  EXPECT_EQ(Push(vn_, {{VnToCn("t0", 0)}}).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Slices of a large transfer: one transfer.relayed for the first only.
  r = Push(vn_, {{Env("edge-vn", "VN", "edge-cn", "CN", "big", 2, 4, 0, 2),
                  Env("edge-vn", "VN", "edge-cn", "CN", "big", 3, 4, 2, 2)}});
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 3u);
  EXPECT_EQ(AuditEvents("transfer.relayed").size(), 2u);  // t1 and big
}

TEST_F(RelayServiceTest, DuplicatesAreAcknowledgedButQueuedOnce) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2)}}).status.ok());
  // The edge did not see the ack and pushes again on a new stream, with more.
  PushResult r = Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2), VnToCn("t3", 3)}, {}});
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.acks, (std::vector<uint64_t>{3, 3}));  // an empty batch asks for the watermark
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 3u);
  EXPECT_EQ(AuditEvents("transfer.relayed").size(), 3u);
  r = Push(vn_, {{VnToCn("t2", 2)}});
  EXPECT_EQ(r.acks, (std::vector<uint64_t>{2}));
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 3u);
}

TEST_F(RelayServiceTest, NoticesAreRoutedAndAudited) {
  v1::Envelope notice;
  notice.set_relay_sequence(1);
  notice.mutable_notice()->set_transfer_id("t1");
  notice.mutable_notice()->set_from_edge("edge-cn");
  notice.mutable_notice()->set_to_edge("edge-vn");
  notice.mutable_notice()->set_kind(v1::NOTICE_DELIVERED);
  notice.mutable_notice()->set_detail("stored");
  v1::Envelope unspecified = notice;
  unspecified.mutable_notice()->set_kind(v1::TRANSFER_NOTICE_UNSPECIFIED);
  EXPECT_EQ(Push(cn_, {{unspecified}}).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Push(cn_, {{notice}}).status.ok());
  EXPECT_EQ(svc_->queue().Depth("edge-vn").items, 1u);
  auto events = AuditEvents("transfer.notice");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].transfer_id(), "t1");
  EXPECT_NE(events[0].detail().find("NOTICE_DELIVERED"), std::string::npos);
  EXPECT_NE(events[0].detail().find("stored"), std::string::npos);
}

TEST_F(RelayServiceTest, PullResendsFromTheLowestUnacknowledgedAfterReconnect) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2), VnToCn("t3", 3)}}).status.ok());
  {
    auto ctx = Ctx(cn_);
    auto pull = stub_->Pull(ctx.get());
    uint64_t through = 0;
    ASSERT_EQ(ReadN(pull.get(), 3, &through).size(), 3u);
    v1::RelayAck ack;
    ack.set_through_sequence(1);
    ASSERT_TRUE(pull->Write(ack));
    ASSERT_TRUE(WaitFor([&] { return svc_->queue().Depth("edge-cn").items == 2; }));
    ctx->TryCancel();  // the edge's connection drops
    EXPECT_FALSE(pull->Finish().ok());
  }
  auto ctx = Ctx(cn_);
  auto pull = stub_->Pull(ctx.get());
  uint64_t through = 0;
  std::vector<v1::Envelope> got = ReadN(pull.get(), 2, &through);
  EXPECT_EQ(TransferIds(got), (std::vector<std::string>{"t2", "t3"}));
  EXPECT_EQ(through, 3u);
  v1::RelayAck ack;
  ack.set_through_sequence(3);
  ASSERT_TRUE(pull->Write(ack));
  EXPECT_TRUE(WaitFor([&] { return svc_->queue().Depth("edge-cn").items == 0; }));
  // New items reach the waiting stream.
  ASSERT_TRUE(Push(vn_, {{VnToCn("t4", 4)}}).status.ok());
  got = ReadN(pull.get(), 1, &through);
  EXPECT_EQ(TransferIds(got), (std::vector<std::string>{"t4"}));
  EXPECT_EQ(through, 4u);
  pull->WritesDone();
  EXPECT_TRUE(pull->Finish().ok());
}

TEST_F(RelayServiceTest, AnAckOnConnectDropsWhatTheEdgeAlreadyStored) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2), VnToCn("t3", 3)}}).status.ok());
  auto ctx = Ctx(cn_);
  auto pull = stub_->Pull(ctx.get());
  v1::RelayAck ack;
  ack.set_through_sequence(2);  // stored before a crash lost the acknowledgement
  ASSERT_TRUE(pull->Write(ack));
  ASSERT_TRUE(WaitFor([&] { return svc_->queue().Depth("edge-cn").items == 1; }));
  uint64_t through = 0;
  std::vector<v1::Envelope> got = ReadN(pull.get(), 1, &through);
  // t1/t2 may have been sent before the ack arrived; t3 always comes, last.
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(TransferIds({got.back()}), (std::vector<std::string>{"t3"}));
  ack.set_through_sequence(3);
  ASSERT_TRUE(pull->Write(ack));
  ASSERT_TRUE(WaitFor([&] { return svc_->queue().Depth("edge-cn").items == 0; }));
  ASSERT_TRUE(Push(vn_, {{VnToCn("t4", 4)}}).status.ok());
  got = ReadN(pull.get(), 1, &through);
  EXPECT_EQ(TransferIds(got), (std::vector<std::string>{"t4"}));
  EXPECT_EQ(through, 4u);
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 1u);
  pull->WritesDone();
  EXPECT_TRUE(pull->Finish().ok());
}

// data_dir/relay went back in time: the queue assigned 1..3 again, but the
// destination stored up to 100 before and would drop 1..3 as duplicates.
TEST_F(RelayServiceTest, AnEdgeAheadOfTheRelayStoreGetsItsQueueRenumbered) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2), VnToCn("t3", 3)}}).status.ok());
  ASSERT_EQ(svc_->queue().Depth("edge-cn").last_hub_sequence, 3u);
  {
    auto ctx = Ctx(cn_);
    auto pull = stub_->Pull(ctx.get());
    v1::RelayAck ack;
    ack.set_through_sequence(100);  // its watermark, acknowledged on connect
    ASSERT_TRUE(pull->Write(ack));
    // The hub may have sent 1..3 before the ack arrived (the edge drops
    // those); the stream then ends so both sides restart cleanly.
    v1::RelayBatch batch;
    while (pull->Read(&batch)) {
    }
    grpc::Status ended = pull->Finish();
    EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  }
  // Nothing was deleted: the same three items, above what the edge holds.
  QueueDepth d = svc_->queue().Depth("edge-cn");
  EXPECT_EQ(d.items, 3u);
  EXPECT_EQ(d.last_hub_sequence, 103u);
  ASSERT_TRUE(Push(vn_, {{VnToCn("t4", 4)}}).status.ok());  // later items follow

  auto ctx = Ctx(cn_);
  auto pull = stub_->Pull(ctx.get());
  v1::RelayAck ack;
  ack.set_through_sequence(100);  // the edge's watermark is still 100
  ASSERT_TRUE(pull->Write(ack));
  std::vector<uint64_t> hub_sequences;
  std::vector<v1::Envelope> got;
  v1::RelayBatch batch;
  while (got.size() < 4 && pull->Read(&batch)) {
    // A batch carries consecutive hub sequences ending at its hub_sequence.
    const uint64_t n = static_cast<uint64_t>(batch.envelopes_size());
    for (uint64_t i = 0; i < n; ++i) {
      got.push_back(batch.envelopes(static_cast<int>(i)));
      hub_sequences.push_back(batch.hub_sequence() - (n - 1 - i));
    }
  }
  EXPECT_EQ(TransferIds(got), (std::vector<std::string>{"t1", "t2", "t3", "t4"}));
  EXPECT_EQ(hub_sequences, (std::vector<uint64_t>{101, 102, 103, 104}));
  ack.set_through_sequence(104);
  ASSERT_TRUE(pull->Write(ack));
  EXPECT_TRUE(WaitFor([&] { return svc_->queue().Depth("edge-cn").items == 0; }));
  pull->WritesDone();
  EXPECT_TRUE(pull->Finish().ok());
  EXPECT_EQ(svc_->queue().Depth("edge-cn").last_hub_sequence, 104u);
}

// When the queue cannot be renumbered the stream ends with the error and
// nothing is deleted (here: a watermark no hub could have assigned).
TEST_F(RelayServiceTest, AFailedRenumberingEndsThePullAndDeletesNothing) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2)}}).status.ok());
  auto ctx = Ctx(cn_);
  auto pull = stub_->Pull(ctx.get());
  v1::RelayAck ack;
  ack.set_through_sequence(UINT64_MAX);
  ASSERT_TRUE(pull->Write(ack));
  v1::RelayBatch batch;
  while (pull->Read(&batch)) {
  }
  EXPECT_EQ(pull->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  QueueDepth d = svc_->queue().Depth("edge-cn");
  EXPECT_EQ(d.items, 2u);
  EXPECT_EQ(d.last_hub_sequence, 2u);
}

TEST_F(RelayServiceTest, QueuedItemsSurviveARestart) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2)}}).status.ok());
  Restart();
  PushResult r = Push(vn_, {{VnToCn("t2", 2), VnToCn("t3", 3)}});
  ASSERT_TRUE(r.status.ok());
  auto ctx = Ctx(cn_);
  auto pull = stub_->Pull(ctx.get());
  uint64_t through = 0;
  EXPECT_EQ(TransferIds(ReadN(pull.get(), 3, &through)),
            (std::vector<std::string>{"t1", "t2", "t3"}));
  EXPECT_EQ(through, 3u);
  ctx->TryCancel();
  (void)pull->Finish();
}

TEST_F(RelayServiceTest, ANewPullReplacesTheOldOne) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1)}}).status.ok());
  auto ctx1 = Ctx(cn_);
  auto pull1 = stub_->Pull(ctx1.get());
  uint64_t through = 0;
  ASSERT_EQ(ReadN(pull1.get(), 1, &through).size(), 1u);
  auto ctx2 = Ctx(cn_);
  auto pull2 = stub_->Pull(ctx2.get());
  EXPECT_EQ(TransferIds(ReadN(pull2.get(), 1, &through)), (std::vector<std::string>{"t1"}));
  v1::RelayBatch more;
  EXPECT_FALSE(pull1->Read(&more));  // the old stream was ended
  EXPECT_FALSE(pull1->Finish().ok());
  ctx2->TryCancel();
  (void)pull2->Finish();
}

TEST_F(RelayServiceTest, BackpressureBlocksThePushUntilTheDestinationPulls) {
  Restart({.max_queue_bytes = 1 << 20, .max_queue_items = 2});
  auto push_ctx = Ctx(vn_);
  auto push = stub_->Push(push_ctx.get());
  v1::RelayBatch b1;
  *b1.add_envelopes() = VnToCn("t1", 1);
  *b1.add_envelopes() = VnToCn("t2", 2);
  ASSERT_TRUE(push->Write(b1));
  v1::RelayAck ack;
  ASSERT_TRUE(push->Read(&ack));
  EXPECT_EQ(ack.through_sequence(), 2u);
  v1::RelayBatch b2;
  *b2.add_envelopes() = VnToCn("t3", 3);
  *b2.add_envelopes() = VnToCn("t4", 4);
  ASSERT_TRUE(push->Write(b2));
  std::atomic<bool> acked{false};
  uint64_t second_ack = 0;
  std::thread reader([&] {
    v1::RelayAck a;
    if (push->Read(&a)) second_ack = a.through_sequence();
    acked = true;
  });
  ASSERT_TRUE(WaitFor([&] { return svc_->queue().waiting() == 1; }));
  EXPECT_FALSE(acked.load());
  EXPECT_EQ(svc_->queue().Depth("edge-cn").items, 2u);

  auto pull_ctx = Ctx(cn_);
  auto pull = stub_->Pull(pull_ctx.get());
  uint64_t through = 0;
  std::vector<v1::Envelope> got = ReadN(pull.get(), 2, &through);
  v1::RelayAck pull_ack;
  pull_ack.set_through_sequence(through);
  ASSERT_TRUE(pull->Write(pull_ack));
  reader.join();
  EXPECT_EQ(second_ack, 4u);
  std::vector<v1::Envelope> rest = ReadN(pull.get(), 2, &through);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(TransferIds(got), (std::vector<std::string>{"t1", "t2", "t3", "t4"}));
  pull_ack.set_through_sequence(through);
  ASSERT_TRUE(pull->Write(pull_ack));
  EXPECT_TRUE(WaitFor([&] { return svc_->queue().Depth("edge-cn").items == 0; }));
  push->WritesDone();
  EXPECT_TRUE(push->Finish().ok());
  pull->WritesDone();
  EXPECT_TRUE(pull->Finish().ok());
}

TEST_F(RelayServiceTest, StopEndsWaitingStreams) {
  auto ctx = Ctx(cn_);
  auto pull = stub_->Pull(ctx.get());
  auto push_ctx = Ctx(vn_);
  auto push = stub_->Push(push_ctx.get());
  ASSERT_TRUE(WaitFor([&] {
    v1::RelayQueuesResponse resp;
    auto octx = Ctx(ops_);
    return stub_->ListQueues(octx.get(), {}, &resp).ok() && resp.queues_size() == 1 &&
           resp.queues(0).connected();
  }));
  svc_->Stop();
  v1::RelayBatch batch;
  EXPECT_FALSE(pull->Read(&batch));
  EXPECT_FALSE(pull->Finish().ok());
  v1::RelayAck ack;
  EXPECT_FALSE(push->Read(&ack));
  EXPECT_FALSE(push->Finish().ok());
  auto again = Ctx(cn_);
  auto pull2 = stub_->Pull(again.get());
  EXPECT_EQ(pull2->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(RelayServiceTest, ListQueuesShowsDepthsToOperatorsOnly) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1), VnToCn("t2", 2)}}).status.ok());
  v1::RelayQueuesResponse resp;
  auto ctx = Ctx(ops_);
  ASSERT_TRUE(stub_->ListQueues(ctx.get(), {}, &resp).ok());
  ASSERT_EQ(resp.queues_size(), 1);
  EXPECT_EQ(resp.queues(0).edge_id(), "edge-cn");
  EXPECT_EQ(resp.queues(0).items(), 2u);
  EXPECT_GT(resp.queues(0).bytes(), 0u);
  EXPECT_GT(resp.queues(0).oldest().seconds(), 0);
  EXPECT_FALSE(resp.queues(0).connected());
  auto edge_ctx = Ctx(vn_);
  EXPECT_EQ(stub_->ListQueues(edge_ctx.get(), {}, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RelayServiceTest, ARegulatorSeesOnlyTheQueuesOfItsOwnCountrysEdges) {
  ASSERT_TRUE(Push(vn_, {{VnToCn("t1", 1)}}).status.ok());
  ASSERT_TRUE(Push(cn_, {{Env("edge-cn", "CN", "edge-vn", "VN", "t2", 1)}}).status.ok());
  v1::RelayQueuesResponse resp;
  auto ops = Ctx(ops_);
  ASSERT_TRUE(stub_->ListQueues(ops.get(), {}, &resp).ok());
  EXPECT_EQ(resp.queues_size(), 2);  // operators see both
  const Caller vn_regulator{"reg-vn", "regulator", "VN"};
  auto reg = Ctx(vn_regulator);
  resp.Clear();
  ASSERT_TRUE(stub_->ListQueues(reg.get(), {}, &resp).ok());
  ASSERT_EQ(resp.queues_size(), 1);
  EXPECT_EQ(resp.queues(0).edge_id(), "edge-vn");
}

// --- epoch keys ---

class EpochKeyTest : public RelayServiceTest {
 protected:
  v1::EpochKey Key(const std::string& signer, const std::string& edge_id, absl::Duration from,
                   absl::Duration to) {
    absl::Time now = absl::Now();
    auto pair = envelope::EpochKeyPair::Generate(keys_.at(signer), edge_id, now + from, now + to);
    EXPECT_TRUE(pair.ok()) << pair.status();
    return pair->key;
  }
  grpc::Status Publish(const Caller& c, const v1::EpochKey& key) {
    auto ctx = Ctx(c);
    v1::PublishEpochKeyResponse resp;
    return stub_->PublishEpochKey(ctx.get(), key, &resp);
  }
  std::vector<v1::EpochKey> Get(const Caller& c, std::vector<std::string> ids = {}) {
    auto ctx = Ctx(c);
    v1::GetEpochKeysRequest req;
    for (const auto& id : ids) req.add_edge_ids(id);
    v1::GetEpochKeysResponse resp;
    grpc::Status s = stub_->GetEpochKeys(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.keys().begin(), resp.keys().end()};
  }
  std::string Pem(const std::string& id) { return directory_.FindNode(id)->certificate_pem; }
};

TEST_F(EpochKeyTest, PublishedKeysAreServedWithTheEdgeCertificate) {
  v1::EpochKey key = Key("edge-vn", "edge-vn", absl::Minutes(-1), absl::Hours(24));
  ASSERT_TRUE(Publish(vn_, key).ok());
  ASSERT_TRUE(Publish(vn_, key).ok());  // idempotent
  EXPECT_EQ(AuditEvents("relay.epoch_key").size(), 1u);
  ASSERT_TRUE(Publish(th_, Key("edge-th", "edge-th", absl::Minutes(-1), absl::Hours(24))).ok());

  std::vector<v1::EpochKey> keys = Get(cn_, {"edge-vn"});
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].key_id(), key.key_id());
  EXPECT_EQ(keys[0].signature(), key.signature());
  EXPECT_EQ(keys[0].edge_certificate(), Pem("edge-vn"));
  EXPECT_FALSE(keys[0].edge_certificate().empty());
  EXPECT_EQ(Get(cn_).size(), 2u);
  // The receiving edge can verify what it got.
  auto cert_key = directory_.NodeKey("edge-vn");
  EXPECT_TRUE(envelope::VerifyEpochKey(keys[0], *cert_key, absl::Now()).ok());

  // A revoked edge's keys are no longer served.
  directory_.SetRevoked("edge-vn", true);
  keys = Get(cn_);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].edge_id(), "edge-th");
  directory_.SetRevoked("edge-vn", false);
  // Re-enrolled with a new key: the old epoch key is withheld.
  AddNode("edge-vn", "VN");
  EXPECT_TRUE(Get(cn_, {"edge-vn"}).empty());
}

TEST_F(EpochKeyTest, BadKeysAreRefused) {
  // Signed by another edge's key.
  EXPECT_EQ(Publish(vn_, Key("edge-th", "edge-vn", absl::Minutes(-1), absl::Hours(1))).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // For another edge (validly signed by it).
  EXPECT_EQ(Publish(vn_, Key("edge-th", "edge-th", absl::Minutes(-1), absl::Hours(1))).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Expired.
  EXPECT_EQ(Publish(vn_, Key("edge-vn", "edge-vn", absl::Hours(-2), absl::Hours(-1))).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Too far in the future.
  EXPECT_EQ(Publish(vn_, Key("edge-vn", "edge-vn", absl::Minutes(10), absl::Hours(1))).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Tampered after signing.
  v1::EpochKey tampered = Key("edge-vn", "edge-vn", absl::Minutes(-1), absl::Hours(1));
  tampered.mutable_not_after()->set_seconds(tampered.not_after().seconds() + 3600);
  EXPECT_EQ(Publish(vn_, tampered).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Only edges publish.
  EXPECT_EQ(
      Publish(ops_, Key("edge-vn", "edge-vn", absl::Minutes(-1), absl::Hours(1))).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Get(cn_).empty());
  EXPECT_EQ(AuditEvents("relay.refused").size(), 5u);
  EXPECT_TRUE(AuditEvents("relay.epoch_key").empty());
}

TEST_F(EpochKeyTest, ClockSkewOfAFewMinutesIsAccepted) {
  ASSERT_TRUE(Publish(vn_, Key("edge-vn", "edge-vn", absl::Minutes(2), absl::Hours(1))).ok());
  EXPECT_EQ(Get(th_).size(), 1u);
}

}  // namespace
}  // namespace beibu::hub
