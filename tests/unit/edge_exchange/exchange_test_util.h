// Shared fixture pieces for the edge exchange tests: fixed epoch shares for
// both edges, and an Exchange service on a real in-process gRPC server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

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
    service_ = std::make_unique<ExchangeService>(options, self_, store_.get(), &keys_,
                                                 policy_.get(), audit_.get());
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
