// RelayLink between two edges through a minimal in-test hub (the real hub's
// Relay service is tested with it in the end-to-end suite): delivery with
// notices back to the source, and a tampered envelope refused at the
// destination.
#include "exchange/relay_link.h"

#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "beibu/audit/audit_log.h"
#include "beibu/crypto/random.h"
#include "beibu/daemon/server_host.h"
#include "beibu/envelope/epoch_key.h"
#include "beibu/envelope/seal.h"
#include "beibu/rpc/peer.h"
#include "beibu/v1/relay_api.grpc.pb.h"
#include "hub_connection.h"
#include "log_capture.h"
#include "test_edges.h"

namespace beibu::edge {
namespace {

using ::beibu::edge::testing::MakeEdge;
using ::beibu::edge::testing::NewCa;
using ::beibu::edge::testing::TestEdge;

// Store and forward by destination edge, in memory; `tamper` may alter slices.
class FakeRelay final : public v1::Relay::Service {
 public:
  std::function<void(v1::Envelope&)> tamper;
  // Destinations the hub treats as revoked: their items are acknowledged as
  // undeliverable, as the real hub does.
  void SetGone(const std::string& edge, bool gone) {
    std::lock_guard<std::mutex> lock(mu_);
    if (gone) {
      gone_.insert(edge);
    } else {
      gone_.erase(edge);
    }
  }

  grpc::Status PublishEpochKey(grpc::ServerContext*, const v1::EpochKey* key,
                               v1::PublishEpochKeyResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    keys_[key->key_id()] = *key;
    return grpc::Status::OK;
  }
  grpc::Status GetEpochKeys(grpc::ServerContext*, const v1::GetEpochKeysRequest*,
                            v1::GetEpochKeysResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, k] : keys_) {
      if (!hidden_.contains(k.edge_id())) *resp->add_keys() = k;
    }
    for (const v1::EpochKey& k : extra_) *resp->add_keys() = k;
    return grpc::Status::OK;
  }
  // Keys of `edge` are not served (as if it had not published yet).
  void Hide(const std::string& edge, bool hide) {
    std::lock_guard<std::mutex> lock(mu_);
    if (hide) {
      hidden_.insert(edge);
    } else {
      hidden_.erase(edge);
    }
  }
  // Served in addition to the published keys (forgeries).
  void AddExtra(const v1::EpochKey& key) {
    std::lock_guard<std::mutex> lock(mu_);
    extra_.push_back(key);
  }
  // The last relay_sequence stored from `edge`, as the real hub's relay
  // store keeps it: set ahead to play a hub whose edge lost its store, or
  // behind to play a hub that lost its own.
  void SetWatermark(const std::string& edge, uint64_t watermark) {
    std::lock_guard<std::mutex> lock(mu_);
    watermarks_[edge] = watermark;
  }
  // The relay sequences stored from `edge` (duplicates dropped), in order.
  std::vector<uint64_t> Received(const std::string& edge) {
    std::lock_guard<std::mutex> lock(mu_);
    return received_[edge];
  }
  // The notices stored from `edge`, in order.
  std::vector<v1::TransferNotice> Notices(const std::string& edge) {
    std::lock_guard<std::mutex> lock(mu_);
    return notices_[edge];
  }
  void ClearReceived(const std::string& edge) {
    std::lock_guard<std::mutex> lock(mu_);
    received_[edge].clear();
  }

  grpc::Status Push(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<v1::RelayAck, v1::RelayBatch>* stream) override {
    const std::string from = rpc::PeerOf(*ctx)->id;
    v1::RelayBatch batch;
    while (stream->Read(&batch)) {
      v1::RelayAck ack;
      if (batch.envelopes().empty()) {  // a watermark query, as the real hub answers it
        {
          std::lock_guard<std::mutex> lock(mu_);
          ack.set_through_sequence(watermarks_[from]);
        }
        if (!stream->Write(ack)) break;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (v1::Envelope env : batch.envelopes()) {
          // Stored before: acknowledged again, stored once (as the real hub).
          if (env.relay_sequence() <= watermarks_[from]) continue;
          std::string to, id;
          if (env.has_notice()) {
            to = env.notice().to_edge();
            id = env.notice().transfer_id();
          } else {
            v1::EnvelopeHeader h;
            h.ParseFromString(env.header());
            to = h.to_edge();
            id = h.transfer_id();
            if (tamper) tamper(env);
          }
          if (gone_.contains(to)) {
            v1::UndeliverableItem* u = ack.add_undeliverable();
            u->set_relay_sequence(env.relay_sequence());
            u->set_transfer_id(id);
            u->set_notice(env.has_notice());
            u->set_reason("destination edge '" + to + "' is revoked");
            continue;
          }
          Queue& q = queues_[to];
          q.items.emplace_back(++q.next, env);
          watermarks_[from] = env.relay_sequence();
          received_[from].push_back(env.relay_sequence());
          if (env.has_notice()) notices_[from].push_back(env.notice());
        }
      }
      cv_.notify_all();
      ack.set_through_sequence(batch.envelopes(batch.envelopes_size() - 1).relay_sequence());
      if (!stream->Write(ack)) break;
    }
    return grpc::Status::OK;
  }
  grpc::Status Pull(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<v1::RelayBatch, v1::RelayAck>* stream) override {
    const std::string me = rpc::PeerOf(*ctx)->id;
    std::thread acks([&] {
      v1::RelayAck ack;
      while (stream->Read(&ack)) {
        std::lock_guard<std::mutex> lock(mu_);
        std::deque<std::pair<uint64_t, v1::Envelope>>& items = queues_[me].items;
        while (!items.empty() && items.front().first <= ack.through_sequence()) items.pop_front();
      }
    });
    uint64_t sent = 0;
    while (!ctx->IsCancelled()) {
      v1::RelayBatch batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(50));
        for (const auto& [seq, env] : queues_[me].items) {
          if (seq <= sent) continue;
          *batch.add_envelopes() = env;
          batch.set_hub_sequence(seq);
        }
      }
      if (batch.envelopes().empty()) continue;
      if (!stream->Write(batch)) break;
      sent = batch.hub_sequence();
    }
    acks.join();
    return grpc::Status::OK;
  }
  size_t queued(const std::string& edge) {
    std::lock_guard<std::mutex> lock(mu_);
    return queues_[edge].items.size();
  }

 private:
  struct Queue {
    uint64_t next = 0;
    std::deque<std::pair<uint64_t, v1::Envelope>> items;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, v1::EpochKey> keys_;
  std::set<std::string> hidden_;
  std::set<std::string> gone_;
  std::vector<v1::EpochKey> extra_;
  std::map<std::string, Queue> queues_;
  std::map<std::string, uint64_t> watermarks_;                      // by source edge
  std::map<std::string, std::vector<uint64_t>> received_;           // by source edge
  std::map<std::string, std::vector<v1::TransferNotice>> notices_;  // by source edge
};

// The link's log lines, for the events an operator must see. Attached once,
// before any test starts a thread that logs; emptied as each test starts.
beibu::testing::LogCapture& Logs() { return beibu::testing::CapturedLogs(); }

bool Logged(const std::string& text) { return Logs().Contains(text); }

struct Node {
  TestEdge edge;
  EdgeConfig config;
  std::unique_ptr<audit::AuditLog> audit;  // before store: outlives its journal
  std::unique_ptr<ExchangeStore> store;
  std::unique_ptr<EpochKeys> keys;
  std::unique_ptr<RelayLink> relay;

  std::vector<v1::AuditEvent> Events(const std::string& operation) {
    EXPECT_TRUE(store->FlushAudit().ok());  // staged events reach the log just after
    std::vector<v1::AuditEvent> out;
    for (uint64_t i = 0; i < audit->store().size(); ++i) {
      absl::StatusOr<Bytes> entry = audit->store().Entry(i);
      if (!entry.ok()) continue;
      absl::StatusOr<v1::AuditEvent> e = audit::DecodeAuditEvent(*entry);
      if (e.ok() && e->operation() == operation) out.push_back(*e);
    }
    return out;
  }
};

template <typename Pred>
bool WaitFor(Pred done, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class RelayLinkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Logs(); }
  void SetUp() override {
    Logs().Clear();
    crypto::Sm2PrivateKey hub_key = crypto::Sm2PrivateKey::Generate().value();
    pki::Identity hub_id{.id = "hub", .role = pki::Role::kHub, .country = "CN"};
    pki::Certificate hub_cert = ca_.Issue(hub_key.PublicKey(), hub_id).value();
    auto trust = std::make_shared<pki::TrustBundle>();
    ASSERT_TRUE(trust->AddRoot(ca_.certificate()).ok());
    handshake_ = [=] {
      channel::HandshakeConfig c;
      c.credentials = channel::Credentials{hub_key, {hub_cert}};
      c.trust = trust;
      c.allowed_peer_roles = {pki::Role::kEdge};
      return c;
    };
    auto host = daemon::ServerHost::Start({
        .listen_address = "127.0.0.1:0",
        .handshake = handshake_,
        .services = {&hub_},
    });
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
    vn_ = Start("edge-vn", "VN");
    cn_ = Start("edge-cn", "CN");
  }
  void TearDown() override {
    for (Node* n : {vn_.get(), cn_.get()}) {
      if (n && n->relay) n->relay->Stop();
    }
    if (host_) host_->Shutdown(std::chrono::milliseconds(100));
  }

  std::unique_ptr<Node> Start(const std::string& id, const std::string& country) {
    auto node = std::make_unique<Node>(Node{MakeEdge(dir_.path(), ca_, id, country)});
    Node& n = *node;
    n.config.node_id = id;
    n.config.data_dir = n.edge.data_dir;
    n.config.hub = "127.0.0.1:" + std::to_string(host_->port());
    n.audit = audit::AuditLog::Open({.dir = n.edge.data_dir + "/audit",
                                     .node_id = id,
                                     .key = n.edge.key,
                                     .node_country = country})
                  .value();
    n.store = ExchangeStore::Open(n.edge.data_dir + "/exchange", n.audit.get()).value();
    n.keys = EpochKeys::Open({.dir = n.edge.data_dir + "/epoch"}, n.edge.identity.get()).value();
    n.relay = std::make_unique<RelayLink>(n.config, n.edge.identity.get(), n.store.get(),
                                          n.keys.get(), n.audit.get());
    n.relay->Start();
    return node;
  }

  // A new link on the node's store, as after a restart of the edge.
  void Restart(Node& n, RelayLinkOptions options = {}) {
    n.relay.reset();
    n.relay = std::make_unique<RelayLink>(n.config, n.edge.identity.get(), n.store.get(),
                                          n.keys.get(), n.audit.get(), options);
    n.relay->Start();
  }

  // What the Exchange service does on Send, reduced: keys, seal, commit.
  std::string Send(const std::string& transfer_id, const Bytes& payload, int slices = 1,
                   const std::string& from_enterprise = "acme-vn") {
    v1::EnvelopeHeader h;
    h.set_transfer_id(transfer_id);
    h.set_source_sequence(vn_->store->AllocateSourceSequence().value());
    h.set_from_edge("edge-vn");
    h.set_from_enterprise(from_enterprise);
    h.set_to_enterprise("acme-cn");
    h.set_from_country("VN");
    h.set_to_country("CN");
    h.set_category("logistics.track");
    h.set_decision("FAST");
    absl::StatusOr<envelope::TransferKeys> keys = vn_->keys->PrepareSend(&h);
    EXPECT_TRUE(keys.ok()) << keys.status();
    absl::StatusOr<v1::Envelope> env = envelope::SealEnvelope(*keys, h, payload, 1024);
    EXPECT_TRUE(env.ok()) << env.status();
    v1::TransferRecord record;
    record.mutable_header()->set_transfer_id(transfer_id);
    record.mutable_header()->set_to_country("CN");
    record.mutable_status()->set_transfer_id(transfer_id);
    record.mutable_status()->set_state(v1::IN_FLIGHT);
    record.set_to_edge(h.to_edge());
    // Slices of consecutive chunks, as a large transfer travels.
    std::vector<v1::Envelope> parts;
    const int per = (env->sealed_chunks_size() + slices - 1) / slices;
    for (int first = 0; first < env->sealed_chunks_size(); first += per) {
      v1::Envelope part;
      part.set_header(env->header());
      part.set_first_chunk(first);
      for (int i = first; i < std::min(first + per, env->sealed_chunks_size()); ++i) {
        part.add_sealed_chunks(env->sealed_chunks(i));
      }
      parts.push_back(std::move(part));
    }
    const uint32_t n = parts.size();
    EXPECT_TRUE(
        vn_->store->CommitTransfer(record, std::move(parts), n, true, from_enterprise, 2026, 0)
            .ok());
    vn_->relay->Notify();
    return env->header();
  }

  // Both edges' keys are at the hub; vn fetches cn's now rather than at its
  // next refresh.
  void ExchangeKeys() {
    ASSERT_TRUE(WaitFor([&] { return vn_->relay->connected() && cn_->relay->connected(); }));
    absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> c =
        ConnectToHub(vn_->config, *vn_->edge.identity);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(vn_->keys->SyncWithHub(**c).ok());
    ASSERT_EQ(vn_->keys->peer_key_count(), 1u);
  }

  beibu::testing::TempDir dir_;
  pki::CertificateAuthority ca_ = NewCa("Beibu Root CA");
  FakeRelay hub_;
  std::function<channel::HandshakeConfig()> handshake_;
  std::unique_ptr<daemon::ServerHost> host_;
  std::unique_ptr<Node> vn_, cn_;
};

TEST_F(RelayLinkTest, DeliversVerifiedChunksAndTheSourceLearnsIt) {
  ExchangeKeys();
  Bytes payload = crypto::RandomBytes(5000);
  const std::string header = Send("t-relay-ok-000000001", payload, /*slices=*/3);

  std::vector<v1::DeliveryRecord> inbox;
  ASSERT_TRUE(WaitFor([&] {
    inbox =
        cn_->store->PendingDeliveries("acme-cn", 0, 10).value_or(std::vector<v1::DeliveryRecord>());
    return !inbox.empty();
  }));
  EXPECT_EQ(inbox[0].envelope_header(), header);
  // The stored chunks open to the payload.
  v1::EnvelopeHeader h;
  ASSERT_TRUE(h.ParseFromString(header));
  envelope::TransferKeys keys = cn_->keys->KeysFor(h).value();
  envelope::ChunkOpener opener = envelope::ChunkOpener::Create(keys, header).value();
  Bytes opened;
  for (uint32_t i = 0; i < h.chunks(); ++i) {
    Bytes p = opener.Open(i, AsBytes(cn_->store->ReadChunk(h.transfer_id(), i).value())).value();
    opened.insert(opened.end(), p.begin(), p.end());
  }
  EXPECT_EQ(opened, payload);

  // The notice travels back; the source's outbox drains.
  ASSERT_TRUE(WaitFor([&] {
    return vn_->store->GetTransfer("t-relay-ok-000000001").value().status().state() ==
           v1::DELIVERED;
  }));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  std::vector<v1::AuditEvent> delivered = cn_->Events("transfer.delivered");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].transfer_id(), "t-relay-ok-000000001");
  EXPECT_EQ(delivered[0].source_country(), "VN");
  ASSERT_EQ(delivered[0].digests_size(), 1);
  EXPECT_EQ(delivered[0].digests(0).algorithm(), "sm3-envelope-header");
  crypto::Sm3Digest sum = crypto::Sm3::Hash(AsBytes(header));
  EXPECT_EQ(delivered[0].digests(0).value(), std::string(sum.begin(), sum.end()));
}

TEST_F(RelayLinkTest, ATamperedEnvelopeIsRefusedNotStoredAndTheSourceIsTold) {
  hub_.tamper = [](v1::Envelope& env) { (*env.mutable_sealed_chunks(1))[5] ^= 0x40; };
  ExchangeKeys();
  Send("t-relay-bad-00000001", crypto::RandomBytes(3000));

  ASSERT_TRUE(WaitFor([&] {
    return vn_->store->GetTransfer("t-relay-bad-00000001").value().status().state() == v1::DENIED;
  }));
  v1::TransferRecord r = vn_->store->GetTransfer("t-relay-bad-00000001").value();
  EXPECT_NE(r.status().detail().find("chunk 1"), std::string::npos) << r.status().detail();
  EXPECT_EQ(cn_->store->GetDelivery("t-relay-bad-00000001").status().code(),
            absl::StatusCode::kNotFound);
  std::vector<v1::AuditEvent> refused = cn_->Events("transfer.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].status_code(), static_cast<int>(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(refused[0].who().id(), "edge-vn");
  // Refused, yet acknowledged: the hub does not send it again.
  ASSERT_TRUE(WaitFor([&] { return hub_.queued("edge-cn") == 0; }));
  EXPECT_TRUE(cn_->Events("transfer.delivered").empty());
}

TEST_F(RelayLinkTest, AnItemTheStoreRejectsIsRefusedWithoutBlockingTheQueue) {
  ExchangeKeys();
  Send("t-short", crypto::RandomBytes(100));  // authentic, but not a valid transfer id
  Send("t-relay-after-0000001", crypto::RandomBytes(100));
  ASSERT_TRUE(WaitFor([&] {
    return !cn_->store->PendingDeliveries("acme-cn", 0, 10)
                .value_or(std::vector<v1::DeliveryRecord>())
                .empty();
  }));
  ASSERT_TRUE(WaitFor(
      [&] { return vn_->store->GetTransfer("t-short").value().status().state() == v1::DENIED; }));
  EXPECT_EQ(cn_->Events("transfer.refused").size(), 1u);
}

TEST_F(RelayLinkTest, AnUndeliverableTransferIsMarkedRefusedAndDoesNotBlockTheOutbox) {
  ExchangeKeys();
  hub_.SetGone("edge-cn", true);
  Send("t-relay-gone-0000001", crypto::RandomBytes(3000), /*slices=*/2);
  ASSERT_TRUE(WaitFor([&] {
    return vn_->store->GetTransfer("t-relay-gone-0000001").value().status().state() == v1::DENIED;
  }));
  v1::TransferRecord r = vn_->store->GetTransfer("t-relay-gone-0000001").value();
  EXPECT_NE(r.status().detail().find("undeliverable: destination edge 'edge-cn' is revoked"),
            std::string::npos)
      << r.status().detail();
  EXPECT_TRUE(r.status().steps().contains("REFUSED_BY_HUB"));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  std::vector<v1::AuditEvent> refused = vn_->Events("transfer.refused");
  ASSERT_EQ(refused.size(), 1u);  // one per transfer, not per slice
  EXPECT_EQ(refused[0].transfer_id(), "t-relay-gone-0000001");
  EXPECT_EQ(refused[0].who().id(), "hub");
  // The next transfer is not held up once the destination is back.
  hub_.SetGone("edge-cn", false);
  Send("t-relay-back-0000001", crypto::RandomBytes(100));
  ASSERT_TRUE(WaitFor([&] { return cn_->store->GetDelivery("t-relay-back-0000001").ok(); }));
  EXPECT_EQ(cn_->store->GetDelivery("t-relay-gone-0000001").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RelayLinkTest, ReconnectsAfterTheHubRestartsAndLosesNothing) {
  ExchangeKeys();
  const int port = host_->port();
  host_->Shutdown(std::chrono::milliseconds(100));
  host_.reset();
  ASSERT_TRUE(WaitFor([&] { return !vn_->relay->connected() && !cn_->relay->connected(); }));
  Send("t-relay-while-down-01", crypto::RandomBytes(2000), 2);
  EXPECT_EQ(vn_->store->outbox().items, 2u);

  auto host = daemon::ServerHost::Start({
      .listen_address = "127.0.0.1:" + std::to_string(port),
      .handshake = handshake_,
      .services = {&hub_},
  });
  ASSERT_TRUE(host.ok()) << host.status();
  host_ = *std::move(host);
  ASSERT_TRUE(WaitFor([&] {
    return vn_->store->GetTransfer("t-relay-while-down-01").value().status().state() ==
           v1::DELIVERED;
  }));
  EXPECT_EQ(cn_->Events("transfer.delivered").size(), 1u);
  EXPECT_EQ(vn_->store->outbox().items, 0u);
}

TEST_F(RelayLinkTest, KeysTheHubServesAreVerifiedAndForgeriesSkipped) {
  // A key claiming to be edge-cn's, signed by edge-vn's certificate key.
  v1::EpochKey forged = envelope::EpochKeyPair::Generate(vn_->edge.key, "edge-cn", absl::Now(),
                                                         absl::Now() + absl::Hours(1))
                            .value()
                            .key;
  forged.set_edge_certificate(cn_->edge.cert.ToPem());
  hub_.AddExtra(forged);
  ExchangeKeys();  // asserts exactly one peer key: cn's real one
  v1::EnvelopeHeader h;
  h.set_transfer_id("t-relay-forged-0001");
  h.set_from_edge("edge-vn");
  h.set_to_country("CN");
  ASSERT_TRUE(vn_->keys->PrepareSend(&h).ok());
  EXPECT_EQ(h.recipient_key_id(), cn_->keys->current().key_id());
}

// The source edge's data_dir/exchange was restored from a backup: the hub
// already stored relay sequences up to 50 from it, while the store assigned
// 1..3 to new items. The link renumbers them above 50 before pushing, so the
// hub stores them instead of dropping them as duplicates.
TEST_F(RelayLinkTest, AStoreBehindTheHubIsRenumberedAndItsItemsDelivered) {
  ExchangeKeys();
  vn_->relay->Stop();
  const std::vector<std::string> ids = {"t-relay-behind-00001", "t-relay-behind-00002",
                                        "t-relay-behind-00003"};
  for (const std::string& id : ids) Send(id, crypto::RandomBytes(500));
  ASSERT_EQ(vn_->store->LastRelaySequence(), 3u);
  ASSERT_EQ(vn_->store->FirstOutboxSequence(), 1u);
  hub_.SetWatermark("edge-vn", 50);

  Restart(*vn_);
  ASSERT_TRUE(WaitFor([&] { return hub_.Received("edge-vn").size() >= 3; }));
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{51, 52, 53}));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor([&] {
      absl::StatusOr<v1::DeliveryRecord> d = cn_->store->GetDelivery(id);
      return d.ok() && d->complete();
    })) << id;
  }
  EXPECT_TRUE(Logged("event=relay_store_behind_hub hub_watermark=50 last_assigned=3 renumbered=3"));
  // Later items follow the renumbered ones.
  Send("t-relay-behind-00004", crypto::RandomBytes(100));
  ASSERT_TRUE(WaitFor([&] { return hub_.Received("edge-vn").size() >= 4; }));
  EXPECT_EQ(hub_.Received("edge-vn").back(), 54u);
}

// The hub's data_dir/relay went back in time: it reports a watermark below
// what it acknowledged to this edge earlier. Nothing is renumbered (the new
// items are above it anyway); the loss is logged and items keep flowing.
TEST_F(RelayLinkTest, AHubThatLostItemsIsReportedAndItemsStillFlow) {
  ExchangeKeys();
  Send("t-relay-hublost-0001", crypto::RandomBytes(100));
  Send("t-relay-hublost-0002", crypto::RandomBytes(100));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{1, 2}));
  vn_->relay->Stop();
  hub_.SetWatermark("edge-vn", 0);
  hub_.ClearReceived("edge-vn");
  Send("t-relay-hublost-0003", crypto::RandomBytes(100));
  ASSERT_EQ(vn_->store->FirstOutboxSequence(), 3u);

  Restart(*vn_);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::DeliveryRecord> d = cn_->store->GetDelivery("t-relay-hublost-0003");
    return d.ok() && d->complete();
  }));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{3}));  // not renumbered
  EXPECT_EQ(vn_->store->LastRelaySequence(), 3u);
  EXPECT_TRUE(Logged("event=relay_hub_lost_items from=1 through=2"));
  EXPECT_FALSE(Logged("event=relay_store_behind_hub"));
}

bool Complete(ExchangeStore& store, const std::string& id) {
  absl::StatusOr<v1::DeliveryRecord> d = store.GetDelivery(id);
  return d.ok() && d->complete();
}

// A data circuit breaker covers one enterprise (docs/gateway.md §4): its
// queued transfers are held at the source, not pushed and not lost, while
// another enterprise's go through; once released they go, in their order.
TEST_F(RelayLinkTest, HeldTransfersWaitWhileOthersFlowAndGoInOrderWhenReleased) {
  ExchangeKeys();
  // Shared: the link may ask after this test's body has returned.
  auto open = std::make_shared<std::atomic<bool>>(true);
  auto holds = [open](const v1::EnvelopeHeader& h) {
    return open->load() && h.from_enterprise() == "acme-held";
  };
  Restart(*vn_, {.holds_outbound = holds});
  Send("t-relay-held-a-00001", crypto::RandomBytes(3000), /*slices=*/3, "acme-held");  // 1..3
  Send("t-relay-flow-b-00001", crypto::RandomBytes(500));                              // 4
  Send("t-relay-held-a-00002", crypto::RandomBytes(500), 1, "acme-held");              // 5
  Send("t-relay-flow-b-00002", crypto::RandomBytes(500));                              // 6

  ASSERT_TRUE(WaitFor([&] {
    return Complete(*cn_->store, "t-relay-flow-b-00001") &&
           Complete(*cn_->store, "t-relay-flow-b-00002");
  }));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().held == 4; }));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));  // acknowledged
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{4, 6}));
  for (const char* id : {"t-relay-held-a-00001", "t-relay-held-a-00002"}) {
    EXPECT_EQ(cn_->store->GetDelivery(id).status().code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(vn_->store->GetTransfer(id).value().status().state(), v1::IN_FLIGHT) << id;
  }
  EXPECT_TRUE(Logged("event=outbound_held"));

  // The breaker closes: the edge asks the link to release, and the link's
  // releaser sends what the predicate no longer holds.
  *open = false;
  vn_->relay->RequestRelease();
  ASSERT_TRUE(WaitFor([&] {
    return Complete(*cn_->store, "t-relay-held-a-00001") &&
           Complete(*cn_->store, "t-relay-held-a-00002");
  }));
  // New sequences above everything assigned before, in the original order:
  // the first transfer's three slices, then the second transfer.
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{4, 6, 7, 8, 9, 10}));
  EXPECT_LT(cn_->store->GetDelivery("t-relay-held-a-00001").value().inbox_sequence(),
            cn_->store->GetDelivery("t-relay-held-a-00002").value().inbox_sequence());
  EXPECT_TRUE(cn_->Events("transfer.refused").empty());
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  EXPECT_EQ(vn_->store->outbox().held, 0u);
}

// A transfer whose first slice is held (a breaker tripped between two
// batches) keeps its later slices back too, even with no breaker asked:
// sent alone they would reach the destination after a gap and be refused.
// Released by hand here: without a RequestRelease nothing leaves.
TEST_F(RelayLinkTest, LaterSlicesOfAPartlyHeldTransferAreHeldToo) {
  ExchangeKeys();
  vn_->relay->Stop();
  Send("t-relay-partly-00001", crypto::RandomBytes(3000), /*slices=*/3);  // 1..3
  Send("t-relay-partly-00002", crypto::RandomBytes(500));                 // 4
  ASSERT_EQ(vn_->store->HoldOutbox({1}).value(), 3u);  // the transfer's later slices too

  Restart(*vn_);  // no hold predicate
  ASSERT_TRUE(WaitFor([&] { return Complete(*cn_->store, "t-relay-partly-00002"); }));
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  EXPECT_EQ(vn_->store->outbox().held, 3u);
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{4}));
  EXPECT_EQ(cn_->store->GetDelivery("t-relay-partly-00001").status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_EQ(vn_->store->ReleaseHeld([](const v1::EnvelopeHeader&) { return true; }).value(), 3u);
  vn_->relay->Notify();
  ASSERT_TRUE(WaitFor([&] { return Complete(*cn_->store, "t-relay-partly-00001"); }));
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{4, 5, 6, 7}));
  EXPECT_TRUE(cn_->Events("transfer.refused").empty());
}

// A transfer with more slices than one push batch (256 items): the first
// batch goes, a breaker trips before the second, and closes again right
// after the link held it, with the third batch not read yet. The hold took
// the unread slices too, and the release sends them all behind the first
// batch in their order: the destination gets every slice, without a gap.
TEST_F(RelayLinkTest, ALongTransferHeldAfterItsFirstBatchAndReleasedMidWayArrivesInOrder) {
  ExchangeKeys();
  vn_->relay->Stop();
  constexpr int kSlices = 600;
  const std::string id = "t-relay-long-held-01";
  Send(id, crypto::RandomBytes(kSlices * 1024), kSlices);
  ASSERT_EQ(vn_->store->LastRelaySequence(), static_cast<uint64_t>(kSlices));
  // Asked once per batch, then once more after the hold ("closed
  // meanwhile?"), then by the releaser: holds only the second batch.
  auto calls = std::make_shared<std::atomic<int>>(0);
  Restart(*vn_, {.holds_outbound = [calls](const v1::EnvelopeHeader&) {
    return calls->fetch_add(1) == 1;
  }});
  ASSERT_TRUE(WaitFor(
      [&] {
        return Complete(*cn_->store, id) ||
               vn_->store->GetTransfer(id).value().status().state() == v1::DENIED;
      },
      std::chrono::seconds(60)));
  ASSERT_TRUE(Complete(*cn_->store, id)) << vn_->store->GetTransfer(id).value().status().detail();
  EXPECT_TRUE(cn_->Events("transfer.refused").empty());
  EXPECT_GE(calls->load(), 3);
  EXPECT_TRUE(Logged("event=outbound_held count=344 transfers=1"));
  // The first batch under its own sequences, the rest above all assigned.
  const std::vector<uint64_t> got = hub_.Received("edge-vn");
  ASSERT_EQ(got.size(), static_cast<size_t>(kSlices));
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], i < 256 ? i + 1 : kSlices + 1 + (i - 256)) << i;
  }
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  EXPECT_EQ(vn_->store->outbox().held, 0u);
}

// Items an earlier session pushed and the hub stored, but whose
// acknowledgement was lost, are not held by a breaker that trips since:
// the hub has them (its watermark says so). Held, they would be sent again
// under new sequences and stored twice.
TEST_F(RelayLinkTest, ItemsTheHubAlreadyStoredAreNotHeld) {
  ExchangeKeys();
  vn_->relay->Stop();
  Send("t-relay-at-hub-00001", crypto::RandomBytes(300));  // 1
  Send("t-relay-at-hub-00002", crypto::RandomBytes(300));  // 2
  Send("t-relay-at-hub-00003", crypto::RandomBytes(300));  // 3
  hub_.SetWatermark("edge-vn", 2);
  Restart(*vn_, {.holds_outbound = [](const v1::EnvelopeHeader&) { return true; }});
  // 1 and 2 are pushed (the hub drops them and acknowledges), 3 is held.
  ASSERT_TRUE(WaitFor([&] { return vn_->store->outbox().items == 0; }));
  EXPECT_EQ(vn_->store->outbox().held, 1u);
  EXPECT_TRUE(vn_->store->HasHeldParts("t-relay-at-hub-00003"));
  EXPECT_TRUE(hub_.Received("edge-vn").empty());
  EXPECT_FALSE(Logged("event=relay_hub_lost_items"));

  // A gateway since disabled (no predicate): the release at start sends it.
  Restart(*vn_);
  vn_->relay->RequestRelease();
  ASSERT_TRUE(WaitFor([&] { return Complete(*cn_->store, "t-relay-at-hub-00003"); }));
  EXPECT_EQ(hub_.Received("edge-vn"), (std::vector<uint64_t>{4}));
  EXPECT_EQ(vn_->store->outbox().held, 0u);
}

std::vector<v1::TransferNotice> NoticesOf(FakeRelay& hub, const std::string& edge,
                                          const std::string& transfer_id) {
  std::vector<v1::TransferNotice> out;
  for (const v1::TransferNotice& n : hub.Notices(edge)) {
    if (n.transfer_id() == transfer_id) out.push_back(n);
  }
  return out;
}

// Not acknowledged: the held NOTICE_DELIVERED goes out after the hold (the
// default 250 ms) and the source shows DELIVERED.
TEST_F(RelayLinkTest, AnUnacknowledgedDeliveryIsNoticedAfterTheHold) {
  ExchangeKeys();
  Send("t-relay-hold-000001", crypto::RandomBytes(800));
  ASSERT_TRUE(WaitFor([&] { return !NoticesOf(hub_, "edge-cn", "t-relay-hold-000001").empty(); }));
  std::vector<v1::TransferNotice> got = NoticesOf(hub_, "edge-cn", "t-relay-hold-000001");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind(), v1::NOTICE_DELIVERED);
  EXPECT_EQ(got[0].to_edge(), "edge-vn");
  EXPECT_FALSE(got[0].has_delivered_at());
  EXPECT_EQ(cn_->store->HeldNotices(), 0u);
  ASSERT_TRUE(WaitFor([&] {
    return vn_->store->GetTransfer("t-relay-hold-000001").value().status().state() == v1::DELIVERED;
  }));
  v1::TransferRecord r = vn_->store->GetTransfer("t-relay-hold-000001").value();
  EXPECT_EQ(r.status().steps().at("DELIVERED").seconds(), got[0].at().seconds());
  EXPECT_FALSE(r.status().steps().contains("ACKNOWLEDGED"));
}

// Acknowledged while its NOTICE_DELIVERED is held (a long hold makes that
// certain): one NOTICE_ACKNOWLEDGED carrying delivered_at, no DELIVERED
// notice, and the source shows both steps.
TEST_F(RelayLinkTest, ADeliveryAcknowledgedWithinTheHoldSendsOneNotice) {
  Restart(*cn_, {.delivered_notice_hold = std::chrono::hours(1)});
  ExchangeKeys();
  const std::string id = "t-relay-coalesce-01";
  Send(id, crypto::RandomBytes(800));
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::DeliveryRecord> d = cn_->store->GetDelivery(id);
    return d.ok() && d->complete();
  }));
  EXPECT_EQ(cn_->store->HeldNotices(), 1u);
  EXPECT_EQ(cn_->store->outbox().items, 0u);
  google::protobuf::Timestamp now;
  now.set_seconds(absl::ToUnixSeconds(absl::Now()));
  ASSERT_EQ(cn_->store->Acknowledge("acme-cn", {id}, "edge-cn", now).value().size(), 1u);
  cn_->relay->Notify();  // as the Exchange service does after an Ack
  EXPECT_EQ(cn_->store->HeldNotices(), 0u);
  ASSERT_TRUE(WaitFor(
      [&] { return vn_->store->GetTransfer(id).value().status().state() == v1::ACKNOWLEDGED; }));
  std::vector<v1::TransferNotice> got = NoticesOf(hub_, "edge-cn", id);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind(), v1::NOTICE_ACKNOWLEDGED);
  ASSERT_TRUE(got[0].has_delivered_at());
  EXPECT_GT(got[0].delivered_at().seconds(), 0);
  v1::TransferRecord r = vn_->store->GetTransfer(id).value();
  ASSERT_TRUE(r.status().steps().contains("DELIVERED"));
  EXPECT_EQ(r.status().steps().at("DELIVERED").seconds(), got[0].delivered_at().seconds());
  EXPECT_EQ(r.status().steps().at("DELIVERED").nanos(), got[0].delivered_at().nanos());
  EXPECT_EQ(r.status().steps().at("ACKNOWLEDGED").seconds(), now.seconds());
  ASSERT_TRUE(WaitFor([&] { return cn_->store->outbox().items == 0; }));
}

// A notice held when the edge stops is sent by the next run.
TEST_F(RelayLinkTest, ANoticeHeldAcrossARestartIsSentByTheNextRun) {
  Restart(*cn_, {.delivered_notice_hold = std::chrono::hours(1)});
  ExchangeKeys();
  const std::string id = "t-relay-held-restart";
  Send(id, crypto::RandomBytes(300));
  ASSERT_TRUE(WaitFor([&] { return cn_->store->HeldNotices() == 1; }));
  Restart(*cn_, {.delivered_notice_hold = std::chrono::milliseconds(10)});
  ASSERT_TRUE(WaitFor(
      [&] { return vn_->store->GetTransfer(id).value().status().state() == v1::DELIVERED; }));
  EXPECT_EQ(cn_->store->HeldNotices(), 0u);
  std::vector<v1::TransferNotice> got = NoticesOf(hub_, "edge-cn", id);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind(), v1::NOTICE_DELIVERED);
}

// The destination has not seen the source's key yet when its first envelope
// arrives: it fetches the keys once and then accepts it.
class RelayLinkLateKeyTest : public RelayLinkTest {
 protected:
  RelayLinkLateKeyTest() { hub_.Hide("edge-vn", true); }
};

TEST_F(RelayLinkLateKeyTest, AnUnknownSenderKeyIsFetchedBeforeRefusing) {
  ExchangeKeys();
  EXPECT_EQ(cn_->keys->peer_key_count(), 0u);
  hub_.Hide("edge-vn", false);
  Send("t-relay-late-key-001", crypto::RandomBytes(1500));
  ASSERT_TRUE(WaitFor([&] {
    return vn_->store->GetTransfer("t-relay-late-key-001").value().status().state() ==
           v1::DELIVERED;
  }));
  EXPECT_EQ(cn_->keys->peer_key_count(), 1u);
  EXPECT_TRUE(cn_->Events("transfer.refused").empty());
}

}  // namespace
}  // namespace beibu::edge
