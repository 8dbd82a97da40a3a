// InboxReader over a fake Inbox stream: assembling chunked deliveries,
// digest checks, out-of-order framing, idle timeouts, atomic files, acks.
#include <gtest/gtest.h>

#include <filesystem>

#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "client_impl.h"
#include "fake_transport.h"
#include "temp_dir.h"

namespace beibu::testing {
namespace {

std::string Sm3Hex(std::string_view s) { return HexEncode(crypto::Sm3::Hash(AsBytes(s))); }

// The Delivery messages of one payload cut into `chunk`-byte pieces.
std::vector<v1::Delivery> Chunks(const std::string& id, const std::string& payload, size_t chunk) {
  std::vector<v1::Delivery> out;
  size_t off = 0;
  do {
    v1::Delivery d;
    d.set_transfer_id(id);
    d.set_from_enterprise("vn-shipper");
    d.set_from_country("VN");
    d.set_category("logistics.track");
    d.mutable_decision()->set_decision("FAST");
    d.set_size(payload.size());
    d.set_payload_sm3(Sm3Hex(payload));
    d.set_offset(off);
    size_t n = std::min(chunk, payload.size() - off);
    d.set_data(payload.substr(off, n));
    off += n;
    d.set_last(off == payload.size());
    out.push_back(d);
  } while (off < payload.size());
  return out;
}

class InboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClientOptions o;
    o.max_in_memory_payload = 10000;
    client_ = ClientTestPeer::Make(o, std::make_unique<FakeTransport>(&edge_));
    ClientTestPeer::impl(*client_).retry_delay = std::chrono::milliseconds(0);
  }
  void Push(const std::vector<v1::Delivery>& ds) {
    for (const v1::Delivery& d : ds) edge_.Push(d);
  }
  std::unique_ptr<InboxReader> Open() {
    absl::StatusOr<std::unique_ptr<InboxReader>> r = client_->OpenInbox(8);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }
  FakeEdge edge_;
  std::unique_ptr<Client> client_;
  TempDir tmp_;
};

TEST_F(InboxTest, AssemblesAMultiChunkDelivery) {
  std::string payload = "ts,event\n";
  for (int i = 0; i < 300; ++i) payload += std::to_string(i) + ",scanned at Dong Dang\n";
  Push(Chunks("t-0000000000000001", payload, 700));
  auto inbox = Open();
  ReceivedTransfer r;
  ASSERT_TRUE(inbox->Next(&r, std::chrono::seconds(5)).ok());
  EXPECT_EQ(r.payload, payload);
  EXPECT_EQ(r.info.transfer_id(), "t-0000000000000001");
  EXPECT_EQ(r.info.from_enterprise(), "vn-shipper");
  EXPECT_TRUE(r.info.data().empty());
  EXPECT_EQ(r.info.size(), payload.size());
}

TEST_F(InboxTest, DigestMismatchIsDataLossAndTheNextDeliveryStillArrives) {
  std::vector<v1::Delivery> bad = Chunks("t-bad-00000000001", "tampered content", 5);
  bad[1].set_data("XXXXX");
  Push(bad);
  Push(Chunks("t-good-0000000001", "fine", 100));
  auto inbox = Open();
  ReceivedTransfer r;
  absl::Status s = inbox->Next(&r, std::chrono::seconds(5));
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("t-bad-00000000001"), std::string_view::npos);
  ASSERT_TRUE(inbox->Next(&r, std::chrono::seconds(5)).ok());
  EXPECT_EQ(r.payload, "fine");
}

TEST_F(InboxTest, OutOfOrderOffsetsAbortTheStream) {
  std::vector<v1::Delivery> ds = Chunks("t-order-000000001", "0123456789abcdef", 4);
  std::swap(ds[1], ds[2]);
  Push(ds);
  auto inbox = Open();
  ReceivedTransfer r;
  absl::Status s = inbox->Next(&r, std::chrono::seconds(5));
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  EXPECT_NE(s.message().find("expected offset 4"), std::string_view::npos) << s;
  EXPECT_TRUE(absl::IsAborted(inbox->Next(&r, std::chrono::seconds(1))))
      << "a stream out of order stays unusable";
}

TEST_F(InboxTest, InterleavedDeliveriesAbortTheStream) {
  std::vector<v1::Delivery> a = Chunks("t-a-0000000000001", "aaaaaaaa", 4);
  std::vector<v1::Delivery> b = Chunks("t-b-0000000000001", "bbbbbbbb", 4);
  Push({a[0], b[0]});
  auto inbox = Open();
  ReceivedTransfer r;
  EXPECT_TRUE(absl::IsAborted(inbox->Next(&r, std::chrono::seconds(5))));
}

TEST_F(InboxTest, FirstChunkNotAtZeroAbortsTheStream) {
  std::vector<v1::Delivery> ds = Chunks("t-late-0000000001", "0123456789", 4);
  Push({ds[1], ds[2]});
  auto inbox = Open();
  ReceivedTransfer r;
  EXPECT_TRUE(absl::IsAborted(inbox->Next(&r, std::chrono::seconds(5))));
}

TEST_F(InboxTest, IdleInboxTimesOutAndAnEndedOneIsOutOfRange) {
  auto inbox = Open();
  ReceivedTransfer r;
  EXPECT_TRUE(absl::IsDeadlineExceeded(inbox->Next(&r, std::chrono::milliseconds(20))));
  Push(Chunks("t-later-000000001", "late", 10));
  ASSERT_TRUE(inbox->Next(&r, std::chrono::seconds(5)).ok());
  EXPECT_EQ(r.payload, "late");
  {
    std::lock_guard<std::mutex> lock(edge_.mu);
    edge_.inbox_ends = true;
    edge_.cv.notify_all();
  }
  EXPECT_TRUE(absl::IsOutOfRange(inbox->Next(&r, std::chrono::seconds(5))));
}

TEST_F(InboxTest, AnOlderEdgeWithoutInboxBatchesIsReadThroughInbox) {
  {
    std::lock_guard<std::mutex> lock(edge_.mu);
    edge_.no_inbox_batches = true;
  }
  auto inbox = Open();
  Push(Chunks("t-older-edge-00001", "from an older edge", 6));
  ReceivedTransfer r;
  ASSERT_TRUE(inbox->Next(&r, std::chrono::seconds(5)).ok());
  EXPECT_EQ(r.payload, "from an older edge");
  std::lock_guard<std::mutex> lock(edge_.mu);
  EXPECT_EQ(edge_.streams_started, (std::vector<std::string>{"/beibu.v1.Exchange/InboxBatches",
                                                             "/beibu.v1.Exchange/Inbox"}));
}

TEST_F(InboxTest, StreamEndingMidDeliveryIsUnavailable) {
  std::vector<v1::Delivery> ds = Chunks("t-cut-00000000001", "0123456789", 4);
  Push({ds[0]});
  edge_.inbox_ends = true;
  auto inbox = Open();
  ReceivedTransfer r;
  EXPECT_TRUE(absl::IsUnavailable(inbox->Next(&r, std::chrono::seconds(5))));
}

TEST_F(InboxTest, LargerThanTheMemoryCapIsResourceExhaustedButASinkTakesIt) {
  std::string big(25000, 'z');
  Push(Chunks("t-big-00000000001", big, 4096));
  Push(Chunks("t-big-00000000002", big, 4096));
  auto inbox = Open();
  ReceivedTransfer r;
  absl::Status s = inbox->Next(&r, std::chrono::seconds(5));
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_TRUE(r.payload.empty());
  std::string sunk;
  ASSERT_TRUE(inbox
                  ->Next(
                      &r,
                      [&](std::string_view c) {
                        sunk.append(c);
                        return absl::OkStatus();
                      },
                      std::chrono::seconds(5))
                  .ok());
  EXPECT_EQ(sunk, big);
  EXPECT_TRUE(r.payload.empty());
}

TEST_F(InboxTest, NextToDirectoryWritesVerifiedPayloadsOnly) {
  std::string good = "ts,event\n1,loaded\n2,departed\n";
  std::vector<v1::Delivery> bad = Chunks("t-bad-00000000002", "corrupted payload", 6);
  bad.back().set_data("??");
  Push(Chunks("t-file-0000000001", good, 7));
  Push(bad);
  auto inbox = Open();
  ReceivedTransfer r;
  ASSERT_TRUE(inbox->NextToDirectory(tmp_.path().string(), &r, std::chrono::seconds(5)).ok());
  EXPECT_EQ(ReadFile(tmp_ / "t-file-0000000001"), good);
  EXPECT_TRUE(
      absl::IsDataLoss(inbox->NextToDirectory(tmp_.path().string(), &r, std::chrono::seconds(5))));
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp_.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "t-file-0000000001") << "no temporary or bad file left behind";
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(InboxTest, NextToDirectoryRefusesAPathAsTransferId) {
  std::vector<v1::Delivery> ds = Chunks("../../etc/passwd", "root::0:0", 100);
  Push(ds);
  auto inbox = Open();
  ReceivedTransfer r;
  absl::Status s = inbox->NextToDirectory((tmp_ / "in").string(), &r, std::chrono::seconds(5));
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_FALSE(std::filesystem::exists(tmp_.path().parent_path().parent_path() / "etc/passwd.tmp"));
}

TEST_F(InboxTest, AckSendsTheIds) {
  std::vector<std::string> acked;
  edge_.on_call = [&](const std::string& method, const google::protobuf::Message& req,
                      google::protobuf::Message* resp) {
    EXPECT_EQ(method, "/beibu.v1.Exchange/Ack");
    for (const std::string& id : static_cast<const v1::AckRequest&>(req).transfer_ids()) {
      acked.push_back(id);
    }
    static_cast<v1::AckResponse*>(resp)->set_acknowledged(acked.size());
    return absl::OkStatus();
  };
  auto inbox = Open();
  absl::StatusOr<uint32_t> n = inbox->Ack({"t-1-0000000000001", "t-2-0000000000001"});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(acked, (std::vector<std::string>{"t-1-0000000000001", "t-2-0000000000001"}));
}

}  // namespace
}  // namespace beibu::testing
