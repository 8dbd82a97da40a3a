// DiffDatabases() and RiskWarnings() on edited copies of the baseline.
#include "beibu/policy/risk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "test_support.h"

namespace beibu::policy {
namespace {

Rule* FindRule(Database& db, const std::string& id) {
  for (Rule& r : db.global_rules) {
    if (r.id == id) return &r;
  }
  for (auto& [code, j] : db.jurisdictions) {
    for (Rule& r : j.export_rules) {
      if (r.id == id) return &r;
    }
  }
  return nullptr;
}

RecentRoute Route(std::string exporter, std::string from, std::string to, std::string category,
                  int64_t persons, std::vector<std::string> attested = {}) {
  RecentRoute r;
  r.exporter = std::move(exporter);
  r.request.from = std::move(from);
  r.request.to = std::move(to);
  r.request.category = std::move(category);
  r.request.persons = persons;
  r.request.attested = std::move(attested);
  return r;
}

TEST(DiffDatabasesTest, SameMeaningDiffsEmpty) {
  const Database& old_db = testing::Baseline();
  EXPECT_TRUE(DiffDatabases(old_db, old_db).empty());
  // Line numbers, digest and the order of a set are formatting, not meaning.
  Database copy = old_db;
  copy.digest_hex = "different";
  Rule* rule = FindRule(copy, "CN-PI-002");
  ASSERT_NE(rule, nullptr);
  rule->line += 7;
  std::reverse(rule->unless_attested.begin(), rule->unless_attested.end());
  std::reverse(copy.pi_finding_types.begin(), copy.pi_finding_types.end());
  EXPECT_TRUE(DiffDatabases(old_db, copy).empty());
}

TEST(DiffDatabasesTest, LoweredThresholdIsARuleChangeAndAManifestChange) {
  const Database& old_db = testing::Baseline();
  Database new_db = old_db;
  new_db.version = old_db.version + 1;
  Rule* rule = FindRule(new_db, "CN-PI-002");
  ASSERT_NE(rule, nullptr);
  ASSERT_EQ(rule->when.persons_max, 1000000);
  rule->when.persons_max = 500000;
  std::vector<DatabaseChange> changes = DiffDatabases(old_db, new_db);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].what, "manifest");
  EXPECT_EQ(changes[0].kind, DatabaseChange::Kind::kChanged);
  EXPECT_NE(changes[0].detail.find("version"), std::string::npos);
  EXPECT_EQ(changes[1].what, "rule");
  EXPECT_EQ(changes[1].id, "CN-PI-002");
  EXPECT_EQ(changes[1].kind, DatabaseChange::Kind::kChanged);
  EXPECT_EQ(changes[1].detail, "persons_max 1000000 -> 500000");
}

TEST(DiffDatabasesTest, AddedRemovedAndChangedItemsSortedByWhatThenId) {
  const Database& old_db = testing::Baseline();
  Database new_db = old_db;
  Rule added;
  added.id = "SG-PI-002";
  added.decision = Decision::kReview;
  added.when.spi = true;
  new_db.jurisdictions["SG"].export_rules.push_back(added);
  new_db.categories.erase("tourism.flow");
  new_db.categories["customer.contact"].mask_profile = "";
  std::vector<NegativeListEntry>& entries = new_db.negative_lists["gx"].entries;
  ASSERT_FALSE(entries.empty());
  std::string removed_entry = entries.front().id;
  entries.erase(entries.begin());
  new_db.jurisdictions["VN"].regulator = "someone else";

  std::vector<DatabaseChange> changes = DiffDatabases(old_db, new_db);
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_EQ(changes[0].what, "category");
  EXPECT_EQ(changes[0].id, "customer.contact");
  EXPECT_EQ(changes[0].kind, DatabaseChange::Kind::kChanged);
  EXPECT_NE(changes[0].detail.find("mask_profile"), std::string::npos);
  EXPECT_EQ(changes[1].what, "category");
  EXPECT_EQ(changes[1].id, "tourism.flow");
  EXPECT_EQ(changes[1].kind, DatabaseChange::Kind::kRemoved);
  EXPECT_EQ(changes[2].what, "jurisdiction");
  EXPECT_EQ(changes[2].id, "VN");
  EXPECT_NE(changes[2].detail.find("regulator"), std::string::npos);
  EXPECT_EQ(changes[3].what, "negative-list-entry");
  EXPECT_EQ(changes[3].id, removed_entry);
  EXPECT_EQ(changes[3].kind, DatabaseChange::Kind::kRemoved);
  EXPECT_EQ(changes[4].what, "rule");
  EXPECT_EQ(changes[4].id, "SG-PI-002");
  EXPECT_EQ(changes[4].kind, DatabaseChange::Kind::kAdded);
}

TEST(RiskWarningsTest, LoweringPersonsMaxWarnsOnlyTheRoutesThatChange) {
  const Database& old_db = testing::Baseline();
  Database new_db = old_db;
  new_db.version = old_db.version + 1;
  Rule* rule = FindRule(new_db, "CN-PI-002");
  ASSERT_NE(rule, nullptr);
  rule->when.persons_max = 500000;

  std::vector<RecentRoute> routes = {
      // 600,000 persons: CN-PI-002 stops firing (REVIEW -> FAST).
      Route("acme", "CN", "SG", "hr.employee", 600000),
      // Below the new maximum: unchanged.
      Route("bolt", "CN", "SG", "hr.employee", 400000),
      // Attested standard contract: still FAST, but CN-PI-002 no longer fires.
      Route("crux", "CN", "TH", "hr.employee", 700000, {"cn-standard-contract"}),
      // Another source country: unchanged.
      Route("dyna", "VN", "SG", "hr.employee", 600000),
      // Above 1,000,000: CN-PI-004, unchanged.
      Route("echo", "CN", "SG", "hr.employee", 2000000),
  };
  std::vector<RiskWarning> warnings = RiskWarnings(old_db, new_db, routes);
  ASSERT_EQ(warnings.size(), 2u);

  EXPECT_EQ(warnings[0].exporter, "acme");
  EXPECT_EQ(warnings[0].before.decision, Decision::kReview);
  EXPECT_EQ(warnings[0].after.decision, Decision::kFast);
  EXPECT_EQ(warnings[0].rules_removed, (std::vector<std::string>{"CN-PI-002"}));
  EXPECT_TRUE(warnings[0].rules_added.empty());
  EXPECT_EQ(warnings[0].reason.rfind("REVIEW -> FAST", 0), 0u) << warnings[0].reason;
  EXPECT_NE(warnings[0].reason.find("CN-PI-002"), std::string::npos);

  EXPECT_EQ(warnings[1].exporter, "crux");
  EXPECT_EQ(warnings[1].before.decision, Decision::kFast);
  EXPECT_EQ(warnings[1].after.decision, Decision::kFast);
  EXPECT_EQ(warnings[1].rules_removed, (std::vector<std::string>{"CN-PI-002"}));
}

TEST(RiskWarningsTest, RaisingAThresholdReportsTheNewRule) {
  const Database& old_db = testing::Baseline();
  Database new_db = old_db;
  Rule* rule = FindRule(new_db, "CN-PI-001");
  ASSERT_NE(rule, nullptr);
  rule->when.persons_max = 49999;
  Rule* contract = FindRule(new_db, "CN-PI-002");
  ASSERT_NE(contract, nullptr);
  contract->when.persons_min = 50000;
  std::vector<RiskWarning> warnings =
      RiskWarnings(old_db, new_db, {Route("acme", "CN", "SG", "hr.employee", 60000)});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rules_added, (std::vector<std::string>{"CN-PI-002"}));
  EXPECT_EQ(warnings[0].rules_removed, (std::vector<std::string>{"CN-PI-001"}));
  EXPECT_EQ(warnings[0].reason.rfind("FAST -> REVIEW", 0), 0u) << warnings[0].reason;
}

TEST(RiskWarningsTest, UndecidableRouteWarnsWithTheReason) {
  const Database& old_db = testing::Baseline();
  Database new_db = old_db;
  new_db.categories.erase("tourism.flow");
  std::vector<RiskWarning> warnings =
      RiskWarnings(old_db, new_db,
                   {Route("acme", "TH", "SG", "tourism.flow", 0),
                    Route("bolt", "TH", "SG", "trade.contract", 0)});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].exporter, "acme");
  EXPECT_NE(warnings[0].reason.find("cannot decide"), std::string::npos) << warnings[0].reason;
  EXPECT_NE(warnings[0].reason.find("tourism.flow"), std::string::npos) << warnings[0].reason;
}

TEST(RiskWarningsTest, SameDatabaseWarnsNothing) {
  const Database& db = testing::Baseline();
  EXPECT_TRUE(RiskWarnings(db, db,
                           {Route("acme", "CN", "SG", "customer.contact", 100000),
                            Route("bolt", "MM", "SG", "hr.employee", 10)})
                  .empty());
}

}  // namespace
}  // namespace beibu::policy
