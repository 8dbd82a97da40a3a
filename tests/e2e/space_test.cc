// End to end with real processes: a hub and edges enrol, heartbeat, survive
// kill -9, are revoked and refused; the CLI is the operator's tool throughout.
#include <grpcpp/create_channel.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "cluster.h"
#include "health.grpc.pb.h"

namespace beibu::testing {
namespace {

class SpaceTest : public ::testing::Test {
 protected:
  void SetUp() override { cluster_.StartHub(); }
  Cluster cluster_;
};

TEST_F(SpaceTest, EdgesEnrolAndReportHealthy) {
  cluster_.AddEdge("edge-vn", "VN");
  cluster_.AddEdge("edge-sg", "SG");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-vn", "online")) << cluster_.EdgeLog("edge-vn");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-sg", "online")) << cluster_.EdgeLog("edge-sg");
  nlohmann::json vn = cluster_.Node("edge-vn");
  EXPECT_EQ(vn["country"], "VN");
  EXPECT_EQ(vn["role"], "edge");
  EXPECT_EQ(vn["last_status"]["software_version"], "0.1.0");

  std::vector<std::string> args = {"nodes"};
  for (const std::string& f : cluster_.OperatorFlags()) args.push_back(f);
  RunResult table = cluster_.Beibu(args);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("edge-sg"), std::string::npos);
  EXPECT_NE(table.out.find("online"), std::string::npos);
  EXPECT_EQ(table.out.find("operator"), std::string::npos) << "plain `nodes` lists edges only";

  // Tokens, enrolments and connections went into the hub's audit log, and the
  // hub signs a checkpoint over it within a second or so.
  std::filesystem::path note = cluster_.dir() / "hub-data/audit/checkpoint.note";
  EXPECT_TRUE(cluster_.WaitForLog([&] { return ReadFile(note); }, "beibu/hub\n"))
      << "no signed checkpoint of the hub's audit log";
  EXPECT_NE(ReadFile(note).find("\xE2\x80\x94 hub "), std::string::npos) << ReadFile(note);
}

TEST_F(SpaceTest, KilledEdgeReconnectsWithoutEnrollingAgain) {
  cluster_.AddEdge("edge-my", "MY");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-my", "online")) << cluster_.EdgeLog("edge-my");
  nlohmann::json before = cluster_.Node("edge-my");

  cluster_.KillEdge("edge-my", SIGKILL);
  EXPECT_TRUE(cluster_.WaitForHealth("edge-my", "offline"));
  // The join token was single use; the restarted edge must not need it.
  cluster_.DropJoinToken("edge-my");
  cluster_.StartEdge("edge-my");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-my", "online")) << cluster_.EdgeLog("edge-my");
  nlohmann::json after = cluster_.Node("edge-my");
  EXPECT_EQ(after["serial_hex"], before["serial_hex"]);
  EXPECT_EQ(after["enrolled_at"], before["enrolled_at"]);
  std::string log = cluster_.EdgeLog("edge-my");
  size_t enrolments = 0;
  for (size_t at = log.find("event=enrolling"); at != std::string::npos;
       at = log.find("event=enrolling", at + 1)) {
    ++enrolments;
  }
  EXPECT_EQ(enrolments, 1u) << log;
}

TEST_F(SpaceTest, RevokedEdgeIsCutOffAndRefusedAfterRestart) {
  cluster_.AddEdge("edge-th", "TH");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-th", "online")) << cluster_.EdgeLog("edge-th");
  std::vector<std::string> args = {"pki", "revoke", "--node", "edge-th"};
  for (const std::string& f : cluster_.OperatorFlags()) args.push_back(f);
  RunResult r = cluster_.Beibu(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(cluster_.WaitForHealth("edge-th", "revoked"));
  EXPECT_TRUE(cluster_.WaitForLog([&] { return cluster_.EdgeLog("edge-th"); }, "is revoked"))
      << cluster_.EdgeLog("edge-th");

  cluster_.KillEdge("edge-th", SIGKILL);
  std::string before = cluster_.HubLog();
  cluster_.StartEdge("edge-th");
  EXPECT_TRUE(cluster_.WaitForLog([&] { return cluster_.HubLog().substr(before.size()); },
                                  "PERMISSION_DENIED"))
      << cluster_.HubLog();
  EXPECT_TRUE(cluster_.WaitForHealth("edge-th", "revoked"));
}

TEST_F(SpaceTest, RevocationReachesEdgesWhichThenRefuseTheCertificate) {
  cluster_.AddEdge("edge-cn", "CN");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-cn", "online"));
  std::string token = cluster_.CreateToken("acme-trading", "enterprise", "CN");
  std::string id_dir = (cluster_.dir() / "acme").string();
  RunResult enrol = cluster_.Beibu({"enroll", "--hub", cluster_.hub_address(), "--token", token,
                                    "--out", id_dir, "--id", "acme-trading"});
  ASSERT_EQ(enrol.exit_code, 0) << enrol.err;

  std::string edge = "127.0.0.1:" + std::to_string(cluster_.EdgePort("edge-cn"));
  RunResult info = cluster_.Beibu({"node", "info", "--server", edge, "--identity", id_dir});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("edge-cn (edge, CN)"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("acme-trading (enterprise)"), std::string::npos) << info.out;

  // Single use: the same token enrols nobody else.
  RunResult again = cluster_.Beibu({"enroll", "--hub", cluster_.hub_address(), "--token", token,
                                    "--out", (cluster_.dir() / "acme2").string()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("not accepted"), std::string::npos) << again.err;

  std::vector<std::string> args = {"pki", "revoke", "--node", "acme-trading"};
  for (const std::string& f : cluster_.OperatorFlags()) args.push_back(f);
  ASSERT_EQ(cluster_.Beibu(args).exit_code, 0);
  ASSERT_TRUE(
      cluster_.WaitForLog([&] { return cluster_.EdgeLog("edge-cn"); }, "event=bundle_installed"))
      << cluster_.EdgeLog("edge-cn");
  RunResult refused = cluster_.Beibu({"node", "info", "--server", edge, "--identity", id_dir});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("revoked"), std::string::npos) << refused.err;
}

TEST_F(SpaceTest, EdgeAuditLogIsAnchoredAndAReplacedLogRaisesAnAlarm) {
  cluster_.AddEdge("edge-kh", "KH");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-kh", "online"));
  ASSERT_TRUE(cluster_.WaitForLog([&] { return cluster_.EdgeLog("edge-kh"); }, "event=anchored"))
      << cluster_.EdgeLog("edge-kh");
  std::string anchored = ReadFile(cluster_.dir() / "edge-kh/audit/anchored.note");
  EXPECT_NE(anchored.find("\xE2\x80\x94 edge-kh "), std::string::npos) << anchored;
  EXPECT_NE(anchored.find("\xE2\x80\x94 hub "), std::string::npos) << "no hub cosignature";

  // Someone wipes the edge's audit log: the new log cannot extend the one
  // the hub witnessed, and the hub raises it.
  cluster_.KillEdge("edge-kh", SIGKILL);
  std::filesystem::remove_all(cluster_.dir() / "edge-kh/audit");
  cluster_.DropJoinToken("edge-kh");
  cluster_.StartEdge("edge-kh");
  EXPECT_TRUE(cluster_.WaitForLog([&] { return cluster_.HubLog(); },
                                  "event=anchor_alarm node=edge-kh"))
      << cluster_.HubLog();
}

TEST_F(SpaceTest, ReceiptIssuedInVietnamVerifiesOfflineAndInSingapore) {
  cluster_.AddEdge("edge-vn", "VN");
  cluster_.AddEdge("edge-sg", "SG");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-vn", "online"));
  ASSERT_TRUE(cluster_.WaitForHealth("edge-sg", "online"));
  auto enrol = [&](const std::string& id, const std::string& cc) {
    std::string dir = (cluster_.dir() / id).string();
    RunResult r = cluster_.Beibu({"enroll", "--hub", cluster_.hub_address(), "--token",
                                  cluster_.CreateToken(id, "enterprise", cc), "--out", dir});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir;
  };
  std::string exporter = enrol("vn-coffee", "VN");
  std::string importer = enrol("sg-traders", "SG");
  std::string doc = (cluster_.dir() / "contract.txt").string();
  WriteFile(doc, "Sale of 20 t of robusta coffee, FOB Ho Chi Minh City, USD 98,000.\n");
  std::string receipt = (cluster_.dir() / "contract.receipt.json").string();
  auto at = [&](const std::string& edge) {
    return "127.0.0.1:" + std::to_string(cluster_.EdgePort(edge));
  };
  RunResult n = cluster_.Beibu({"notarize", doc, "--server", at("edge-vn"), "--identity", exporter,
                                "--type", "e_contract", "--party", "sg-traders", "--out", receipt,
                                "--wait", "20"});
  ASSERT_EQ(n.exit_code, 0) << n.err;
  EXPECT_NE(n.out.find("anchored"), std::string::npos) << n.out;

  std::string trust = (cluster_.dir() / "pki/trust-bundle.pem").string();
  RunResult offline = cluster_.Beibu({"verify", receipt, doc, "--trust", trust});
  EXPECT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_NE(offline.out.find("anchored by hub"), std::string::npos) << offline.out;

  RunResult online = cluster_.Beibu({"verify", receipt, doc, "--server", at("edge-sg"),
                                     "--identity", importer});
  EXPECT_EQ(online.exit_code, 0) << online.err;
  EXPECT_NE(online.out.find("checked at edge-sg"), std::string::npos) << online.out;

  std::string forged = (cluster_.dir() / "forged.txt").string();
  WriteFile(forged, "Sale of 20 t of robusta coffee, FOB Ho Chi Minh City, USD 9,800.\n");
  RunResult altered_doc = cluster_.Beibu({"verify", receipt, forged, "--trust", trust});
  EXPECT_EQ(altered_doc.exit_code, 1);
  EXPECT_NE(altered_doc.err.find("document does not match"), std::string::npos) << altered_doc.err;

  std::string json = ReadFile(receipt);
  size_t at_index = json.find("\"index\": ");
  ASSERT_NE(at_index, std::string::npos) << json;
  std::string tampered = json;
  tampered.insert(at_index + 9, "1");  // index N becomes 1N
  WriteFile(cluster_.dir() / "tampered.json", tampered);
  RunResult altered = cluster_.Beibu(
      {"verify", (cluster_.dir() / "tampered.json").string(), doc, "--trust", trust});
  EXPECT_NE(altered.exit_code, 0) << altered.out;
}

TEST_F(SpaceTest, HubRestartKeepsRegistryAndEdgesReconnectAndCatchUp) {
  cluster_.AddEdge("edge-id", "ID");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-id", "online"));
  ASSERT_TRUE(cluster_.WaitForLog([&] { return cluster_.EdgeLog("edge-id"); }, "event=anchored"));
  cluster_.KillHub(SIGKILL);
  // While the hub is away the edge keeps logging (its restart logs an event)…
  cluster_.KillEdge("edge-id", SIGTERM);
  cluster_.DropJoinToken("edge-id");
  size_t before = cluster_.EdgeLog("edge-id").size();
  cluster_.StartEdge("edge-id");
  ASSERT_TRUE(cluster_.WaitForLog(
      [&] { return cluster_.EdgeLog("edge-id").substr(before); }, "event=started"));
  cluster_.RestartHub();
  ASSERT_TRUE(cluster_.WaitForHealth("edge-id", "online", std::chrono::seconds(30)))
      << cluster_.EdgeLog("edge-id");
  // …and anchors everything since at the hub once it is back.
  EXPECT_TRUE(cluster_.WaitForLog([&] { return cluster_.EdgeLog("edge-id").substr(before); },
                                  "event=anchored", std::chrono::seconds(40)))
      << cluster_.EdgeLog("edge-id");
}

TEST_F(SpaceTest, VietnamsRegulatorSeesVietnamOnly) {
  cluster_.AddEdge("edge-vn", "VN");
  cluster_.AddEdge("edge-sg", "SG");
  ASSERT_TRUE(cluster_.WaitForHealth("edge-vn", "online"));
  ASSERT_TRUE(cluster_.WaitForHealth("edge-sg", "online"));
  auto enrol = [&](const std::string& id, const std::string& role, const std::string& cc) {
    std::string dir = (cluster_.dir() / id).string();
    RunResult r = cluster_.Beibu({"enroll", "--hub", cluster_.hub_address(), "--token",
                                  cluster_.CreateToken(id, role, cc), "--out", dir});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir;
  };
  std::string regulator = enrol("vn-mps", "regulator", "VN");
  std::string officer = enrol("vn-officer", "officer", "VN");
  // The hub's log holds events of every country; the VN regulator gets VN's.
  RunResult q = cluster_.Beibu({"audit", "query", "--json", "--server", cluster_.hub_address(),
                                "--identity", regulator});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find("edge-vn"), std::string::npos) << q.out;
  EXPECT_EQ(q.out.find("edge-sg"), std::string::npos) << "an SG event leaked to VN's regulator";
  RunResult denied = cluster_.Beibu({"audit", "query", "--server",
                                     "127.0.0.1:" + std::to_string(cluster_.EdgePort("edge-vn")),
                                     "--identity", officer});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.err.find("regulator"), std::string::npos) << denied.err;
}

TEST_F(SpaceTest, OnlyOperatorsAdministerAndOnlyEdgesHeartbeat) {
  std::string token = cluster_.CreateToken("vn-regulator", "regulator", "VN");
  std::string id_dir = (cluster_.dir() / "reg").string();
  ASSERT_EQ(
      cluster_.Beibu({"enroll", "--hub", cluster_.hub_address(), "--token", token, "--out", id_dir})
          .exit_code,
      0);
  RunResult r = cluster_.Beibu({"nodes", "--server", cluster_.hub_address(), "--identity", id_dir});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("regulator"), std::string::npos) << r.err;
}

TEST_F(SpaceTest, HealthServiceAndCleanShutdown) {
  auto channel = grpc::CreateChannel(cluster_.hub_address(), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("beibu.v1.Tunnel");
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  cluster_.KillHub(SIGTERM);
  EXPECT_TRUE(cluster_.HubLog().find("event=stopped") != std::string::npos) << cluster_.HubLog();
}

TEST(SpaceTlsTest, TheChannelRunsOverTlsTransportToo) {
  Cluster cluster;
  cluster.EnableTls();
  cluster.StartHub();
  cluster.AddEdge("edge-ph", "PH");
  ASSERT_TRUE(cluster.WaitForHealth("edge-ph", "online")) << cluster.EdgeLog("edge-ph");
  // Without the TLS root the CLI cannot talk to a TLS hub, and says why.
  std::vector<std::string> plain = {"nodes",
                                    "--server",
                                    cluster.hub_address(),
                                    "--key",
                                    (cluster.dir() / "pki/operator.key").string(),
                                    "--cert",
                                    (cluster.dir() / "pki/operator.crt").string(),
                                    "--trust",
                                    (cluster.dir() / "pki/trust-bundle.pem").string()};
  RunResult r = cluster.Beibu(plain);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
}

TEST_F(SpaceTest, BadConfigurationsAreRefusedClearly) {
  WriteFile(cluster_.dir() / "bad.yaml",
            "node_id: edge-x\nhub: 127.0.0.1:1\ndata_dir: /tmp/x\nlisten_adress: 1\n");
  RunResult r =
      testing::Run({BinPath("beibu-edge"), "--config", (cluster_.dir() / "bad.yaml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.yaml:4: unknown setting 'listen_adress'"), std::string::npos) << r.err;
  WriteFile(cluster_.dir() / "bad2.yaml", "node_id: edge-x\nhub: 127.0.0.1:1\ndata_dir: " +
                                              (cluster_.dir() / "x").string() + "\n");
  r = testing::Run({BinPath("beibu-edge"), "--config", (cluster_.dir() / "bad2.yaml").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("no join_token"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace beibu::testing
