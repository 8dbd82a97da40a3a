// The SDK and the `beibu` data-plane commands over a real secure channel on
// 127.0.0.1, against an in-memory Exchange (memory_exchange.h): identity
// files, idempotent retries, resume after a server-side failure, inbox and
// ack, and the CLI's output and exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "beibu/client/client.h"
#include "beibu/config/files.h"
#include "loopback_fixture.h"
#include "subprocess.h"

namespace beibu::testing {
namespace {

using pki::Role;

TEST_F(LoopbackTest, ConnectNamesWhatIsMissing) {
  ClientOptions o;
  EXPECT_TRUE(absl::IsInvalidArgument(Client::Connect(o).status()));
  o.server = server();
  absl::Status s = Client::Connect(o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("identity"), std::string_view::npos) << s;
  o.identity_dir = (tmp_ / "nowhere").string();
  EXPECT_FALSE(Client::Connect(o).ok());
}

TEST_F(LoopbackTest, SendIsIdempotentAndTheInboxReturnsTheSameBytes) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->server_id(), "edge-vn");
  EXPECT_EQ(client->my_id(), "vn-shipper");
  const std::string csv = "shipment,event\nSHP-1,loaded\nSHP-1,departed\n";
  absl::StatusOr<v1::TransferStatus> st = client->Send(Header(), csv);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->decision().decision(), "FAST");
  v1::TransferHeader same = Header();
  same.set_transfer_id(st->transfer_id());
  absl::StatusOr<v1::TransferStatus> again = client->Send(same, csv);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state(), v1::IN_FLIGHT);
  EXPECT_EQ(exchange_.transfers.size(), 1u);
  EXPECT_TRUE(absl::IsAlreadyExists(client->Send(same, "other").status()));

  exchange_.delivery_chunk = 7;  // several Delivery messages
  absl::StatusOr<std::unique_ptr<InboxReader>> inbox = client->OpenInbox();
  ASSERT_TRUE(inbox.ok()) << inbox.status();
  ReceivedTransfer r;
  ASSERT_TRUE((*inbox)->Next(&r, std::chrono::seconds(10)).ok());
  EXPECT_EQ(r.payload, csv);
  EXPECT_EQ(r.info.transfer_id(), st->transfer_id());
  EXPECT_TRUE(absl::IsDeadlineExceeded((*inbox)->Next(&r, std::chrono::milliseconds(200))));
  absl::StatusOr<uint32_t> acked = (*inbox)->Ack({st->transfer_id()});
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(*acked, 1u);
  absl::StatusOr<v1::TransferStatus> done =
      client->WaitForState(st->transfer_id(), {v1::ACKNOWLEDGED}, std::chrono::seconds(10));
  ASSERT_TRUE(done.ok()) << done.status();
  // A transfer acknowledged at once may never rest in DELIVERED: the later
  // state satisfies a wait for it, but not a wait off the delivery path.
  absl::StatusOr<v1::TransferStatus> delivered =
      client->WaitForState(st->transfer_id(), {v1::DELIVERED}, std::chrono::seconds(10));
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  EXPECT_EQ(delivered->state(), v1::ACKNOWLEDGED);
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      client->WaitForState(st->transfer_id(), {v1::DENIED}, std::chrono::milliseconds(300))
          .status()));
}

TEST_F(LoopbackTest, SendReconnectsAfterTheEdgeRestarts) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Header(), "before").ok());
  int port = host_->port();
  host_->Shutdown(std::chrono::milliseconds(0));
  host_.reset();
  StartHost("127.0.0.1:" + std::to_string(port));
  absl::StatusOr<v1::TransferStatus> st = client->Send(Header(), "after the restart");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->decision().decision(), "FAST");
}

TEST_F(LoopbackTest, ExamplesSendAndReceive) {
  WriteFile(tmp_ / "events.csv", "shipment,event\nSHP-7,loaded\n");
  RunResult sent = Run({BinPath("beibu_example_send"), "--server", server(), "--identity",
                        (tmp_ / "id").string(), "--to", "CN", "--to-enterprise", "cn-importer",
                        "--category", "logistics.track", "--content-type", "text/csv", "--file",
                        (tmp_ / "events.csv").string()});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  std::string id = sent.out.substr(0, sent.out.find(' '));
  EXPECT_NE(sent.out.find(" FAST IN_FLIGHT"), std::string::npos) << sent.out;
  RunResult inbox =
      Run({BinPath("beibu_example_inbox"), "--server", server(), "--identity",
           (tmp_ / "id").string(), "--out", (tmp_ / "in").string(), "--idle-ms", "500"});
  ASSERT_EQ(inbox.exit_code, 0) << inbox.err;
  EXPECT_EQ(ReadFile(tmp_ / "in" / id), "shipment,event\nSHP-7,loaded\n");
  EXPECT_NE(inbox.out.find(id + " vn-shipper logistics.track"), std::string::npos) << inbox.out;
  std::lock_guard<std::mutex> lock(exchange_.mu);
  EXPECT_TRUE(exchange_.pending.empty()) << "the example acknowledges what it stored";

  RunResult bad = Run({BinPath("beibu_example_send"), "--bogus", "x"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(LoopbackTest, SendFileResumesAfterTheEdgeFailsMidStream) {
  std::string content;
  for (int i = 0; content.size() < (5u << 20) + 12345; ++i) {
    content += "SHP-" + std::to_string(i) + ",scanned,Lang Son\n";
  }
  WriteFile(tmp_ / "big.csv", content);
  exchange_.fail_stream_once_after = (2u << 20) + 500000;
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  uint64_t last = 0;
  absl::StatusOr<v1::TransferStatus> st = client->SendFile(
      (tmp_ / "big.csv").string(), Header(), [&](uint64_t sent, uint64_t) { last = sent; });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->size(), content.size());
  EXPECT_EQ(last, content.size());
  std::lock_guard<std::mutex> lock(exchange_.mu);
  ASSERT_EQ(exchange_.stream_starts.size(), 2u);
  EXPECT_EQ(exchange_.stream_starts[1], 2u << 20) << "resumed at the edge's size";
  EXPECT_EQ(exchange_.transfers[st->transfer_id()].data, content);
  EXPECT_EQ(exchange_.transfers[st->transfer_id()].header.total_size(), content.size());
  EXPECT_EQ(exchange_.transfers[st->transfer_id()].header.file_name(), "big.csv");
}

TEST_F(LoopbackTest, CliSendPrintsTheDecisionAndExitsOneWhenRefused) {
  RunResult ok =
      Beibu({"send", "--to", "CN", "--to-enterprise", "cn-importer", "--category",
             "logistics.track", "--data", "a,b\n1,2\n", "--id", "order-2026-0001-abcdef"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("transfer order-2026-0001-abcdef: FAST \xE2\x80\x94 delivered to the "
                        "outbox for cn-importer in CN (rules: test.fast)"),
            std::string::npos)
      << ok.out;

  RunResult denied = Beibu({"send", "--to", "CN", "--to-enterprise", "cn-importer", "--category",
                            "deny.me", "--data", "x", "--json"});
  EXPECT_EQ(denied.exit_code, 1) << denied.err;
  nlohmann::json j = nlohmann::json::parse(denied.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << denied.out;
  EXPECT_EQ(j["state"], "DENIED");
  EXPECT_EQ(j["decision"]["decision"], "DENY");

  RunResult clash =
      Beibu({"send", "--to", "CN", "--to-enterprise", "cn-importer", "--category",
             "logistics.track", "--data", "different", "--id", "order-2026-0001-abcdef"});
  EXPECT_EQ(clash.exit_code, 2) << "ALREADY_EXISTS is the user's to fix: " << clash.err;
}

TEST_F(LoopbackTest, CliInboxWritesAcknowledgesAndTransferShowsIt) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const std::string csv = "shipment,event\nSHP-9,arrived\n";
  absl::StatusOr<v1::TransferStatus> st = client->Send(Header(), csv);
  ASSERT_TRUE(st.ok()) << st.status();
  std::string out = (tmp_ / "received").string();
  RunResult inbox = Beibu({"inbox", "--out", out, "--ack", "--json"});
  ASSERT_EQ(inbox.exit_code, 0) << inbox.err;
  EXPECT_EQ(ReadFile(std::filesystem::path(out) / st->transfer_id()), csv);
  nlohmann::json line = nlohmann::json::parse(inbox.out, nullptr, false);
  ASSERT_FALSE(line.is_discarded()) << inbox.out;
  EXPECT_EQ(line["transfer_id"], st->transfer_id());
  EXPECT_EQ(line["acknowledged"], true);

  RunResult empty = Beibu({"inbox"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out.find(st->transfer_id()), std::string::npos) << "acknowledged: " << empty.out;

  RunResult shown = Beibu({"transfer", st->transfer_id(), "--wait", "acknowledged"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("state:    ACKNOWLEDGED"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("rules:    test.fast"), std::string::npos) << shown.out;

  RunResult unknown = Beibu({"transfer", "no-such-transfer-0000"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
}

}  // namespace
}  // namespace beibu::testing
