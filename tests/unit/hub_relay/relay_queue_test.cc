// RelayQueue on a real RocksDB: order, deduplication, acks, limits, restart.
#include "relay_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "temp_dir.h"

namespace beibu::hub {
namespace {

RelayItem Item(const std::string& dest, uint64_t relay_sequence, size_t size = 10) {
  RelayItem item;
  item.destination = dest;
  item.envelope.set_relay_sequence(relay_sequence);
  item.envelope.add_sealed_chunks(std::string(size, 'x'));
  return item;
}

std::vector<uint64_t> RelaySequences(const std::vector<QueuedItem>& items) {
  std::vector<uint64_t> out;
  for (const QueuedItem& q : items) {
    v1::Envelope env;
    EXPECT_TRUE(env.ParseFromString(q.envelope));
    out.push_back(env.relay_sequence());
  }
  return out;
}

std::vector<uint64_t> HubSequences(const std::vector<QueuedItem>& items) {
  std::vector<uint64_t> out;
  for (const QueuedItem& q : items) out.push_back(q.hub_sequence);
  return out;
}

class RelayQueueTest : public ::testing::Test {
 protected:
  void Open(RelayLimits limits = {}) {
    queue_.reset();
    db_.reset();
    auto db = storage::Db::Open((dir_ / "relay").string());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto q = RelayQueue::Open(db_.get(), limits, [] { return uint64_t{1700000000000}; });
    ASSERT_TRUE(q.ok()) << q.status();
    queue_ = *std::move(q);
  }
  void SetUp() override { Open(); }

  testing::TempDir dir_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<RelayQueue> queue_;
};

TEST_F(RelayQueueTest, EnqueueAssignsHubSequencesInOrderPerDestination) {
  ASSERT_EQ(
      *queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-th", 2), Item("edge-cn", 3)}, {}),
      3u);
  auto cn = queue_->Read("edge-cn", 0, 100, 1 << 20);
  ASSERT_TRUE(cn.ok());
  EXPECT_EQ(HubSequences(*cn), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(RelaySequences(*cn), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ((*cn)[0].arrived_ms, 1700000000000u);
  auto th = queue_->Read("edge-th", 0, 100, 1 << 20);
  EXPECT_EQ(HubSequences(*th), (std::vector<uint64_t>{1}));
  EXPECT_EQ(queue_->Watermark("edge-vn"), 3u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 2u);
  EXPECT_EQ(queue_->Depth("edge-cn").oldest_ms, 1700000000000u);
  // A destination whose id is a prefix of another's does not see its items.
  ASSERT_TRUE(queue_->Enqueue("edge-vn", {Item("edge-c", 4)}, {}).ok());
  EXPECT_EQ(queue_->Read("edge-c", 0, 100, 1 << 20)->size(), 1u);
  EXPECT_EQ(queue_->Read("edge-cn", 0, 100, 1 << 20)->size(), 2u);
}

TEST_F(RelayQueueTest, ReadHonoursAfterAndLimits) {
  std::vector<RelayItem> items;
  for (uint64_t i = 1; i <= 10; ++i) items.push_back(Item("edge-cn", i, 100));
  ASSERT_TRUE(queue_->Enqueue("edge-vn", items, {}).ok());
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 7, 100, 1 << 20)),
            (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(queue_->Read("edge-cn", 0, 4, 1 << 20)->size(), 4u);
  // Serialized envelopes are a little over 100 bytes: 250 bytes fit two.
  EXPECT_EQ(queue_->Read("edge-cn", 0, 100, 250)->size(), 2u);
  // One item is always returned, even above the byte limit.
  EXPECT_EQ(queue_->Read("edge-cn", 0, 100, 1)->size(), 1u);
}

TEST_F(RelayQueueTest, ItemsAtOrBelowTheWatermarkAreStoredOnce) {
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2)}, {}), 2u);
  // A retried batch overlapping the stored one.
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 2), Item("edge-cn", 3)}, {}), 1u);
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 1)}, {}), 0u);
  EXPECT_EQ(RelaySequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)),
            (std::vector<uint64_t>{1, 2, 3}));
  // Watermarks are per source.
  ASSERT_EQ(*queue_->Enqueue("edge-th", {Item("edge-cn", 1)}, {}), 1u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 4u);
}

TEST_F(RelayQueueTest, RefusesNonIncreasingBatchAndBadIds) {
  EXPECT_EQ(
      queue_->Enqueue("edge-vn", {Item("edge-cn", 2), Item("edge-cn", 2)}, {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Enqueue("edge-vn", {Item(std::string("a\0b", 3), 1)}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Depths().size(), 0u);
}

TEST_F(RelayQueueTest, AckDeletesThroughAndUpdatesDepth) {
  ASSERT_TRUE(
      queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2), Item("edge-cn", 3)}, {})
          .ok());
  const uint64_t bytes = queue_->Depth("edge-cn").bytes;
  EXPECT_EQ(*queue_->Ack("edge-cn", 2), 2u);
  EXPECT_EQ(*queue_->Ack("edge-cn", 2), 0u);  // repeated ack
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)), (std::vector<uint64_t>{3}));
  QueueDepth d = queue_->Depth("edge-cn");
  EXPECT_EQ(d.items, 1u);
  EXPECT_LT(d.bytes, bytes);
  EXPECT_EQ(*queue_->Ack("edge-cn", 100), 1u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 0u);
  EXPECT_EQ(queue_->Depth("edge-cn").bytes, 0u);
  EXPECT_EQ(queue_->Depth("edge-cn").oldest_ms, 0u);
}

TEST_F(RelayQueueTest, StateSurvivesReopenAndHubSequencesAreNeverReused) {
  ASSERT_TRUE(
      queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2), Item("edge-th", 3)}, {})
          .ok());
  ASSERT_EQ(*queue_->Ack("edge-cn", 2), 2u);  // edge-cn's queue drained
  Open();
  EXPECT_EQ(queue_->Watermark("edge-vn"), 3u);
  EXPECT_EQ(queue_->Depth("edge-th").items, 1u);
  EXPECT_EQ(queue_->Depth("edge-th").oldest_ms, 1700000000000u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 0u);
  EXPECT_EQ(RelaySequences(*queue_->Read("edge-th", 0, 100, 1 << 20)), (std::vector<uint64_t>{3}));
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 3), Item("edge-cn", 4)}, {}), 1u);
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)), (std::vector<uint64_t>{3}));
}

TEST_F(RelayQueueTest, FullQueueWaitsForAckAndLosesNothing) {
  Open({.max_queue_bytes = 1 << 20, .max_queue_items = 2});
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2)}, {}), 2u);
  std::atomic<bool> done{false};
  absl::StatusOr<size_t> result;
  int waits = 0;
  std::thread pusher([&] {
    result = queue_->Enqueue(
        "edge-vn", {Item("edge-cn", 3)}, [] { return false; }, {},
        [&](const QueueDepth& full) {
          EXPECT_EQ(full.destination, "edge-cn");
          EXPECT_EQ(full.items, 2u);
          ++waits;
        });
    done = true;
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (queue_->waiting() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(queue_->waiting(), 1u);
  EXPECT_FALSE(done.load());
  EXPECT_EQ(queue_->Depth("edge-cn").items, 2u);
  ASSERT_EQ(*queue_->Ack("edge-cn", 1), 1u);
  pusher.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 1u);
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(RelaySequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)),
            (std::vector<uint64_t>{2, 3}));
}

TEST_F(RelayQueueTest, WaitingEnqueueGivesUpWithoutStoring) {
  Open({.max_queue_bytes = 1 << 20, .max_queue_items = 1});
  ASSERT_TRUE(queue_->Enqueue("edge-vn", {Item("edge-cn", 1)}, {}).ok());
  absl::StatusOr<size_t> r = queue_->Enqueue("edge-vn", {Item("edge-cn", 2)}, [] { return true; });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(queue_->Watermark("edge-vn"), 1u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 1u);
}

TEST_F(RelayQueueTest, EmptyQueueTakesABatchAboveTheLimits) {
  Open({.max_queue_bytes = 1 << 20, .max_queue_items = 1});
  EXPECT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2)}, {}), 2u);
}

TEST_F(RelayQueueTest, BeforeCommitErrorStoresNothing) {
  absl::StatusOr<size_t> r = queue_->Enqueue("edge-vn", {Item("edge-cn", 1)}, {},
                                             [](const std::vector<const RelayItem*>& items) {
                                               EXPECT_EQ(items.size(), 1u);
                                               return absl::UnavailableError("audit log down");
                                             });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(queue_->Watermark("edge-vn"), 0u);
  EXPECT_EQ(queue_->Read("edge-cn", 0, 100, 1 << 20)->size(), 0u);
}

// A relay store that went back in time: the destination holds sequences up to
// 100, the queue had assigned 1..3 again.
TEST_F(RelayQueueTest, RenumberAboveMovesTheQueueAboveWhatTheDestinationHolds) {
  ASSERT_EQ(*queue_->Enqueue("edge-vn",
                             {Item("edge-cn", 1), Item("edge-cn", 2, 20), Item("edge-th", 3),
                              Item("edge-cn", 4, 30)},
                             {}),
            4u);
  const QueueDepth before = queue_->Depth("edge-cn");
  ASSERT_EQ(before.last_hub_sequence, 3u);
  const auto th_before = queue_->Read("edge-th", 0, 100, 1 << 20);
  const uint64_t changes = queue_->changes();

  absl::StatusOr<size_t> n = queue_->RenumberAbove("edge-cn", 100);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3u);
  EXPECT_GT(queue_->changes(), changes);  // pullers wake up
  auto cn = queue_->Read("edge-cn", 0, 100, 1 << 20);
  ASSERT_TRUE(cn.ok()) << cn.status();
  EXPECT_EQ(HubSequences(*cn), (std::vector<uint64_t>{101, 102, 103}));
  EXPECT_EQ(RelaySequences(*cn), (std::vector<uint64_t>{1, 2, 4}));  // same items, same order
  EXPECT_EQ((*cn)[1].envelope, Item("edge-cn", 2, 20).envelope.SerializeAsString());
  EXPECT_EQ((*cn)[0].arrived_ms, 1700000000000u);
  QueueDepth after = queue_->Depth("edge-cn");
  EXPECT_EQ(after.last_hub_sequence, 103u);
  EXPECT_EQ(after.items, before.items);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(after.oldest_ms, before.oldest_ms);
  // The old positions are gone: nothing is delivered twice.
  for (uint64_t old_seq = 1; old_seq <= 3; ++old_seq) {
    EXPECT_TRUE(
        absl::IsNotFound(db_->Get(RelayQueuePrefix("edge-cn") + EncodeU64(old_seq)).status()))
        << old_seq;
  }
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 101, 100, 1 << 20)),
            (std::vector<uint64_t>{102, 103}));
  // Another destination is untouched.
  EXPECT_EQ(HubSequences(*queue_->Read("edge-th", 0, 100, 1 << 20)), HubSequences(*th_before));
  EXPECT_EQ(queue_->Depth("edge-th").last_hub_sequence, 1u);

  // Later items follow the renumbered ones, and acks work on the new numbers.
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 5)}, {}), 1u);
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)),
            (std::vector<uint64_t>{101, 102, 103, 104}));
  EXPECT_EQ(*queue_->Ack("edge-cn", 100), 0u);
  EXPECT_EQ(*queue_->Ack("edge-cn", 102), 2u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 2u);
}

TEST_F(RelayQueueTest, RenumberAboveSurvivesReopen) {
  ASSERT_TRUE(queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2)}, {}).ok());
  const QueueDepth before = queue_->Depth("edge-cn");
  ASSERT_EQ(*queue_->RenumberAbove("edge-cn", 50), 2u);
  Open();
  QueueDepth d = queue_->Depth("edge-cn");
  EXPECT_EQ(d.last_hub_sequence, 52u);
  EXPECT_EQ(d.items, before.items);
  EXPECT_EQ(d.bytes, before.bytes);
  EXPECT_EQ(d.oldest_ms, 1700000000000u);
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)),
            (std::vector<uint64_t>{51, 52}));
  EXPECT_EQ(RelaySequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)),
            (std::vector<uint64_t>{1, 2}));
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 3)}, {}), 1u);
  EXPECT_EQ(queue_->Depth("edge-cn").last_hub_sequence, 53u);
}

TEST_F(RelayQueueTest, RenumberAboveIsANoOpAtOrBelowTheLastAssigned) {
  ASSERT_TRUE(
      queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2), Item("edge-cn", 3)}, {})
          .ok());
  ASSERT_EQ(*queue_->Ack("edge-cn", 1), 1u);
  const uint64_t changes = queue_->changes();
  EXPECT_EQ(*queue_->RenumberAbove("edge-cn", 3), 0u);
  EXPECT_EQ(*queue_->RenumberAbove("edge-cn", 1), 0u);
  EXPECT_EQ(*queue_->RenumberAbove("edge-cn", 0), 0u);
  EXPECT_EQ(queue_->changes(), changes);  // nothing written
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(queue_->Depth("edge-cn").last_hub_sequence, 3u);
  Open();
  EXPECT_EQ(queue_->Depth("edge-cn").last_hub_sequence, 3u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 2u);
}

TEST_F(RelayQueueTest, RenumberAboveMovesTheCounterOfAnEmptyOrUnknownQueue) {
  // A lost store: the hub has never seen this destination, which holds 40.
  EXPECT_EQ(*queue_->RenumberAbove("edge-cn", 40), 0u);
  EXPECT_EQ(queue_->Depth("edge-cn").last_hub_sequence, 40u);
  EXPECT_EQ(queue_->Depth("edge-cn").items, 0u);
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 1)}, {}), 1u);
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)), (std::vector<uint64_t>{41}));
  // Drained, then behind again.
  ASSERT_EQ(*queue_->Ack("edge-cn", 41), 1u);
  EXPECT_EQ(*queue_->RenumberAbove("edge-cn", 60), 0u);
  Open();
  EXPECT_EQ(queue_->Depth("edge-cn").last_hub_sequence, 60u);
  ASSERT_EQ(*queue_->Enqueue("edge-vn", {Item("edge-cn", 2)}, {}), 1u);
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)), (std::vector<uint64_t>{61}));
}

TEST_F(RelayQueueTest, RenumberAboveRefusesBadIdsAndOverflow) {
  EXPECT_EQ(queue_->RenumberAbove(std::string("a\0b", 3), 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(queue_->Enqueue("edge-vn", {Item("edge-cn", 1), Item("edge-cn", 2)}, {}).ok());
  // A watermark near 2^64 is a broken edge: the queue's loops would wrap.
  EXPECT_EQ(queue_->RenumberAbove("edge-cn", UINT64_MAX - 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->RenumberAbove("edge-cn", (uint64_t{1} << 62) - 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HubSequences(*queue_->Read("edge-cn", 0, 100, 1 << 20)), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(queue_->Depth("edge-cn").last_hub_sequence, 2u);
  EXPECT_EQ(*queue_->RenumberAbove("edge-cn", (uint64_t{1} << 62) - 2), 2u);  // just fits
  EXPECT_EQ(queue_->Depth("edge-cn").last_hub_sequence, uint64_t{1} << 62);
  EXPECT_EQ(queue_->Read("edge-cn", 0, 100, 1 << 20)->size(), 2u);
}

}  // namespace
}  // namespace beibu::hub
