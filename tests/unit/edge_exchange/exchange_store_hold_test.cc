// ExchangeStore: outbox items held by a data circuit breaker (h/ keys,
// docs/gateway.md §4) on real RocksDB: held parts survive acknowledgements,
// go back in their original order with new relay sequences, selectively,
// and across a reopen; notices are never held; nothing unreadable is lost.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "exchange_test_util.h"

namespace beibu::edge::testing {
namespace {

using beibu::testing::TempDir;

// A committed transfer of `enterprise` with `parts` parts, each an envelope
// whose header parses (the release predicate reads it).
ExchangeStore::TransferCommit Transfer(const std::string& id, const std::string& enterprise,
                                       uint32_t parts = 1) {
  v1::EnvelopeHeader h;
  h.set_transfer_id(id);
  h.set_from_enterprise(enterprise);
  h.set_to_country("CN");
  h.set_chunks(parts);
  ExchangeStore::TransferCommit c;
  c.record.mutable_header()->set_transfer_id(id);
  c.record.set_from_enterprise(enterprise);
  c.record.mutable_status()->set_transfer_id(id);
  c.record.mutable_status()->set_state(v1::IN_FLIGHT);
  for (uint32_t p = 0; p < parts; ++p) {
    v1::Envelope part;
    part.set_header(h.SerializeAsString());
    part.set_first_chunk(p);
    part.add_sealed_chunks(absl::StrCat("chunk-", p));
    c.inline_parts.push_back(part);
  }
  c.parts = parts;
  c.to_outbox = true;
  return c;
}

void Commit(ExchangeStore& store, ExchangeStore::TransferCommit c) {
  std::vector<ExchangeStore::TransferCommit> one = {std::move(c)};
  ASSERT_TRUE(store.CommitTransfers(one).ok());
}

// (relay_sequence, transfer id or "notice:<id>", first_chunk) of what the
// pusher would read now.
struct Item {
  uint64_t seq;
  std::string what;
  uint32_t first_chunk;
  bool operator==(const Item&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Item& i) {
  return os << "{" << i.seq << ", " << i.what << ", " << i.first_chunk << "}";
}
std::vector<Item> Outbox(const ExchangeStore& store) {
  std::vector<Item> out;
  const std::vector<v1::Envelope> read = store.ReadOutbox(0, 1000, 1 << 20).value();
  for (const v1::Envelope& e : read) {
    if (e.has_notice()) {
      out.push_back({e.relay_sequence(), "notice:" + e.notice().transfer_id(), 0});
      continue;
    }
    v1::EnvelopeHeader h;
    EXPECT_TRUE(h.ParseFromString(e.header()));
    out.push_back({e.relay_sequence(), h.transfer_id(), e.first_chunk()});
  }
  return out;
}

bool Always(const v1::EnvelopeHeader&) { return true; }

TEST(ExchangeStoreHoldTest, HeldPartsSurviveAnAckOfTheirOldSequencesAndNoticesAreNeverHeld) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  Commit(*store, Transfer("hold-transfer-a-001", "vn-a"));     // 1
  Commit(*store, Transfer("hold-transfer-b-001", "vn-b", 2));  // 2, 3
  v1::TransferNotice n;
  n.set_transfer_id("hold-notice-0000001");
  ASSERT_TRUE(store->EnqueueNotice(n).ok());                // 4
  Commit(*store, Transfer("hold-transfer-c-001", "vn-a"));  // 5
  const OutboxStats before = store->outbox();
  ASSERT_EQ(before.items, 5u);

  // The notice (4) and a sequence never assigned (99) are skipped.
  EXPECT_EQ(store->HoldOutbox({2, 3, 4, 99}).value(), 2u);
  EXPECT_EQ(store->outbox().items, 3u);
  EXPECT_EQ(store->outbox().held, 2u);
  EXPECT_LT(store->outbox().bytes, before.bytes);
  EXPECT_TRUE(store->HasHeldParts("hold-transfer-b-001"));
  EXPECT_FALSE(store->HasHeldParts("hold-transfer-a-001"));
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{1, "hold-transfer-a-001", 0},
                                               {4, "notice:hold-notice-0000001", 0},
                                               {5, "hold-transfer-c-001", 0}}));
  // Held already, or not in the outbox any more: nothing to do.
  EXPECT_EQ(store->HoldOutbox({2, 4}).value(), 0u);

  // The hub acknowledges through 5, which covers the held items' old
  // sequences: their parts are kept.
  ASSERT_TRUE(store->AckOutbox(5).ok());
  EXPECT_EQ(store->outbox().items, 0u);
  EXPECT_EQ(store->outbox().bytes, 0u);
  EXPECT_EQ(store->outbox().held, 2u);
  EXPECT_EQ(store->FirstOutboxSequence(), 0u);
  EXPECT_EQ(store->HubAckedThrough(), 5u);
  EXPECT_EQ(store->HoldOutbox({1, 5}).value(), 0u);  // acknowledged

  EXPECT_EQ(store->ReleaseHeld(Always).value(), 2u);
  EXPECT_EQ(store->LastRelaySequence(), 7u);
  EXPECT_EQ(store->outbox().held, 0u);
  EXPECT_EQ(store->outbox().items, 2u);
  EXPECT_FALSE(store->HasHeldParts("hold-transfer-b-001"));
  std::vector<v1::Envelope> out = store->ReadOutbox(0, 10, 1 << 20).value();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].relay_sequence(), 6u);
  EXPECT_EQ(out[0].sealed_chunks(0), "chunk-0");
  EXPECT_EQ(out[1].relay_sequence(), 7u);
  EXPECT_EQ(out[1].sealed_chunks(0), "chunk-1");
  ASSERT_TRUE(store->AckOutbox(7).ok());
  EXPECT_EQ(store->outbox().items, 0u);
  EXPECT_EQ(store->outbox().bytes, 0u);
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 0u);
}

TEST(ExchangeStoreHoldTest, ReleaseIsSelectiveAndKeepsTheOriginalOrder) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  Commit(*store, Transfer("select-a-000000001", "vn-a"));  // 1
  Commit(*store, Transfer("select-b-000000001", "vn-b"));  // 2
  Commit(*store, Transfer("select-a-000000002", "vn-a"));  // 3
  Commit(*store, Transfer("select-b-000000002", "vn-b"));  // 4
  Commit(*store, Transfer("select-c-000000001", "vn-c"));  // 5
  EXPECT_EQ(store->HoldOutbox({4, 3, 2, 1}).value(), 4u);  // the order given does not matter
  EXPECT_FALSE(store->WaitForOutbox(5, std::chrono::milliseconds(0)));

  auto enterprise = [](const std::string& e) {
    return [e](const v1::EnvelopeHeader& h) { return h.from_enterprise() == e; };
  };
  EXPECT_EQ(store->ReleaseHeld(enterprise("vn-b")).value(), 2u);
  EXPECT_TRUE(store->WaitForOutbox(5, std::chrono::milliseconds(0)));
  EXPECT_EQ(store->outbox().held, 2u);
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{5, "select-c-000000001", 0},
                                               {6, "select-b-000000001", 0},
                                               {7, "select-b-000000002", 0}}));
  EXPECT_EQ(store->ReleaseHeld(enterprise("vn-x")).value(), 0u);
  EXPECT_EQ(store->ReleaseHeld(enterprise("vn-a")).value(), 2u);
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{5, "select-c-000000001", 0},
                                               {6, "select-b-000000001", 0},
                                               {7, "select-b-000000002", 0},
                                               {8, "select-a-000000001", 0},
                                               {9, "select-a-000000002", 0}}));
  EXPECT_EQ(store->LastRelaySequence(), 9u);
  EXPECT_EQ(store->outbox().items, 5u);
  EXPECT_EQ(store->outbox().held, 0u);
}

// Each move is one synced write: after a reopen the held items, their
// count and their parts are there, and a release made before the reopen is
// there whole (new sequences, counter, no h/ left).
TEST(ExchangeStoreHoldTest, HeldItemsAndReleasesSurviveAReopen) {
  TempDir dir;
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    Commit(*store, Transfer("reopen-held-a-00001", "vn-a", 2));  // 1, 2
    Commit(*store, Transfer("reopen-held-b-00001", "vn-b"));     // 3
    Commit(*store, Transfer("reopen-held-a-00002", "vn-a"));     // 4
    ASSERT_EQ(store->HoldOutbox({1, 2, 4}).value(), 3u);
    ASSERT_TRUE(store->AckOutbox(3).ok());
  }
  {
    auto store = ExchangeStore::Open((dir / "db").string()).value();
    EXPECT_EQ(store->outbox().held, 3u);
    EXPECT_EQ(store->outbox().items, 0u);
    EXPECT_EQ(store->HubAckedThrough(), 3u);
    EXPECT_TRUE(store->HasHeldParts("reopen-held-a-00001"));
    EXPECT_TRUE(store->HasHeldParts("reopen-held-a-00002"));
    EXPECT_TRUE(Outbox(*store).empty());
    EXPECT_EQ(store->ReleaseHeld(Always).value(), 3u);
  }
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->outbox().held, 0u);
  EXPECT_EQ(store->outbox().items, 3u);
  EXPECT_EQ(store->LastRelaySequence(), 7u);
  EXPECT_FALSE(store->HasHeldParts("reopen-held-a-00001"));
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{5, "reopen-held-a-00001", 0},
                                               {6, "reopen-held-a-00001", 1},
                                               {7, "reopen-held-a-00002", 0}}));
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 0u);
}

// A held item whose part is gone is never dropped: it stays held, and so do
// the later parts of its transfer (released, they would arrive after a gap).
TEST(ExchangeStoreHoldTest, AnItemWhosePartIsMissingStaysHeldWithTheRestOfItsTransfer) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  ExchangeStore::TransferCommit c = Transfer("missing-part-00001", "vn-a", 3);
  v1::Envelope last = c.inline_parts[2];
  c.inline_parts.resize(1);  // part 0 inline, part 1 never stored, part 2 staged
  ASSERT_TRUE(store->StagePart("missing-part-00001", 2, last).ok());
  Commit(*store, std::move(c));                             // 1, 2, 3
  Commit(*store, Transfer("missing-other-00001", "vn-a"));  // 4
  ASSERT_EQ(store->HoldOutbox({1, 2, 3, 4}).value(), 4u);

  EXPECT_EQ(store->ReleaseHeld(Always).value(), 2u);  // part 0 and the other transfer
  EXPECT_EQ(store->outbox().held, 2u);
  EXPECT_TRUE(store->HasHeldParts("missing-part-00001"));
  EXPECT_EQ(Outbox(*store),
            (std::vector<Item>{{5, "missing-part-00001", 0}, {6, "missing-other-00001", 0}}));
  // Still held after another try and a reopen.
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 0u);
  store.reset();
  store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->outbox().held, 2u);
}

}  // namespace
}  // namespace beibu::edge::testing
