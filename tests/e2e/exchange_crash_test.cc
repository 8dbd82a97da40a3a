// Kill -9 of the source edge, the hub or the destination edge in the middle of
// a stream of 10,000 messages VN -> CN, then restart: every acknowledged
// message is delivered exactly once, in the sender's order, and the audit
// logs of the three nodes name the same transfers.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "cluster.h"
#include "exchange_client.h"

namespace beibu::testing {
namespace {

constexpr size_t kMessages = 10000;

// The transfer ids of `operation` events in a node's audit log, as the VN
// regulator reads them (every event of these transfers touches VN).
std::multiset<std::string> AuditedTransfers(Cluster& c, const std::string& server,
                                            const std::filesystem::path& regulator,
                                            const std::string& operation) {
  RunResult r = c.Beibu({"audit", "query", "--server", server, "--identity", regulator.string(),
                         "--operation", operation, "--json", "--limit", "0", "--page-size",
                         "1000"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::multiset<std::string> ids;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    const nlohmann::json& e = j.contains("event") ? j["event"] : j;
    if (e.contains("transfer_id")) ids.insert(e["transfer_id"].get<std::string>());
  }
  return ids;
}

std::string SafeEdgeAddress(const Cluster& c, const std::string& id) {
  std::string port = ReadFile(c.dir() / (id + ".port"));
  return port.empty() ? "127.0.0.1:1" : "127.0.0.1:" + port;
}

class CrashTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashTest, EveryAcknowledgedMessageArrivesOnceInOrder) {
  const std::string victim = GetParam();
  Cluster c;
  c.StartHub();
  c.AddEdge("edge-vn", "VN");
  c.AddEdge("edge-cn", "CN");
  ASSERT_TRUE(c.WaitForHealth("edge-vn", "online")) << c.EdgeLog("edge-vn");
  ASSERT_TRUE(c.WaitForHealth("edge-cn", "online")) << c.EdgeLog("edge-cn");
  std::filesystem::path sender = c.Enroll("vn-shipper", "enterprise", "VN");
  std::filesystem::path receiver = c.Enroll("cn-buyer", "enterprise", "CN");
  std::filesystem::path regulator = c.Enroll("vn-regulator", "regulator", "VN");

  InboxDrain drain([&] { return SafeEdgeAddress(c, "edge-cn"); }, receiver);
  drain.Start();
  StreamSender s;
  s.address = [&] { return SafeEdgeAddress(c, "edge-vn"); };
  s.identity = sender;
  s.to_country = "CN";
  s.to_enterprise = "cn-buyer";
  s.id_prefix = "crash-" + victim + "-transfer-";  // ids must have 16 characters or more
  s.count = kMessages;

  std::thread killer([&] {
    // Kill once a third of the stream has been delivered, restart at once.
    drain.WaitForDistinct(kMessages / 3, std::chrono::seconds(120));
    if (victim == "hub") {
      c.KillHub(SIGKILL);
      c.RestartHub();
    } else {
      c.KillEdge(victim, SIGKILL);
      c.DropJoinToken(victim);
      c.StartEdge(victim);
    }
  });
  absl::Status sent = s.Run(std::chrono::seconds(300));
  killer.join();
  ASSERT_TRUE(sent.ok()) << sent;
  ASSERT_EQ(s.acknowledged.size(), kMessages);
  // Every message arrives (an ack whose answer was lost to the crash may be
  // durable at the edge: then the drain saw the delivery but not the ack).
  ASSERT_TRUE(drain.WaitForDistinct(kMessages, std::chrono::seconds(180)))
      << drain.acknowledged_count() << " of " << kMessages << " delivered";
  drain.Stop();

  // Exactly once: nothing acknowledged came back; every message arrived.
  EXPECT_TRUE(drain.redelivered_after_ack().empty())
      << drain.redelivered_after_ack().size() << " redelivered after their ack";
  std::vector<std::string> got = drain.received();
  std::map<std::string, size_t> position;  // first arrival
  for (size_t i = 0; i < got.size(); ++i) position.emplace(got[i], i);
  ASSERT_EQ(position.size(), kMessages);
  // In order: first arrivals follow the order the sends were acknowledged.
  size_t out_of_order = 0;
  std::string examples;
  for (size_t i = 1; i < s.acknowledged.size(); ++i) {
    if (position[s.acknowledged[i]] < position[s.acknowledged[i - 1]]) {
      if (++out_of_order <= 5) {
        examples += absl::StrCat("\n  ", s.acknowledged[i - 1], " arrived ",
                                 position[s.acknowledged[i - 1]], "th but ", s.acknowledged[i],
                                 " arrived ", position[s.acknowledged[i]], "th");
      }
    }
  }
  EXPECT_EQ(out_of_order, 0u) << examples;
  EXPECT_EQ(drain.payload(s.acknowledged[42]), absl::StrCat("container ", s.id_prefix, 42,
                                                            " left the port"));

  // The three audit logs agree: each transfer accepted at the source,
  // relayed by the hub and delivered at the destination, at least once each
  // (a crash between the hub's audit append and its queue write may log a
  // relay twice, never zero times).
  std::set<std::string> want(s.acknowledged.begin(), s.acknowledged.end());
  auto check = [&](const std::string& server, const std::string& op) {
    std::multiset<std::string> ids = AuditedTransfers(c, server, regulator, op);
    std::set<std::string> distinct(ids.begin(), ids.end());
    std::set<std::string> ours;
    for (const std::string& id : distinct) {
      if (id.rfind(s.id_prefix, 0) == 0) ours.insert(id);
    }
    EXPECT_EQ(ours.size(), want.size()) << op << " at " << server;
    EXPECT_TRUE(ours == want) << op << " at " << server << " names other transfers";
  };
  check(SafeEdgeAddress(c, "edge-vn"), "transfer.accept");
  check(c.hub_address(), "transfer.relayed");
  check(SafeEdgeAddress(c, "edge-cn"), "transfer.delivered");
}

INSTANTIATE_TEST_SUITE_P(KillNine, CrashTest,
                         ::testing::Values("edge-vn", "hub", "edge-cn"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace beibu::testing
