// End to end for the client SDK and the CLI's data plane: a Vietnamese
// shipper sends tracking events to a Chinese importer through its edge, the
// hub and the Chinese edge; the importer receives exactly the bytes sent.
// The SDK examples (sdk/examples) and `beibu send|inbox|transfer` run as
// subprocesses, the way an enterprise would run them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "cluster.h"

namespace beibu::testing {
namespace {

const char kEvents[] =
    "shipment_id,event,location,time\n"
    "SHP-20261127-001,loaded,Hai Phong port,2026-11-27T08:00:00Z\n"
    "SHP-20261127-001,departed,Hai Phong port,2026-11-27T09:30:00Z\n"
    "SHP-20261127-001,border_crossed,Dong Dang / Pingxiang,2026-11-27T15:10:00Z\n"
    "SHP-20261127-001,arrived,Nanning logistics park,2026-11-27T19:45:00Z\n";

class SdkExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartHub();
    cluster_.AddEdge("edge-vn", "VN");
    cluster_.AddEdge("edge-cn", "CN");
    ASSERT_TRUE(cluster_.WaitForHealth("edge-vn", "online")) << cluster_.EdgeLog("edge-vn");
    ASSERT_TRUE(cluster_.WaitForHealth("edge-cn", "online")) << cluster_.EdgeLog("edge-cn");
    shipper_ = Enrol("vn-shipper", "VN");
    importer_ = Enrol("cn-importer", "CN");
  }

  std::string Enrol(const std::string& id, const std::string& country) {
    std::string dir = (cluster_.dir() / id).string();
    RunResult r =
        cluster_.Beibu({"enroll", "--hub", cluster_.hub_address(), "--token",
                        cluster_.CreateToken(id, "enterprise", country), "--out", dir, "--id", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir;
  }

  std::string At(const std::string& edge) const {
    return "127.0.0.1:" + std::to_string(cluster_.EdgePort(edge));
  }

  // Runs `run` until `path` exists (the delivery crosses two edges and the
  // hub asynchronously), up to `timeout`.
  bool PollUntilFile(const std::function<void()>& run, const std::filesystem::path& path,
                     std::chrono::seconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      run();
      if (std::filesystem::exists(path)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  Cluster cluster_;
  std::string shipper_, importer_;
};

TEST_F(SdkExamplesTest, ExamplesSendVietnamToChinaAndTheImporterReceivesTheSameBytes) {
  std::string csv = (cluster_.dir() / "events.csv").string();
  WriteFile(csv, kEvents);
  RunResult sent =
      beibu::testing::Run({BinPath("beibu_example_send"), "--server", At("edge-vn"), "--identity",
                           shipper_, "--to", "CN", "--to-enterprise", "cn-importer", "--category",
                           "logistics.track", "--content-type", "text/csv", "--file", csv});
  ASSERT_EQ(sent.exit_code, 0) << sent.err << sent.out;
  std::istringstream words(sent.out);
  std::string id, decision;
  words >> id >> decision;
  EXPECT_EQ(id.size(), 32u) << sent.out;
  EXPECT_EQ(decision, "FAST") << "tracking events without personal data: " << sent.out;

  std::filesystem::path out = cluster_.dir() / "received";
  RunResult inbox;
  ASSERT_TRUE(PollUntilFile(
      [&] {
        inbox = beibu::testing::Run({BinPath("beibu_example_inbox"), "--server", At("edge-cn"),
                                     "--identity", importer_, "--out", out.string(), "--idle-ms",
                                     "1000", "--max", "1"});
      },
      out / id))
      << "exit " << inbox.exit_code << ": " << inbox.err << inbox.out << "\n"
      << cluster_.EdgeLog("edge-cn");
  EXPECT_EQ(ReadFile(out / id), kEvents);
  EXPECT_NE(inbox.out.find(id + " vn-shipper logistics.track"), std::string::npos) << inbox.out;

  // The example acknowledged it: the shipper sees that, and the inbox is empty.
  RunResult status = cluster_.Beibu({"transfer", id, "--server", At("edge-vn"), "--identity",
                                     shipper_, "--wait", "ACKNOWLEDGED", "--timeout", "30"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("ACKNOWLEDGED"), std::string::npos) << status.out;
  RunResult again = beibu::testing::Run({BinPath("beibu_example_inbox"), "--server", At("edge-cn"),
                                         "--identity", importer_, "--out",
                                         (cluster_.dir() / "again").string(), "--idle-ms", "1000"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "") << "an acknowledged delivery must not come again";
}

TEST_F(SdkExamplesTest, CliSendsInboxWritesAndAcknowledges) {
  RunResult sent =
      cluster_.Beibu({"send", "--server", At("edge-vn"), "--identity", shipper_, "--to", "CN",
                      "--to-enterprise", "cn-importer", "--category", "logistics.track",
                      "--content-type", "text/csv", "--data", kEvents, "--json"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err << sent.out;
  nlohmann::json st = nlohmann::json::parse(sent.out, nullptr, false);
  ASSERT_FALSE(st.is_discarded()) << sent.out;
  std::string id = st.value("transfer_id", "");
  ASSERT_EQ(id.size(), 32u) << sent.out;
  EXPECT_EQ(st["decision"]["decision"], "FAST") << sent.out;

  std::filesystem::path out = cluster_.dir() / "cli-received";
  RunResult inbox;
  ASSERT_TRUE(PollUntilFile(
      [&] {
        inbox = cluster_.Beibu({"inbox", "--server", At("edge-cn"), "--identity", importer_,
                                "--out", out.string(), "--ack", "--json", "--max", "1"});
      },
      out / id))
      << "exit " << inbox.exit_code << ": " << inbox.err << inbox.out;
  EXPECT_EQ(inbox.exit_code, 0) << inbox.err;
  EXPECT_EQ(ReadFile(out / id), kEvents);
  nlohmann::json line = nlohmann::json::parse(inbox.out, nullptr, false);
  ASSERT_FALSE(line.is_discarded()) << inbox.out;
  EXPECT_EQ(line["transfer_id"], id);
  EXPECT_EQ(line["from_enterprise"], "vn-shipper");
  EXPECT_EQ(line["acknowledged"], true);

  RunResult status = cluster_.Beibu({"transfer", id, "--server", At("edge-vn"), "--identity",
                                     shipper_, "--wait", "ACKNOWLEDGED", "--timeout", "30"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("state:    ACKNOWLEDGED"), std::string::npos) << status.out;
}

}  // namespace
}  // namespace beibu::testing
