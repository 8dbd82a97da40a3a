// ExchangeStore on real RocksDB (reopen, incoming slices, notices), and the
// recipient side of the Exchange service (Inbox, Ack).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "exchange_test_util.h"

namespace beibu::edge::testing {
namespace {

using beibu::testing::TempDir;

std::vector<IncomingPart> Parts(std::vector<v1::Envelope> envs, uint64_t first_hub_seq) {
  std::vector<IncomingPart> parts;
  for (v1::Envelope& e : envs) parts.push_back({first_hub_seq++, std::move(e)});
  return parts;
}

TEST(ExchangeStoreTest, IncomingSlicesDedupeRefuseGapsAndCompleteInOrder) {
  TempDir dir;
  FakeKeys keys;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  std::string payload = "abcdefghijklmnopqrstuvwxyz0123456789";  // 10-byte chunks: 4 chunks
  std::vector<v1::Envelope> a = SealedByPeer(keys, "incoming-trans-a", "cn-co", payload, 10, 1);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_TRUE(store->StoreIncoming(Parts({a[0], a[1]}, 1)).value().empty());
  v1::DeliveryRecord d = store->GetDelivery("incoming-trans-a").value();
  EXPECT_EQ(d.chunks_stored(), 2u);
  EXPECT_EQ(d.bytes_stored(), 20u);
  EXPECT_FALSE(d.complete());
  EXPECT_EQ(store->PulledThrough(), 2u);
  // A replayed slice is skipped; a gap is refused and stores nothing.
  EXPECT_TRUE(store->StoreIncoming(Parts({a[1]}, 3)).ok());
  EXPECT_EQ(store->GetDelivery("incoming-trans-a").value().chunks_stored(), 2u);
  absl::StatusOr<std::vector<std::string>> gap = store->StoreIncoming(Parts({a[3]}, 4));
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->PulledThrough(), 3u);
  // A second transfer completes first: inbox order is completion order.
  std::vector<v1::Envelope> b = SealedByPeer(keys, "incoming-trans-b", "cn-co", "short", 10, 4, 2);
  std::vector<std::string> done = store->StoreIncoming(Parts({b[0], a[2], a[3]}, 4)).value();
  EXPECT_EQ(done, (std::vector<std::string>{"incoming-trans-b", "incoming-trans-a"}));
  d = store->GetDelivery("incoming-trans-a").value();
  EXPECT_TRUE(d.complete());
  EXPECT_EQ(d.bytes_stored(), payload.size());
  std::vector<v1::DeliveryRecord> pending = store->PendingDeliveries("cn-co", 0, 10).value();
  ASSERT_EQ(pending.size(), 2u);
  v1::EnvelopeHeader h0;
  ASSERT_TRUE(h0.ParseFromString(pending[0].envelope_header()));
  EXPECT_EQ(h0.transfer_id(), "incoming-trans-b");
  EXPECT_TRUE(store->PendingDeliveries("other-co", 0, 10).value().empty());
  EXPECT_TRUE(store->WaitForInbox("cn-co", 0, std::chrono::milliseconds(0)));
  EXPECT_FALSE(store->WaitForInbox("other-co", 0, std::chrono::milliseconds(0)));
  // Slices of a complete delivery are duplicates.
  EXPECT_TRUE(store->StoreIncoming(Parts({a[0]}, 7)).value().empty());
  EXPECT_EQ(store->PulledThrough(), 7u);
}

TEST(ExchangeStoreTest, NoticesUpdateTheSourceRecord) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  v1::TransferRecord r;
  r.mutable_header()->set_transfer_id("noticed-transfer-1");
  r.mutable_status()->set_state(v1::IN_FLIGHT);
  r.set_to_edge("edge-cn");
  ASSERT_TRUE(store->PutTransfer(r).ok());
  auto notice = [](v1::TransferNoticeKind kind, int64_t at) {
    v1::Envelope e;
    e.mutable_notice()->set_transfer_id("noticed-transfer-1");
    e.mutable_notice()->set_from_edge("edge-cn");
    e.mutable_notice()->set_kind(kind);
    e.mutable_notice()->mutable_at()->set_seconds(at);
    e.mutable_notice()->set_detail("tag mismatch");
    return e;
  };
  v1::Envelope unknown = notice(v1::NOTICE_DELIVERED, 1);
  unknown.mutable_notice()->set_transfer_id("never-sent-transfer");
  // Another edge than the transfer's destination cannot change its state.
  v1::Envelope forged = notice(v1::NOTICE_ACKNOWLEDGED, 5);
  forged.mutable_notice()->set_from_edge("edge-sg");
  ASSERT_TRUE(store->StoreIncoming(Parts({forged}, 1)).ok());
  EXPECT_EQ(store->GetTransfer("noticed-transfer-1").value().status().state(), v1::IN_FLIGHT);
  ASSERT_TRUE(store->StoreIncoming(Parts({notice(v1::NOTICE_DELIVERED, 10), unknown}, 1)).ok());
  v1::TransferRecord got = store->GetTransfer("noticed-transfer-1").value();
  EXPECT_EQ(got.status().state(), v1::DELIVERED);
  EXPECT_EQ(got.status().steps().at("DELIVERED").seconds(), 10);
  ASSERT_TRUE(store
                  ->StoreIncoming(Parts(
                      {notice(v1::NOTICE_ACKNOWLEDGED, 20), notice(v1::NOTICE_DELIVERED, 30)}, 3))
                  .ok());
  EXPECT_EQ(store->GetTransfer("noticed-transfer-1").value().status().state(), v1::ACKNOWLEDGED);
  ASSERT_TRUE(store->StoreIncoming(Parts({notice(v1::NOTICE_REFUSED, 40)}, 5)).ok());
  got = store->GetTransfer("noticed-transfer-1").value();
  EXPECT_EQ(got.status().state(), v1::DENIED);
  EXPECT_EQ(got.status().detail(), "tag mismatch");
  EXPECT_TRUE(got.status().steps().contains("REFUSED_AT_DESTINATION"));
  EXPECT_EQ(store->PulledThrough(), 5u);
}

TEST(ExchangeStoreTest, ReopenKeepsEverything) {
  TempDir dir;
  FakeKeys keys;
  uint64_t seq = 0;
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    seq = store->AllocateSourceSequence().value();
    v1::TransferRecord r;
    r.mutable_header()->set_transfer_id("reopened-transfer1");
    r.mutable_status()->set_state(v1::IN_FLIGHT);
    v1::Envelope part;
    part.set_header("h");
    part.add_sealed_chunks("c");
    ASSERT_EQ(store->ReservePersons("exp", 2026, 7), 7u);
    ASSERT_TRUE(store->CommitTransfer(r, {part}, 1, true, "exp", 2026, 7).ok());
    v1::TransferNotice n;
    n.set_transfer_id("x");
    ASSERT_TRUE(store->EnqueueNotice(n).ok());
    ASSERT_TRUE(
        store->StoreIncoming(Parts(SealedByPeer(keys, "incoming-reopened", "cn-co", "p", 10, 1), 9))
            .ok());
  }
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->GetTransfer("reopened-transfer1").value().status().state(), v1::IN_FLIGHT);
  EXPECT_EQ(store->PersonsSent("exp", 2026), 7u);
  EXPECT_GT(store->AllocateSourceSequence().value(), seq);
  EXPECT_EQ(store->outbox().items, 2u);
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].relay_sequence(), 1u);
  EXPECT_EQ(out[0].header(), "h");
  EXPECT_TRUE(out[1].has_notice());
  EXPECT_EQ(store->ReadOutbox(1, 10, 1 << 20).value().size(), 1u);
  EXPECT_TRUE(store->WaitForOutbox(1, std::chrono::milliseconds(0)));
  ASSERT_TRUE(store->AckOutbox(2).ok());
  EXPECT_EQ(store->outbox().items, 0u);
  EXPECT_EQ(store->outbox().bytes, 0u);
  EXPECT_TRUE(store->ReadOutbox(0, 10, 1 << 20).value().empty());
  EXPECT_EQ(store->PulledThrough(), 9u);
  EXPECT_EQ(store->PendingDeliveries("cn-co", 0, 10).value().size(), 1u);
  EXPECT_TRUE(store->WaitForInbox("cn-co", 0, std::chrono::milliseconds(0)));
}

TEST(ExchangeStoreTest, StageRawNeedsContiguousOffsets) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  v1::TransferRecord r;
  r.mutable_header()->set_transfer_id("staged-transfer-01");
  r.mutable_status()->set_state(v1::RECEIVING);
  ASSERT_TRUE(store->StageRaw(r, 0, "abc").ok());
  absl::Status gap = store->StageRaw(r, 5, "x");
  EXPECT_EQ(gap.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(gap.message().find("resume from offset 3"), std::string::npos);
  ASSERT_TRUE(store->StageRaw(r, 3, "def").ok());
  std::string all;
  ASSERT_TRUE(store
                  ->ReadRaw("staged-transfer-01",
                            [&](uint64_t, std::string_view d) {
                              all.append(d);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(all, "abcdef");
  EXPECT_EQ(store->ReadRawSegment("staged-transfer-01", 3).value(), "def");
  EXPECT_EQ(store->GetTransfer("staged-transfer-01").value().status().size(), 6u);
}

// Reads Inbox until `n` complete deliveries arrived (each reassembled).
struct Received {
  std::string id;
  std::string data;
  std::string sm3;
};
std::vector<Received> ReadInbox(grpc::ClientReader<v1::Delivery>* reader, size_t n) {
  std::vector<Received> out;
  Received cur;
  v1::Delivery d;
  while (out.size() < n && reader->Read(&d)) {
    EXPECT_EQ(d.offset(), cur.data.size());
    cur.id = d.transfer_id();
    cur.data += d.data();
    if (d.last()) {
      EXPECT_EQ(d.size(), cur.data.size());
      EXPECT_EQ(d.from_country(), "VN");
      cur.sm3 = d.payload_sm3();
      out.push_back(cur);
      cur = Received();
    }
  }
  return out;
}

google::protobuf::Timestamp Seconds(int64_t s) {
  google::protobuf::Timestamp t;
  t.set_seconds(s);
  return t;
}

// A transfer the peer sealed, delivered whole at `at` by the relay link
// (notice_from_edge set), at hub sequence `hub_seq`.
void Deliver(ExchangeStore& store, FakeKeys& keys, const std::string& id, int64_t at,
             uint64_t hub_seq) {
  ASSERT_TRUE(
      store
          .StoreIncoming(
              Parts(SealedByPeer(keys, id, "cn-co", "payload of " + id, 1 << 20, 4), hub_seq),
              "edge-cn", Seconds(at))
          .ok());
}

TEST(ExchangeStoreTest, ACompletedDeliveryHoldsItsDeliveredNotice) {
  TempDir dir;
  FakeKeys keys;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  Deliver(*store, keys, "held-transfer-0001", 100, 1);
  EXPECT_TRUE(store->GetDelivery("held-transfer-0001").value().complete());
  EXPECT_EQ(store->HeldNotices(), 1u);
  EXPECT_EQ(store->OldestHeldNotice()->seconds(), 100);
  // Nothing in the outbox yet.
  EXPECT_EQ(store->outbox().items, 0u);
  EXPECT_EQ(store->LastRelaySequence(), 0u);
  EXPECT_TRUE(store->ReadOutbox(0, 10, 1 << 20).value().empty());
  // A replayed slice of the complete delivery holds nothing more.
  Deliver(*store, keys, "held-transfer-0001", 150, 2);
  EXPECT_EQ(store->HeldNotices(), 1u);
  EXPECT_EQ(store->OldestHeldNotice()->seconds(), 100);
}

TEST(ExchangeStoreTest, ReleaseMovesOnlyNoticesHeldBeforeTheCutOffInOrderAndSurvivesReopen) {
  TempDir dir;
  FakeKeys keys;
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    // Completed out of `at` order, ids out of key order too.
    Deliver(*store, keys, "held-transfer-c003", 30, 1);
    Deliver(*store, keys, "held-transfer-a001", 10, 2);
    Deliver(*store, keys, "held-transfer-b002", 20, 3);
    Deliver(*store, keys, "held-transfer-d004", 40, 4);
    ASSERT_EQ(store->HeldNotices(), 4u);
    EXPECT_EQ(store->ReleaseHeldNotices(Seconds(10)).value(), 0u);  // strictly before
    EXPECT_EQ(store->outbox().items, 0u);
  }
  {
    // Held notices survive a restart.
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    ASSERT_EQ(store->HeldNotices(), 4u);
    EXPECT_EQ(store->OldestHeldNotice()->seconds(), 10);
    EXPECT_EQ(store->ReleaseHeldNotices(Seconds(31)).value(), 3u);
    EXPECT_EQ(store->HeldNotices(), 1u);
    EXPECT_EQ(store->OldestHeldNotice()->seconds(), 40);
    EXPECT_EQ(store->outbox().items, 3u);
    EXPECT_GT(store->outbox().bytes, 0u);
    EXPECT_TRUE(store->WaitForOutbox(0, std::chrono::milliseconds(0)));
    EXPECT_EQ(store->ReleaseHeldNotices(Seconds(31)).value(), 0u);  // already moved
  }
  // Released ones are outbox items after a restart, the rest still held.
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->HeldNotices(), 1u);
  EXPECT_EQ(store->outbox().items, 3u);
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 3u);
  const std::vector<std::string> order = {"held-transfer-a001", "held-transfer-b002",
                                          "held-transfer-c003"};
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].relay_sequence(), i + 1);
    ASSERT_TRUE(out[i].has_notice());
    EXPECT_EQ(out[i].notice().transfer_id(), order[i]);
    EXPECT_EQ(out[i].notice().kind(), v1::NOTICE_DELIVERED);
    EXPECT_EQ(out[i].notice().from_edge(), "edge-cn");
    EXPECT_EQ(out[i].notice().to_edge(), "edge-vn");
    EXPECT_EQ(out[i].notice().at().seconds(), static_cast<int64_t>(10 * (i + 1)));
    EXPECT_FALSE(out[i].notice().has_delivered_at());
  }
  EXPECT_EQ(store->ReleaseHeldNotices(Seconds(1000)).value(), 1u);
  EXPECT_EQ(store->HeldNotices(), 0u);
  EXPECT_FALSE(store->OldestHeldNotice().has_value());
  out = store->ReadOutbox(3, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].relay_sequence(), 4u);
  EXPECT_EQ(out[0].notice().transfer_id(), "held-transfer-d004");
}

TEST(ExchangeStoreTest, AcknowledgingAHeldDeliveryQueuesOneNoticeWithTheDeliveryTime) {
  TempDir dir;
  FakeKeys keys;
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    Deliver(*store, keys, "held-transfer-ack1", 100, 1);
    Deliver(*store, keys, "held-transfer-ack2", 110, 2);
    // ack2's notice was sent before the acknowledgement: no coalescing.
    ASSERT_EQ(store->ReleaseHeldNotices(Seconds(105)).value(), 1u);
    ASSERT_EQ(store->ReleaseHeldNotices(Seconds(111)).value(), 1u);
    Deliver(*store, keys, "held-transfer-ack3", 120, 3);
  }
  // Across a restart too: the held notice is in the store.
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  ASSERT_EQ(store->HeldNotices(), 1u);
  const std::vector<std::string> acked =
      store
          ->Acknowledge("cn-co", {"held-transfer-ack2", "held-transfer-ack3"}, "edge-cn",
                        Seconds(130))
          .value();
  EXPECT_EQ(acked, (std::vector<std::string>{"held-transfer-ack2", "held-transfer-ack3"}));
  EXPECT_EQ(store->HeldNotices(), 0u);
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].notice().kind(), v1::NOTICE_DELIVERED);
  EXPECT_EQ(out[1].notice().kind(), v1::NOTICE_DELIVERED);
  EXPECT_EQ(out[1].notice().transfer_id(), "held-transfer-ack2");
  // ack2: its DELIVERED was sent, so a plain ACKNOWLEDGED.
  EXPECT_EQ(out[2].notice().transfer_id(), "held-transfer-ack2");
  EXPECT_EQ(out[2].notice().kind(), v1::NOTICE_ACKNOWLEDGED);
  EXPECT_FALSE(out[2].notice().has_delivered_at());
  // ack3: one ACKNOWLEDGED standing for both.
  EXPECT_EQ(out[3].notice().transfer_id(), "held-transfer-ack3");
  EXPECT_EQ(out[3].notice().kind(), v1::NOTICE_ACKNOWLEDGED);
  EXPECT_EQ(out[3].notice().at().seconds(), 130);
  ASSERT_TRUE(out[3].notice().has_delivered_at());
  EXPECT_EQ(out[3].notice().delivered_at().seconds(), 120);
  EXPECT_EQ(out[3].notice().to_edge(), "edge-vn");
  // The held key is gone, also after a restart: nothing left to release.
  EXPECT_EQ(store->ReleaseHeldNotices(Seconds(1000)).value(), 0u);
  store.reset();
  store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->HeldNotices(), 0u);
  EXPECT_EQ(store->ReleaseHeldNotices(Seconds(1000)).value(), 0u);
  EXPECT_EQ(store->outbox().items, 4u);
}

TEST(ExchangeStoreTest, AnAcknowledgedNoticeWithDeliveredAtSetsBothSteps) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  for (const char* id : {"coalesced-transfer-1", "coalesced-transfer-2"}) {
    v1::TransferRecord r;
    r.mutable_header()->set_transfer_id(id);
    r.mutable_status()->set_state(v1::IN_FLIGHT);
    r.set_to_edge("edge-cn");
    ASSERT_TRUE(store->PutTransfer(r).ok());
  }
  auto notice = [](const std::string& id, v1::TransferNoticeKind kind, int64_t at) {
    v1::Envelope e;
    e.mutable_notice()->set_transfer_id(id);
    e.mutable_notice()->set_from_edge("edge-cn");
    e.mutable_notice()->set_kind(kind);
    e.mutable_notice()->mutable_at()->set_seconds(at);
    return e;
  };
  v1::Envelope both = notice("coalesced-transfer-1", v1::NOTICE_ACKNOWLEDGED, 20);
  both.mutable_notice()->mutable_delivered_at()->set_seconds(12);
  // transfer-2 got its DELIVERED notice first: that step stays.
  v1::Envelope late = notice("coalesced-transfer-2", v1::NOTICE_ACKNOWLEDGED, 40);
  late.mutable_notice()->mutable_delivered_at()->set_seconds(31);
  ASSERT_TRUE(store
                  ->StoreIncoming(Parts(
                      {both, notice("coalesced-transfer-2", v1::NOTICE_DELIVERED, 30), late}, 1))
                  .ok());
  v1::TransferRecord got = store->GetTransfer("coalesced-transfer-1").value();
  EXPECT_EQ(got.status().state(), v1::ACKNOWLEDGED);
  EXPECT_EQ(got.status().steps().at("DELIVERED").seconds(), 12);
  EXPECT_EQ(got.status().steps().at("ACKNOWLEDGED").seconds(), 20);
  got = store->GetTransfer("coalesced-transfer-2").value();
  EXPECT_EQ(got.status().state(), v1::ACKNOWLEDGED);
  EXPECT_EQ(got.status().steps().at("DELIVERED").seconds(), 30);
  EXPECT_EQ(got.status().steps().at("ACKNOWLEDGED").seconds(), 40);
}

std::string HexSm3(const std::string& s) {
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(s));
  return HexEncode(ByteView(d.data(), d.size()));
}

TEST(ExchangeInboxTest, DeliversInOrderAndAckQueuesANotice) {
  TempDir dir;
  TestEdge edge(dir, "CN");
  const std::string big(size_t{2} << 20 | 77, 'z');  // three 1 MiB chunks
  ASSERT_TRUE(edge.store()
                  .StoreIncoming(Parts(SealedByPeer(edge.keys(), "inbox-transfer-001", "cn-co",
                                                    "first payload", 1 << 20, 4),
                                       1))
                  .ok());
  ASSERT_TRUE(
      edge.store()
          .StoreIncoming(Parts(
              SealedByPeer(edge.keys(), "inbox-transfer-002", "cn-co", big, 1 << 20, 2, 2), 2))
          .ok());
  ASSERT_TRUE(edge.store()
                  .StoreIncoming(Parts(SealedByPeer(edge.keys(), "inbox-transfer-003", "cn-other",
                                                    "not yours", 1 << 20, 4, 3),
                                       5))
                  .ok());
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "cn-co", "CN");
    v1::InboxRequest req;
    auto reader = edge.stub().Inbox(&ctx, req);
    std::vector<Received> got = ReadInbox(reader.get(), 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].id, "inbox-transfer-001");
    EXPECT_EQ(got[0].data, "first payload");
    EXPECT_EQ(got[0].sm3, HexSm3("first payload"));
    EXPECT_EQ(got[1].id, "inbox-transfer-002");
    EXPECT_EQ(got[1].data, big);
    EXPECT_EQ(got[1].sm3, HexSm3(big));
    ctx.TryCancel();
  }
  // Another enterprise can neither acknowledge nor read them.
  v1::AckRequest ack;
  ack.add_transfer_ids("inbox-transfer-001");
  ack.add_transfer_ids("inbox-transfer-002");
  v1::AckResponse resp;
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "cn-other", "CN");
    ASSERT_TRUE(edge.stub().Ack(&ctx, ack, &resp).ok());
    EXPECT_EQ(resp.acknowledged(), 0u);
  }
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "cn-other", "CN");
    auto reader = edge.stub().Inbox(&ctx, v1::InboxRequest());
    std::vector<Received> got = ReadInbox(reader.get(), 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, "inbox-transfer-003");
    ctx.TryCancel();
  }
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "cn-co", "CN");
    ASSERT_TRUE(edge.stub().Ack(&ctx, ack, &resp).ok());
    EXPECT_EQ(resp.acknowledged(), 2u);
  }
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "cn-co", "CN");
    ASSERT_TRUE(edge.stub().Ack(&ctx, ack, &resp).ok());
    EXPECT_EQ(resp.acknowledged(), 0u);  // already acknowledged
  }
  EXPECT_TRUE(edge.store().PendingDeliveries("cn-co", 0, 10).value().empty());
  EXPECT_TRUE(edge.store().GetDelivery("inbox-transfer-001").value().acknowledged());
  EXPECT_TRUE(absl::IsNotFound(edge.store().ReadChunk("inbox-transfer-002", 0).status()));
  std::vector<v1::Envelope> out = edge.store().ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].notice().kind(), v1::NOTICE_ACKNOWLEDGED);
  EXPECT_EQ(out[0].notice().to_edge(), "edge-vn");
  EXPECT_EQ(out[0].notice().from_edge(), "edge-cn");
  v1::AuditEvent e =
      audit::DecodeAuditEvent(edge.audit().store().Entry(edge.audit().store().size() - 1).value())
          .value();
  EXPECT_EQ(e.operation(), "transfer.acknowledged");
}

TEST(ExchangeInboxTest, FlowControlWaitsForAcksAndNewDeliveriesArriveLive) {
  TempDir dir;
  TestEdge edge(dir, "CN");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(edge.store()
                    .StoreIncoming(
                        Parts(SealedByPeer(edge.keys(), absl::StrCat("flow-transfer-00", i),
                                           "cn-co", absl::StrCat("payload ", i), 1 << 20, 4, i + 1),
                              i + 1))
                    .ok());
  }
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, "cn-co", "CN");
  v1::InboxRequest req;
  req.set_max_unacked(2);
  auto reader = edge.stub().Inbox(&ctx, req);
  std::vector<Received> got = ReadInbox(reader.get(), 2);
  ASSERT_EQ(got.size(), 2u);
  // The third arrives only after an ack frees a slot.
  v1::AckRequest ack;
  ack.add_transfer_ids(got[0].id);
  v1::AckResponse resp;
  grpc::ClientContext actx;
  TestEdge::As(&actx, "cn-co", "CN");
  ASSERT_TRUE(edge.stub().Ack(&actx, ack, &resp).ok());
  got = ReadInbox(reader.get(), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "flow-transfer-002");
  // Ack the rest; a delivery stored now reaches the open stream.
  v1::AckRequest rest;
  rest.add_transfer_ids("flow-transfer-001");
  rest.add_transfer_ids("flow-transfer-002");
  grpc::ClientContext rctx;
  TestEdge::As(&rctx, "cn-co", "CN");
  ASSERT_TRUE(edge.stub().Ack(&rctx, rest, &resp).ok());
  ASSERT_TRUE(
      edge.store()
          .StoreIncoming(Parts(
              SealedByPeer(edge.keys(), "flow-transfer-live", "cn-co", "live", 1 << 20, 4, 9), 9))
          .ok());
  got = ReadInbox(reader.get(), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "flow-transfer-live");
  EXPECT_EQ(got[0].data, "live");
  ctx.TryCancel();
}

}  // namespace
}  // namespace beibu::edge::testing

namespace beibu::edge::testing {
namespace {

ExchangeStore::TransferCommit Decided(const std::string& id, const std::string& digest,
                                      uint64_t persons) {
  ExchangeStore::TransferCommit c;
  c.record.mutable_header()->set_transfer_id(id);
  c.record.set_from_enterprise("exp");
  c.record.set_request_digest(digest);
  c.record.mutable_status()->set_transfer_id(id);
  c.record.mutable_status()->set_state(v1::IN_FLIGHT);
  v1::Envelope part;
  part.set_header("h-" + id);
  part.add_sealed_chunks("c");
  c.inline_parts.push_back(part);
  c.parts = 1;
  c.to_outbox = true;
  c.exporter = "exp";
  c.year = 2026;
  c.persons = persons;
  return c;
}

TEST(ExchangeStoreTest, GroupCommitWritesInOrderAndSkipsDuplicates) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  store->ReservePersons("exp", 2026, 2);
  std::vector<ExchangeStore::TransferCommit> first = {Decided("stored-transfer", "d0", 2)};
  ASSERT_TRUE(store->CommitTransfers(first).ok());
  // A batch: new, duplicate of a stored id, new, duplicate of an earlier commit.
  for (uint64_t p : {3, 4, 5, 6}) store->ReservePersons("exp", 2026, p);
  std::vector<ExchangeStore::TransferCommit> batch = {
      Decided("first-transfer", "d1", 3), Decided("stored-transfer", "d0", 4),
      Decided("second-transfer", "d2", 5), Decided("first-transfer", "d1", 6)};
  auto dups = store->CommitTransfers(batch).value();
  ASSERT_EQ(dups.size(), 4u);
  EXPECT_FALSE(dups[0].has_value());
  ASSERT_TRUE(dups[1].has_value());
  EXPECT_EQ(dups[1]->request_digest(), "d0");
  EXPECT_FALSE(dups[2].has_value());
  ASSERT_TRUE(dups[3].has_value());
  EXPECT_EQ(dups[3]->header().transfer_id(), "first-transfer");
  // Only the written ones count; the duplicates' reservations are released.
  EXPECT_EQ(store->PersonsSent("exp", 2026), 2u + 3u + 5u);
  // Relay sequences follow the batch order.
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].header(), "h-stored-transfer");
  EXPECT_EQ(out[1].header(), "h-first-transfer");
  EXPECT_EQ(out[2].header(), "h-second-transfer");
  EXPECT_EQ(out[2].relay_sequence(), 3u);
}

TEST(ExchangeStoreTest, OutboxReadsAfterPartialAcksAndReopen) {
  TempDir dir;
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    for (int i = 0; i < 5; ++i) {
      std::vector<ExchangeStore::TransferCommit> one = {
          Decided(absl::StrCat("outbox-transfer", i), "d", 0)};
      ASSERT_TRUE(store->CommitTransfers(one).ok());
    }
    ASSERT_TRUE(store->AckOutbox(2).ok());
    EXPECT_EQ(store->outbox().items, 3u);
    std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].relay_sequence(), 3u);
  }
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 2, 1 << 20).value();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].relay_sequence(), 3u);
  EXPECT_EQ(out[1].relay_sequence(), 4u);
  EXPECT_EQ(store->ReadOutbox(4, 10, 1 << 20).value().size(), 1u);
  ASSERT_TRUE(store->AckOutbox(5).ok());
  EXPECT_TRUE(store->ReadOutbox(0, 10, 1 << 20).value().empty());
  EXPECT_EQ(store->outbox().items, 0u);
}

// A store restored from a backup: the hub holds relay sequences up to 50
// from this edge, so the outbox moves above them, in order, in one write.
TEST(ExchangeStoreTest, RenumberOutboxAboveKeepsOrderMovesTheCounterAndSurvivesReopen) {
  TempDir dir;
  std::vector<std::string> before;
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    EXPECT_EQ(store->LastRelaySequence(), 0u);
    EXPECT_EQ(store->FirstOutboxSequence(), 0u);
    for (int i = 0; i < 4; ++i) {
      std::vector<ExchangeStore::TransferCommit> one = {
          Decided(absl::StrCat("renumber-transfer", i), "d", 0)};
      ASSERT_TRUE(store->CommitTransfers(one).ok());
    }
    v1::TransferNotice n;
    n.set_transfer_id("renumber-notice");
    ASSERT_TRUE(store->EnqueueNotice(n).ok());
    ASSERT_TRUE(store->AckOutbox(1).ok());  // the outbox is now 2..5
    EXPECT_EQ(store->LastRelaySequence(), 5u);
    EXPECT_EQ(store->FirstOutboxSequence(), 2u);
    const OutboxStats stats = store->outbox();
    const std::vector<v1::Envelope> queued = store->ReadOutbox(0, 10, 1 << 20).value();
    for (const v1::Envelope& e : queued) {
      v1::Envelope copy = e;
      copy.clear_relay_sequence();
      before.push_back(copy.SerializeAsString());
    }
    ASSERT_EQ(before.size(), 4u);

    EXPECT_EQ(store->RenumberOutboxAbove(50).value(), 4u);
    EXPECT_EQ(store->LastRelaySequence(), 54u);
    EXPECT_EQ(store->FirstOutboxSequence(), 51u);
    EXPECT_EQ(store->outbox().items, stats.items);
    EXPECT_EQ(store->outbox().bytes, stats.bytes);
    EXPECT_TRUE(store->WaitForOutbox(53, std::chrono::milliseconds(0)));
    EXPECT_FALSE(store->WaitForOutbox(54, std::chrono::milliseconds(0)));
    // A pusher that had read up to an old sequence finds the items again.
    EXPECT_EQ(store->ReadOutbox(5, 10, 1 << 20).value().size(), 4u);
    // The next notice follows the renumbered items.
    ASSERT_TRUE(store->EnqueueNotice(n).ok());
    EXPECT_EQ(store->LastRelaySequence(), 55u);
  }
  // One synced write: all of it is there after a reopen.
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->LastRelaySequence(), 55u);
  EXPECT_EQ(store->FirstOutboxSequence(), 51u);
  EXPECT_EQ(store->outbox().items, 5u);
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 5u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].relay_sequence(), 51u + i);
    if (i < before.size()) {
      v1::Envelope copy = out[i];
      copy.clear_relay_sequence();
      EXPECT_EQ(copy.SerializeAsString(), before[i]) << "item " << i;
    }
  }
  EXPECT_EQ(out[0].header(), "h-renumber-transfer1");
  EXPECT_EQ(out[3].notice().transfer_id(), "renumber-notice");
  EXPECT_TRUE(out[4].has_notice());
  // A commit after the reopen follows too; acknowledging by the new
  // sequences drains the outbox, parts included.
  std::vector<ExchangeStore::TransferCommit> one = {Decided("renumber-after-reopen", "d", 0)};
  ASSERT_TRUE(store->CommitTransfers(one).ok());
  EXPECT_EQ(store->LastRelaySequence(), 56u);
  ASSERT_TRUE(store->AckOutbox(56).ok());
  EXPECT_EQ(store->outbox().items, 0u);
  EXPECT_EQ(store->outbox().bytes, 0u);
  EXPECT_EQ(store->FirstOutboxSequence(), 0u);
  EXPECT_TRUE(store->ReadOutbox(0, 10, 1 << 20).value().empty());
}

// A lost store: nothing to renumber, but new items must still come after
// what the hub holds.
TEST(ExchangeStoreTest, RenumberAnEmptyOutboxStillMovesTheCounter) {
  TempDir dir;
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    EXPECT_EQ(store->RenumberOutboxAbove(7).value(), 0u);
    EXPECT_EQ(store->LastRelaySequence(), 7u);
    EXPECT_EQ(store->FirstOutboxSequence(), 0u);
    EXPECT_FALSE(store->WaitForOutbox(7, std::chrono::milliseconds(0)));
  }
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->LastRelaySequence(), 7u);
  v1::TransferNotice n;
  n.set_transfer_id("after-lost-store");
  ASSERT_TRUE(store->EnqueueNotices({n, n}).ok());
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].relay_sequence(), 8u);
  EXPECT_EQ(out[1].relay_sequence(), 9u);
  EXPECT_EQ(store->FirstOutboxSequence(), 8u);
  // A floor below what was assigned never reuses a sequence.
  EXPECT_EQ(store->RenumberOutboxAbove(3).value(), 2u);
  out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].relay_sequence(), 10u);
  EXPECT_EQ(out[1].relay_sequence(), 11u);
  EXPECT_EQ(store->LastRelaySequence(), 11u);
}

// Commits racing a renumbering never share a sequence nor lose an item.
TEST(ExchangeStoreTest, RenumberingWhileCommittingLosesNothing) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  constexpr int kCommits = 40;
  std::thread writer([&] {
    for (int i = 0; i < kCommits; ++i) {
      std::vector<ExchangeStore::TransferCommit> one = {
          Decided(absl::StrCat("racing-transfer-", i), "d", 0)};
      EXPECT_TRUE(store->CommitTransfers(one).ok());
    }
  });
  for (uint64_t floor : {100, 200, 300}) EXPECT_TRUE(store->RenumberOutboxAbove(floor).ok());
  writer.join();
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 1000, 1 << 20).value();
  ASSERT_EQ(out.size(), static_cast<size_t>(kCommits));
  EXPECT_EQ(store->outbox().items, static_cast<uint64_t>(kCommits));
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].header(), absl::StrCat("h-racing-transfer-", i));  // commit order kept
    if (i > 0) {
      EXPECT_EQ(out[i].relay_sequence(), out[i - 1].relay_sequence() + 1);
    }
  }
  EXPECT_GT(out[0].relay_sequence(), 300u);
  EXPECT_EQ(out.back().relay_sequence(), store->LastRelaySequence());
}

}  // namespace
}  // namespace beibu::edge::testing
