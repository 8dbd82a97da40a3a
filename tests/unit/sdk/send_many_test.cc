// Client::SendMany over a real loopback secure channel against the in-memory
// Exchange (memory_exchange.h): answers in order, local refusals, packing,
// idempotent repeats, and resuming after the edge fails a stream part-way.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include "beibu/client/client.h"
#include "loopback_fixture.h"

namespace beibu::testing {
namespace {

using pki::Role;
using Result = absl::StatusOr<v1::TransferStatus>;

class SendManyTest : public LoopbackTest {
 protected:
  std::unique_ptr<Client> Connect(int max_retries = 5) {
    ClientOptions o = Options();
    o.max_retries = max_retries;
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  // `n` transfers with ids sendmany-<run>-<100000+i> and payloads of `size` bytes
  // that differ per transfer.
  static std::vector<OutgoingTransfer> Transfers(int n, size_t size, const std::string& run) {
    std::vector<OutgoingTransfer> out;
    for (int i = 0; i < n; ++i) {
      OutgoingTransfer t;
      t.header.set_transfer_id(Id(run, i));
      t.header.set_to_country("CN");
      t.header.set_to_enterprise("cn-importer");
      t.header.set_category("logistics.track");
      t.header.set_content_type("text/csv");
      t.payload = "shipment,seq\nSHP," + std::to_string(i) + "\n";
      t.payload.resize(std::max(size, t.payload.size()), 'x');
      out.push_back(std::move(t));
    }
    return out;
  }
  static std::string Id(const std::string& run, int i) {
    return "sendmany-" + run + "-" + std::to_string(100000 + i);
  }

  // Every valid transfer answered FAST / IN_FLIGHT under its own id and
  // stored exactly once.
  void ExpectAllAcceptedOnce(const std::vector<Result>& got, const std::string& run) {
    std::lock_guard<std::mutex> lock(exchange_.mu);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].status();
      EXPECT_EQ(got[i]->transfer_id(), Id(run, static_cast<int>(i)));
      EXPECT_EQ(got[i]->state(), v1::IN_FLIGHT) << i;
      EXPECT_EQ(exchange_.stored[Id(run, static_cast<int>(i))], 1) << i;
    }
  }
};

TEST_F(SendManyTest, AnswersEachTransferInOrderAndRefusesBadOnesLocally) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<OutgoingTransfer> in = Transfers(60, 100, "a");
  in[10].header.set_category("deny.me");
  in[20].header.set_to_country("cn");          // not an ISO code
  in[30].payload.assign((4u << 20) + 1, 'x');  // above 4 MiB
  in[40].header.clear_transfer_id();           // gets a fresh one
  const std::vector<OutgoingTransfer> again = in;

  std::vector<Result> got = client->SendMany(in);
  ASSERT_EQ(got.size(), in.size());
  std::string fresh_id;
  for (size_t i = 0; i < got.size(); ++i) {
    if (i == 20 || i == 30) {
      EXPECT_TRUE(absl::IsInvalidArgument(got[i].status())) << i << ": " << got[i].status();
      continue;
    }
    ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].status();
    if (i == 40) {
      fresh_id = got[i]->transfer_id();
      EXPECT_EQ(fresh_id.size(), 32u) << fresh_id;
    } else {
      EXPECT_EQ(got[i]->transfer_id(), Id("a", static_cast<int>(i)));
    }
    EXPECT_EQ(got[i]->state(), i == 10 ? v1::DENIED : v1::IN_FLIGHT) << i;
    EXPECT_EQ(got[i]->decision().decision(), i == 10 ? "DENY" : "FAST") << i;
  }
  EXPECT_NE(got[20].status().message().find("country"), std::string_view::npos) << got[20].status();
  {
    std::lock_guard<std::mutex> lock(exchange_.mu);
    EXPECT_EQ(exchange_.transfers.size(), 58u) << "the two bad ones were never sent";
    EXPECT_EQ(exchange_.transfers.count(Id("a", 20)), 0u);
    EXPECT_EQ(exchange_.transfers.count(Id("a", 30)), 0u);
    EXPECT_EQ(exchange_.batch_streams, 1);
  }

  // The same transfers again (the fresh id is not reused: that one is new).
  std::vector<Result> repeat = client->SendMany(again);
  ASSERT_EQ(repeat.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (i == 40) continue;
    ASSERT_EQ(repeat[i].ok(), got[i].ok()) << i;
    if (!got[i].ok()) {
      EXPECT_EQ(repeat[i].status().code(), got[i].status().code()) << i;
      continue;
    }
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*repeat[i], *got[i]))
        << i << ": " << repeat[i]->ShortDebugString() << " vs " << got[i]->ShortDebugString();
  }
  std::lock_guard<std::mutex> lock(exchange_.mu);
  for (const auto& [id, times] : exchange_.stored) EXPECT_EQ(times, 1) << id;
  EXPECT_EQ(exchange_.stored.size(), 59u) << "58 once, plus the second fresh id";
}

TEST_F(SendManyTest, SameIdOtherContentIsAnErrorForThatTransferOnly) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendMany(Transfers(3, 10, "b"))[1].ok());
  std::vector<OutgoingTransfer> in = Transfers(3, 10, "b");
  in[1].payload = "changed";
  std::vector<Result> got = client->SendMany(in);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].ok()) << got[0].status();
  EXPECT_TRUE(absl::IsAlreadyExists(got[1].status())) << got[1].status();
  EXPECT_EQ(got[1].status().message(), "same id, different content");
  EXPECT_TRUE(got[2].ok()) << got[2].status();
}

TEST_F(SendManyTest, PacksAtMostFourMiBPerBatchThroughTheWindow) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  // 24 MiB in all, more than the 16 MiB that may stay unanswered.
  std::vector<OutgoingTransfer> in = Transfers(21, 1u << 20, "c");
  in[9].payload.assign(4u << 20, 'y');  // exactly 4 MiB: a batch of its own
  std::vector<Result> got = client->SendMany(in);
  ASSERT_EQ(got.size(), in.size());
  ExpectAllAcceptedOnce(got, "c");
  std::lock_guard<std::mutex> lock(exchange_.mu);
  EXPECT_EQ(exchange_.max_batch_payload, 4u << 20);
  EXPECT_GE(exchange_.batches, 6u);
  EXPECT_EQ(exchange_.transfers[Id("c", 9)].data, in[9].payload);
}

TEST_F(SendManyTest, ResumesAfterTheEdgeBreaksTheStream) {
  exchange_.break_streams = 1;
  exchange_.break_after = 37;
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<Result> got = client->SendMany(Transfers(100, 200 << 10, "d"));  // 20 MiB
  ASSERT_EQ(got.size(), 100u);
  ExpectAllAcceptedOnce(got, "d");
  std::lock_guard<std::mutex> lock(exchange_.mu);
  EXPECT_EQ(exchange_.batch_streams, 2);
  EXPECT_EQ(exchange_.stored.size(), 100u);
}

TEST_F(SendManyTest, ResendsFromAnUnavailableAnswer) {
  exchange_.unavailable_streams = 1;
  exchange_.unavailable_after = 25;
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<Result> got = client->SendMany(Transfers(80, 1000, "e"));
  ASSERT_EQ(got.size(), 80u);
  ExpectAllAcceptedOnce(got, "e");
  std::lock_guard<std::mutex> lock(exchange_.mu);
  EXPECT_EQ(exchange_.batch_streams, 2);
}

TEST_F(SendManyTest, KeepsGoingWhileEachBrokenStreamMadeProgress) {
  exchange_.unavailable_streams = 10;
  exchange_.unavailable_after = 10;
  auto client = Connect(/*max_retries=*/1);
  ASSERT_NE(client, nullptr);
  std::vector<Result> got = client->SendMany(Transfers(30, 100, "f"));
  ASSERT_EQ(got.size(), 30u);
  ExpectAllAcceptedOnce(got, "f");
  std::lock_guard<std::mutex> lock(exchange_.mu);
  EXPECT_EQ(exchange_.batch_streams, 3);  // ten per stream, the budget resets on progress
}

TEST_F(SendManyTest, GivesUpAfterMaxRetriesInARowWithTheLastError) {
  exchange_.unavailable_streams = 10;
  exchange_.unavailable_after = 0;  // no progress at all
  auto client = Connect(/*max_retries=*/1);
  ASSERT_NE(client, nullptr);
  std::vector<Result> got = client->SendMany(Transfers(30, 100, "g"));
  ASSERT_EQ(got.size(), 30u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(absl::IsUnavailable(got[i].status())) << i << ": " << got[i].status();
    EXPECT_NE(got[i].status().message().find("gave up after 2 attempts"), std::string_view::npos)
        << got[i].status();
  }
  std::lock_guard<std::mutex> lock(exchange_.mu);
  EXPECT_EQ(exchange_.batch_streams, 2);
  EXPECT_TRUE(exchange_.stored.empty());
}

TEST_F(SendManyTest, NothingToSendOpensNoStream) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->SendMany({}).empty());
  std::vector<OutgoingTransfer> bad = Transfers(2, 10, "g");
  bad[0].header.clear_category();
  bad[1].header.set_transfer_id("short");
  std::vector<Result> got = client->SendMany(bad);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(absl::IsInvalidArgument(got[0].status())) << got[0].status();
  EXPECT_TRUE(absl::IsInvalidArgument(got[1].status())) << got[1].status();
  std::lock_guard<std::mutex> lock(exchange_.mu);
  EXPECT_EQ(exchange_.batch_streams, 0);
}

}  // namespace
}  // namespace beibu::testing
