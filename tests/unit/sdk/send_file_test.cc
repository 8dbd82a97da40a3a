// Client::Send and Client::SendFile over a fake edge: transfer ids, retries
// with the same id, and resuming a broken SendStream from the edge's size.
#include <gtest/gtest.h>

#include <regex>

#include "client_impl.h"
#include "fake_transport.h"
#include "temp_dir.h"

namespace beibu::testing {
namespace {

v1::TransferHeader Header() {
  v1::TransferHeader h;
  h.set_to_country("CN");
  h.set_to_enterprise("cn-importer");
  h.set_category("logistics.track");
  h.set_content_type("text/csv");
  return h;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

class SendFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> MakeClient(int max_retries = 5) {
    ClientOptions o;
    o.max_retries = max_retries;
    auto c = ClientTestPeer::Make(o, std::make_unique<FakeTransport>(&edge_));
    ClientTestPeer::impl(*c).retry_delay = std::chrono::milliseconds(0);
    ClientTestPeer::impl(*c).chunk_size = 1000;
    return c;
  }
  FakeEdge edge_;
  TempDir tmp_;
};

TEST(TransferIdTest, IsThirtyTwoLowerHexCharsAndFresh) {
  std::string a = NewTransferId(), b = NewTransferId();
  EXPECT_TRUE(std::regex_match(a, std::regex("[0-9a-f]{32}"))) << a;
  EXPECT_NE(a, b);
  v1::TransferHeader h = Header();
  h.set_transfer_id(a);
  EXPECT_TRUE(ValidateHeader(h).ok());
}

TEST(ValidateHeaderTest, NamesWhatIsWrong) {
  v1::TransferHeader h = Header();
  h.set_transfer_id("short");
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateHeader(h)));
  h.set_transfer_id("has/a/slash-in-it-0123456789");
  EXPECT_NE(ValidateHeader(h).message().find("'/'"), std::string_view::npos);
  h.set_transfer_id(std::string(65, 'a'));
  EXPECT_FALSE(ValidateHeader(h).ok());
  h.set_transfer_id("order-2026.11.27_0001");
  EXPECT_TRUE(ValidateHeader(h).ok());
  h.set_to_country("cn");
  EXPECT_NE(ValidateHeader(h).message().find("ISO 3166"), std::string_view::npos);
  h.set_to_country("CN");
  h.set_to_enterprise("");
  EXPECT_NE(ValidateHeader(h).message().find("recipient"), std::string_view::npos);
  h.set_to_enterprise("x");
  h.set_category("");
  EXPECT_NE(ValidateHeader(h).message().find("category"), std::string_view::npos);
  h.set_category("logistics.track");
  h.set_declared_level("SECRET");
  EXPECT_FALSE(ValidateHeader(h).ok());
}

TEST_F(SendFileTest, SendGeneratesAnIdAndRetriesWithTheSameOne) {
  std::vector<std::string> ids;
  int failures = 2;
  edge_.on_call = [&](const std::string& method, const google::protobuf::Message& req,
                      google::protobuf::Message* resp) {
    const auto& r = static_cast<const v1::SendRequest&>(req);
    ids.push_back(r.header().transfer_id());
    if (failures-- > 0) return absl::UnavailableError("edge restarting");
    auto* st = static_cast<v1::TransferStatus*>(resp);
    st->set_transfer_id(r.header().transfer_id());
    st->set_state(v1::IN_FLIGHT);
    st->mutable_decision()->set_decision("FAST");
    return absl::OkStatus();
  };
  auto client = MakeClient();
  absl::StatusOr<v1::TransferStatus> st = client->Send(Header(), "ts,event\n1,loaded\n");
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[1], ids[2]);
  EXPECT_EQ(st->transfer_id(), ids[0]);
  EXPECT_EQ(ids[0].size(), 32u);
}

TEST_F(SendFileTest, SendGivesUpAfterMaxRetriesAndKeepsTheCode) {
  int calls = 0;
  edge_.on_call = [&](const std::string&, const google::protobuf::Message&,
                      google::protobuf::Message*) {
    ++calls;
    return absl::UnavailableError("edge away");
  };
  auto client = MakeClient(/*max_retries=*/2);
  absl::StatusOr<v1::TransferStatus> st = client->Send(Header(), "x");
  EXPECT_TRUE(absl::IsUnavailable(st.status())) << st.status();
  EXPECT_EQ(calls, 3);
}

TEST_F(SendFileTest, SendDoesNotRetryARefusal) {
  int calls = 0;
  edge_.on_call = [&](const std::string&, const google::protobuf::Message&,
                      google::protobuf::Message*) {
    ++calls;
    return absl::PermissionDeniedError("not an enterprise");
  };
  auto client = MakeClient();
  EXPECT_TRUE(absl::IsPermissionDenied(client->Send(Header(), "x").status()));
  EXPECT_EQ(calls, 1);
}

TEST_F(SendFileTest, SendRefusesMoreThanFourMiBWithoutCalling) {
  auto client = MakeClient();
  absl::StatusOr<v1::TransferStatus> st = client->Send(Header(), std::string((4 << 20) + 1, 'x'));
  EXPECT_TRUE(absl::IsInvalidArgument(st.status()));
  EXPECT_NE(st.status().message().find("SendFile"), std::string_view::npos);
  EXPECT_TRUE(edge_.methods_called.empty());
}

TEST_F(SendFileTest, StreamsTheWholeFileInChunks) {
  std::string content = Pattern(4500);
  WriteFile(tmp_ / "events.csv", content);
  auto client = MakeClient();
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  absl::StatusOr<v1::TransferStatus> st =
      client->SendFile((tmp_ / "events.csv").string(), Header(),
                       [&](uint64_t sent, uint64_t total) { progress.emplace_back(sent, total); });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(edge_.received, content);
  EXPECT_EQ(edge_.stream_starts, std::vector<uint64_t>{0});
  ASSERT_EQ(progress.size(), 5u);  // 4 x 1000 + 500
  EXPECT_EQ(progress.back(), std::make_pair(uint64_t{4500}, uint64_t{4500}));
}

TEST_F(SendFileTest, ResumesFromTheEdgesSizeAfterABrokenSession) {
  std::string content = Pattern(5300);
  WriteFile(tmp_ / "big.csv", content);
  edge_.break_after = 2500;  // the chunk [2000, 3000) breaks the session
  auto client = MakeClient();
  uint64_t last_progress = 0;
  bool monotonic_after_resume = true;
  absl::StatusOr<v1::TransferStatus> st =
      client->SendFile((tmp_ / "big.csv").string(), Header(), [&](uint64_t sent, uint64_t total) {
        EXPECT_EQ(total, 5300u);
        if (sent <= last_progress) monotonic_after_resume = false;
        last_progress = sent;
      });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(edge_.reconnects, 1);
  ASSERT_EQ(edge_.stream_starts.size(), 2u);
  EXPECT_EQ(edge_.stream_starts[0], 0u);
  EXPECT_EQ(edge_.stream_starts[1], 2000u) << "the resumed stream must start at the edge's size";
  EXPECT_TRUE(edge_.stream_had_header[1]) << "a resumed stream repeats the header";
  EXPECT_EQ(edge_.received, content) << "bytes must be contiguous and complete";
  EXPECT_TRUE(monotonic_after_resume);
  EXPECT_EQ(last_progress, 5300u);
  // The GetTransfer in between asked where the edge stood.
  EXPECT_NE(std::find(edge_.methods_called.begin(), edge_.methods_called.end(),
                      "/beibu.v1.Exchange/GetTransfer"),
            edge_.methods_called.end());
}

TEST_F(SendFileTest, ReturnsTheEdgesAnswerWhenOnlyTheReplyWasLost) {
  WriteFile(tmp_ / "f", Pattern(1200));
  int get_calls = 0;
  edge_.break_after = 1100;  // the second (last) chunk breaks it
  edge_.on_call = [&](const std::string& method, const google::protobuf::Message&,
                      google::protobuf::Message* resp) {
    ++get_calls;
    auto* st = static_cast<v1::TransferStatus*>(resp);
    st->set_state(v1::DELIVERED);  // the edge got it all before the break
    st->set_size(1200);
    return absl::OkStatus();
  };
  auto client = MakeClient();
  absl::StatusOr<v1::TransferStatus> st = client->SendFile((tmp_ / "f").string(), Header());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state(), v1::DELIVERED);
  EXPECT_EQ(get_calls, 1);
  EXPECT_EQ(edge_.stream_starts.size(), 1u) << "no second stream for a finished transfer";
}

TEST_F(SendFileTest, RefusesToResumeWhenTheEdgeHoldsMoreThanTheFile) {
  WriteFile(tmp_ / "f", Pattern(1500));
  edge_.break_after = 1200;
  edge_.on_call = [&](const std::string&, const google::protobuf::Message&,
                      google::protobuf::Message* resp) {
    auto* st = static_cast<v1::TransferStatus*>(resp);
    st->set_state(v1::RECEIVING);
    st->set_size(9999);
    return absl::OkStatus();
  };
  auto client = MakeClient();
  absl::StatusOr<v1::TransferStatus> st = client->SendFile((tmp_ / "f").string(), Header());
  EXPECT_TRUE(absl::IsFailedPrecondition(st.status())) << st.status();
  EXPECT_NE(st.status().message().find("file changed"), std::string_view::npos);
}

TEST_F(SendFileTest, MissingFileIsNotFound) {
  auto client = MakeClient();
  EXPECT_TRUE(absl::IsNotFound(client->SendFile((tmp_ / "nope").string(), Header()).status()));
}

TEST_F(SendFileTest, EmptyFileIsOneLastChunk) {
  WriteFile(tmp_ / "empty", "");
  auto client = MakeClient();
  absl::StatusOr<v1::TransferStatus> st = client->SendFile((tmp_ / "empty").string(), Header());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(edge_.complete);
  EXPECT_EQ(edge_.stream_starts, std::vector<uint64_t>{0});
}

}  // namespace
}  // namespace beibu::testing
