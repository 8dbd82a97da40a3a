// ExchangeStore: outbox items held by a data circuit breaker (h/ keys,
// docs/gateway.md §4) on real RocksDB: held parts survive acknowledgements,
// go back in their original order with new relay sequences, selectively,
// and across a reopen; notices are never held; nothing unreadable is lost.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/storage/db.h"
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

// A held item whose part is gone is never dropped: it stays held, and so
// does every other part of its transfer (released, the parts before it
// would be held again behind it and arrive after the rest, refused after a
// gap). Other transfers go. Once the part is back, the transfer goes whole
// and in part order.
TEST(ExchangeStoreHoldTest, ATransferWithAMissingPartStaysHeldWholeUntilThePartIsBack) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  ExchangeStore::TransferCommit c = Transfer("missing-part-00001", "vn-a", 3);
  const v1::Envelope middle = c.inline_parts[1];
  const v1::Envelope last = c.inline_parts[2];
  c.inline_parts.resize(1);  // part 0 inline, part 1 never stored, part 2 staged
  ASSERT_TRUE(store->StagePart("missing-part-00001", 2, last).ok());
  Commit(*store, std::move(c));                             // 1, 2, 3
  Commit(*store, Transfer("missing-other-00001", "vn-a"));  // 4
  ASSERT_EQ(store->HoldOutbox({1, 2, 3, 4}).value(), 4u);

  EXPECT_EQ(store->ReleaseHeld(Always).value(), 1u);  // only the other transfer
  EXPECT_EQ(store->outbox().held, 3u);
  EXPECT_TRUE(store->HasHeldParts("missing-part-00001"));
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{5, "missing-other-00001", 0}}));
  // Still held after another try and a reopen.
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 0u);
  store.reset();
  store = ExchangeStore::Open((dir / "db").string()).value();
  EXPECT_EQ(store->outbox().held, 3u);

  // The operator restores the part.
  ASSERT_TRUE(store->StagePart("missing-part-00001", 1, middle).ok());
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 3u);
  EXPECT_EQ(store->outbox().held, 0u);
  EXPECT_FALSE(store->HasHeldParts("missing-part-00001"));
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{5, "missing-other-00001", 0},
                                               {6, "missing-part-00001", 0},
                                               {7, "missing-part-00001", 1},
                                               {8, "missing-part-00001", 2}}));
}

// What an older release left: it sent a transfer's parts before an
// unreadable one, and the pusher held them again at higher sequences than
// the parts after them. The transfer stays held while a part is
// unreadable, and then goes in part order, not in held sequence order.
TEST(ExchangeStoreHoldTest, PartsHeldAgainAtHigherSequencesAreReleasedInPartOrder) {
  TempDir dir;
  const std::string path = (dir / "db").string();
  const std::string id = "reheld-transfer-001";
  const v1::Envelope last = Transfer(id, "vn-a", 3).inline_parts[2];
  {
    auto store = ExchangeStore::Open(path).value();
    Commit(*store, Transfer(id, "vn-a", 3));                  // 1..3
    Commit(*store, Transfer("reheld-other-000001", "vn-b"));  // 4
    Commit(*store, Transfer("reheld-sent-0000001", "vn-b"));  // 5
    ASSERT_EQ(store->HoldOutbox({1, 4}).value(), 4u);         // 1..3 and 4
    ASSERT_TRUE(store->AckOutbox(5).ok());
  }
  {
    // Part 0 released (sequence 5) and held again; part 2 not readable.
    auto db = storage::Db::Open(path).value();
    const std::string value = db->Get("h/00000000000000000001").value();
    storage::WriteBatch batch;
    batch.Delete("h/00000000000000000001");
    batch.Put("h/00000000000000000005", value);
    batch.Delete(absl::StrCat("p/", id, "/0000000002"));
    ASSERT_TRUE(db->Write(batch).ok());
  }
  auto store = ExchangeStore::Open(path).value();
  ASSERT_EQ(store->outbox().held, 4u);
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 1u);  // only the other transfer
  EXPECT_EQ(store->outbox().held, 3u);
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{6, "reheld-other-000001", 0}}));

  ASSERT_TRUE(store->StagePart(id, 2, last).ok());
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 3u);
  EXPECT_EQ(store->outbox().held, 0u);
  EXPECT_FALSE(store->HasHeldParts(id));
  EXPECT_EQ(Outbox(*store),
            (std::vector<Item>{{6, "reheld-other-000001", 0}, {7, id, 0}, {8, id, 1}, {9, id, 2}}));
  EXPECT_EQ(store->LastRelaySequence(), 9u);
}

// A held transfer whose parts do not form a run (one is neither held nor
// queued between them) stays held whole: the destination would refuse the
// parts after the gap.
TEST(ExchangeStoreHoldTest, HeldPartsWithAGapBetweenThemStayHeld) {
  TempDir dir;
  const std::string path = (dir / "db").string();
  {
    auto store = ExchangeStore::Open(path).value();
    Commit(*store, Transfer("gap-transfer-00001", "vn-a", 3));  // 1..3
    ASSERT_EQ(store->HoldOutbox({1}).value(), 3u);
  }
  {
    auto db = storage::Db::Open(path).value();
    ASSERT_TRUE(db->Delete("h/00000000000000000002").ok());  // part 1 gone
  }
  auto store = ExchangeStore::Open(path).value();
  ASSERT_EQ(store->outbox().held, 2u);
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 0u);
  EXPECT_EQ(store->outbox().held, 2u);
  EXPECT_TRUE(Outbox(*store).empty());
}

// Holding one part of a transfer holds its later parts still queued in the
// same write: the pusher, which reads at most a batch at a time, can never
// read a later part once an earlier one is held (released, the earlier one
// gets a sequence above them, and the destination would refuse the later
// ones after a gap).
TEST(ExchangeStoreHoldTest, HoldingAPartHoldsTheRestOfItsTransferInTheSameWrite) {
  TempDir dir;
  auto store = ExchangeStore::Open((dir / "db").string()).value();
  Commit(*store, Transfer("whole-transfer-0001", "vn-a", 5));  // 1..5
  Commit(*store, Transfer("whole-other-000001", "vn-a"));      // 6
  EXPECT_EQ(store->HoldOutbox({2}).value(), 4u);               // 2..5
  EXPECT_EQ(store->outbox().held, 4u);
  EXPECT_EQ(store->outbox().items, 2u);
  EXPECT_EQ(Outbox(*store),
            (std::vector<Item>{{1, "whole-transfer-0001", 0}, {6, "whole-other-000001", 0}}));
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 4u);
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{1, "whole-transfer-0001", 0},
                                               {6, "whole-other-000001", 0},
                                               {7, "whole-transfer-0001", 1},
                                               {8, "whole-transfer-0001", 2},
                                               {9, "whole-transfer-0001", 3},
                                               {10, "whole-transfer-0001", 4}}));
  EXPECT_EQ(store->outbox().items, 6u);
}

// A store whose transfer is only partly held (written before HoldOutbox
// held transfers whole): the release moves the parts still queued after
// the held ones behind them, in the same write, so the transfer goes in
// part order.
TEST(ExchangeStoreHoldTest, ReleaseMovesStillQueuedLaterPartsBehindTheReleasedOnes) {
  TempDir dir;
  const std::string path = (dir / "db").string();
  {
    auto store = ExchangeStore::Open(path).value();
    Commit(*store, Transfer("partly-held-00001", "vn-a", 5));  // 1..5
    Commit(*store, Transfer("partly-other-0001", "vn-b"));     // 6
  }
  {
    // Parts 0 and 1 held, 2..4 still queued: what the older HoldOutbox left.
    auto db = storage::Db::Open(path).value();
    for (const char* seq : {"00000000000000000001", "00000000000000000002"}) {
      const std::string value = db->Get(absl::StrCat("o/", seq)).value();
      storage::WriteBatch batch;
      batch.Delete(absl::StrCat("o/", seq));
      batch.Put(absl::StrCat("h/", seq), value);
      ASSERT_TRUE(db->Write(batch).ok());
    }
  }
  auto store = ExchangeStore::Open(path).value();
  ASSERT_EQ(store->outbox().held, 2u);
  ASSERT_EQ(store->outbox().items, 4u);
  EXPECT_EQ(store->ReleaseHeld(Always).value(), 2u);
  EXPECT_EQ(Outbox(*store), (std::vector<Item>{{6, "partly-other-0001", 0},
                                               {7, "partly-held-00001", 0},
                                               {8, "partly-held-00001", 1},
                                               {9, "partly-held-00001", 2},
                                               {10, "partly-held-00001", 3},
                                               {11, "partly-held-00001", 4}}));
  EXPECT_EQ(store->outbox().items, 6u);
  EXPECT_EQ(store->outbox().held, 0u);
  EXPECT_EQ(store->LastRelaySequence(), 11u);
  const OutboxStats stats = store->outbox();
  store.reset();
  store = ExchangeStore::Open(path).value();  // the same after a reopen (derived there)
  EXPECT_EQ(store->outbox().items, stats.items);
  EXPECT_EQ(store->outbox().bytes, stats.bytes);
}

// A new edge whose first items were all held (and maybe released) before
// any acknowledgement: after a restart, the hub has acknowledged nothing.
// Deriving it from the first queued item alone claimed 5 and made the link
// report a hub that lost items 1..5 (event=relay_hub_lost_items).
TEST(ExchangeStoreHoldTest, NothingIsTakenForAcknowledgedWhenTheFirstItemsWereHeld) {
  TempDir dir;
  const std::string held = (dir / "held").string(), released = (dir / "released").string();
  for (const std::string& path : {held, released}) {
    auto store = ExchangeStore::Open(path).value();
    for (int i = 1; i <= 5; ++i) {
      Commit(*store, Transfer(absl::StrCat("first-held-0000", i), "vn-a"));
    }
    ASSERT_EQ(store->HoldOutbox({1, 2, 3, 4, 5}).value(), 5u);
    if (path == released) {
      ASSERT_EQ(store->ReleaseHeld(Always).value(), 5u);  // 6..10
    }
  }
  EXPECT_EQ(ExchangeStore::Open(held).value()->HubAckedThrough(), 0u);
  auto store = ExchangeStore::Open(released).value();
  EXPECT_EQ(store->FirstOutboxSequence(), 6u);
  EXPECT_EQ(store->HubAckedThrough(), 0u);
  // Acknowledged items still count once recorded.
  ASSERT_TRUE(store->AckOutbox(7).ok());
  store.reset();
  EXPECT_EQ(ExchangeStore::Open(released).value()->HubAckedThrough(), 7u);
}

}  // namespace
}  // namespace beibu::edge::testing
