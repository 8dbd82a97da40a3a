// Risk warnings: recent routes re-decided under a new policy version.
#include "risk_advisor.h"

#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_replace.h"
#include "beibu/audit/audit_log.h"
#include "beibu/policy/database.h"
#include "temp_dir.h"

namespace beibu::edge {
namespace {

policy::Database Baseline() {
  absl::StatusOr<policy::Database> db = policy::LoadDatabase(policy::BaselineFiles());
  EXPECT_TRUE(db.ok()) << db.status();
  return *db;
}

// The baseline with logistics tracks made sandbox-only, as version 2.
policy::Database LogisticsSandboxed() {
  policy::PolicyFiles files = policy::BaselineFiles();
  files["manifest.yaml"] =
      absl::StrReplaceAll(files["manifest.yaml"], {{"version: 1", "version: 2"}});
  files["taxonomy.yaml"] = absl::StrReplaceAll(
      files["taxonomy.yaml"], {{"description: Shipment tracking events\n    level: GENERAL",
                                "description: Shipment tracking events\n    level: GENERAL\n"
                                "    sandbox_only: true"}});
  absl::StatusOr<policy::Database> db = policy::LoadDatabase(files);
  EXPECT_TRUE(db.ok()) << db.status();
  return *db;
}

policy::RouteRequest Route(const std::string& category) {
  policy::RouteRequest r;
  r.from = "VN";
  r.to = "CN";
  r.category = category;
  return r;
}

TEST(RiskAdvisorTest, WarnsExactlyTheExportersWhoseRoutesChange) {
  testing::TempDir dir;
  auto advisor = RiskAdvisor::Open({.state_path = (dir.path() / "warnings.pb").string()});
  ASSERT_TRUE(advisor.ok()) << advisor.status();
  (*advisor)->Record("vn-shipper", Route("logistics.track"));
  (*advisor)->Record("vn-shipper", Route("logistics.track"));  // the same route once
  (*advisor)->Record("vn-trader", Route("trade.contract"));    // unaffected

  std::vector<v1::RiskWarning> issued =
      (*advisor)->OnPolicyApplied(Baseline(), LogisticsSandboxed());
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].exporter(), "vn-shipper");
  EXPECT_EQ(issued[0].before(), "FAST");
  EXPECT_EQ(issued[0].after(), "SANDBOX_ONLY");
  EXPECT_EQ(issued[0].old_version(), 1u);
  EXPECT_EQ(issued[0].new_version(), 2u);
  EXPECT_FALSE(issued[0].reason().empty());
  EXPECT_EQ((*advisor)->For("vn-shipper").size(), 1u);
  EXPECT_TRUE((*advisor)->For("vn-trader").empty());
}

TEST(RiskAdvisorTest, WarningsSurviveARestartAndAreAudited) {
  testing::TempDir dir;
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  auto log = audit::AuditLog::Open(
      {.dir = (dir.path() / "audit").string(), .node_id = "edge-vn", .key = *std::move(key)});
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string state = (dir.path() / "warnings.pb").string();
  {
    auto advisor = RiskAdvisor::Open({.state_path = state, .audit = log->get()});
    ASSERT_TRUE(advisor.ok());
    (*advisor)->Record("vn-shipper", Route("logistics.track"));
    ASSERT_EQ((*advisor)->OnPolicyApplied(Baseline(), LogisticsSandboxed()).size(), 1u);
  }
  auto reopened = RiskAdvisor::Open({.state_path = state});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_EQ((*reopened)->For("vn-shipper").size(), 1u);
  EXPECT_EQ((*reopened)->For("vn-shipper")[0].after(), "SANDBOX_ONLY");

  absl::StatusOr<Bytes> entry = (*log)->store().Entry(0);
  ASSERT_TRUE(entry.ok()) << entry.status();
  absl::StatusOr<v1::AuditEvent> e = audit::DecodeAuditEvent(*entry);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->operation(), "policy.risk_warning");
  EXPECT_EQ(e->who().id(), "vn-shipper");
  EXPECT_EQ(e->decision(), "SANDBOX_ONLY");
}

TEST(RiskAdvisorTest, ForgetsTheOldestRoutesBeyondCapacityAndRefusesAGarbledStateFile) {
  testing::TempDir dir;
  auto advisor = RiskAdvisor::Open({.state_path = (dir.path() / "w.pb").string(), .capacity = 1});
  ASSERT_TRUE(advisor.ok());
  (*advisor)->Record("old-exporter", Route("logistics.track"));
  (*advisor)->Record("new-exporter", Route("logistics.track"));
  std::vector<v1::RiskWarning> issued =
      (*advisor)->OnPolicyApplied(Baseline(), LogisticsSandboxed());
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].exporter(), "new-exporter");

  std::ofstream(dir.path() / "bad.pb") << "\xff\xff\xff not a warning list";
  auto bad = RiskAdvisor::Open({.state_path = (dir.path() / "bad.pb").string()});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace beibu::edge
