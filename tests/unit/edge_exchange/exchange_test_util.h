// Shared fixture pieces for the edge exchange tests: fixed epoch shares for
// both edges, and an Exchange service on a real in-process gRPC server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "beibu/audit/audit_log.h"
#include "beibu/crypto/sm2.h"
#include "beibu/envelope/seal.h"
#include "beibu/envelope/transfer_keys.h"
#include "beibu/rpc/peer.h"
#include "exchange/exchange_service.h"
#include "exchange/exchange_store.h"
#include "exchange/key_source.h"
#include "exchange/policy_holder.h"
#include "temp_dir.h"

namespace beibu::edge::testing {

// This edge's share and the peer edge's: PrepareSend/KeysFor derive what
// EpochKeys would, so what one side seals the other opens.
class FakeKeys final : public TransferKeySource {
 public:
  FakeKeys()
      : own_(crypto::Sm2KeyShare::Generate().value()),
        peer_(crypto::Sm2KeyShare::Generate().value()) {}

  absl::StatusOr<envelope::TransferKeys> PrepareSend(v1::EnvelopeHeader* header) override {
    if (unavailable) return absl::UnavailableError("no epoch key of an edge of that country");
    header->set_to_edge("edge-" + absl::AsciiStrToLower(header->to_country()));
    header->set_sender_key_id("key-own");
    header->set_recipient_key_id("key-peer");
    return envelope::DeriveTransferKeys(own_, peer_.public_point(),
                                        envelope::TransferIdsOf(*header));
  }
  // This edge as the recipient of a transfer the peer sealed.
  absl::StatusOr<envelope::TransferKeys> KeysFor(const v1::EnvelopeHeader& header) override {
    return envelope::DeriveTransferKeys(own_, peer_.public_point(),
                                        envelope::TransferIdsOf(header));
  }
  // What the peer edge derives for `header` (to open our output, or to seal
  // for us).
  envelope::TransferKeys PeerKeys(const v1::EnvelopeHeader& header) const {
    return envelope::DeriveTransferKeys(peer_, own_.public_point(), envelope::TransferIdsOf(header))
        .value();
  }

  bool unavailable = false;

 private:
  crypto::Sm2KeyShare own_;
  crypto::Sm2KeyShare peer_;
};

// A transfer the peer edge sealed for this edge, cut into slices of
// `per_slice` chunks of `chunk_size` bytes; `adjust` may change the header.
inline std::vector<v1::Envelope> SealedByPeer(
    FakeKeys& keys, const std::string& id, const std::string& to_enterprise,
    const std::string& payload, size_t chunk_size, int per_slice, uint64_t source_sequence = 1,
    const std::function<void(v1::EnvelopeHeader&)>& adjust = {}) {
  v1::EnvelopeHeader h;
  h.set_transfer_id(id);
  h.set_source_sequence(source_sequence);
  h.set_from_edge("edge-vn");
  h.set_to_edge("edge-cn");
  h.set_from_enterprise("vn-exporter");
  h.set_to_enterprise(to_enterprise);
  h.set_from_country("VN");
  h.set_to_country("CN");
  h.set_category("logistics.track");
  h.set_decision("FAST");
  h.set_policy_version(1);
  h.set_sender_key_id("key-peer");
  h.set_recipient_key_id("key-own");
  h.set_size(payload.size());
  if (adjust) adjust(h);
  v1::Envelope whole =
      envelope::SealEnvelope(keys.PeerKeys(h), h, AsBytes(payload), chunk_size).value();
  std::vector<v1::Envelope> slices;
  for (int i = 0; i < whole.sealed_chunks_size(); i += per_slice) {
    v1::Envelope s;
    s.set_header(whole.header());
    s.set_first_chunk(static_cast<uint32_t>(i));
    for (int j = i; j < std::min(i + per_slice, whole.sealed_chunks_size()); ++j) {
      s.add_sealed_chunks(whole.sealed_chunks(j));
    }
    slices.push_back(s);
  }
  return slices;
}

// An edge of `country` with its store, policy, audit log and Exchange
// service on 127.0.0.1.
class TestEdge {
 public:
  TestEdge(const beibu::testing::TempDir& dir, const std::string& country) {
    self_.id = "edge-" + absl::AsciiStrToLower(country);
    self_.role = pki::Role::kEdge;
    self_.country = country;
    audit_ = audit::AuditLog::Open({.dir = (dir / "audit").string(),
                                    .node_id = self_.id,
                                    .key = crypto::Sm2PrivateKey::Generate().value(),
                                    .node_country = country,
                                    .checkpoint_interval = std::chrono::milliseconds(0)})
                 .value();
    store_ = ExchangeStore::Open((dir / "exchange").string(), audit_.get()).value();
    policy_ = PolicyHolder::CreateWithBaseline().value();
    ExchangeServiceOptions options;
    options.secret_path = (dir / "exchange-secret").string();
    options.on_outbox = [this] { ++outbox_wakeups; };
    service_ =
        std::make_unique<ExchangeService>(options, self_, store_.get(), &keys_, policy_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(16 << 20);
    server_ = builder.BuildAndStart();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 << 20);
    args.SetMaxSendMessageSize(16 << 20);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = v1::Exchange::NewStub(channel_);
  }
  ~TestEdge() {
    service_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  // Call metadata as the tunnel sets it for an authenticated peer.
  static void As(grpc::ClientContext* ctx, const std::string& id, const std::string& country,
                 const std::string& role = "enterprise") {
    ctx->AddMetadata(rpc::kPeerIdKey, id);
    ctx->AddMetadata(rpc::kPeerRoleKey, role);
    ctx->AddMetadata(rpc::kPeerCountryKey, country);
    ctx->AddMetadata(rpc::kPeerSerialKey, "01");
  }

  v1::Exchange::Stub& stub() { return *stub_; }
  ExchangeStore& store() { return *store_; }
  FakeKeys& keys() { return keys_; }
  // The audit log once the store's staged events reached it.
  audit::AuditLog& audit() {
    EXPECT_TRUE(store_->FlushAudit().ok());
    return *audit_;
  }
  const pki::Identity& self() const { return self_; }
  std::atomic<int> outbox_wakeups{0};

 private:
  pki::Identity self_;
  FakeKeys keys_;
  std::unique_ptr<audit::AuditLog> audit_;  // before store_: outlives its journal
  std::unique_ptr<ExchangeStore> store_;
  std::unique_ptr<PolicyHolder> policy_;
  std::unique_ptr<ExchangeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
};

}  // namespace beibu::edge::testing
