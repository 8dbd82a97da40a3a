// The shipped baseline (deploy/policy) loads, matches the embedded copy and
// says what the team agreed it says.
#include <algorithm>

#include "beibu/policy/database.h"
#include "gtest/gtest.h"
#include "temp_dir.h"
#include "test_util.h"

namespace beibu::policy {
namespace {

using testing::BaselineDir;
using testing::LineOf;

const Database& Baseline() {
  static const Database* db = [] {
    absl::StatusOr<Database> loaded = LoadDatabaseDir(BaselineDir());
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new Database(loaded.ok() ? *std::move(loaded) : Database());
  }();
  return *db;
}

const Rule* FindRule(const std::vector<Rule>& rules, const std::string& id) {
  for (const Rule& r : rules)
    if (r.id == id) return &r;
  return nullptr;
}

TEST(PolicyBaseline, LoadsFromTheSourceTree) {
  const Database& db = Baseline();
  EXPECT_EQ(db.version, 1);
  EXPECT_EQ(db.label, "2026.11-baseline");
  EXPECT_EQ(db.published, "2026-11-27");
  EXPECT_EQ(db.categories.size(), 16u);
  EXPECT_EQ(db.profiles.size(), 5u);
  EXPECT_EQ(db.global_rules.size(), 3u);
  ASSERT_EQ(db.negative_lists.size(), 1u);
  EXPECT_EQ(db.negative_lists.at("gx").entries.size(), 5u);
  EXPECT_EQ(db.negative_lists.at("gx").exemption_rule_id, "CN-FTZ-GX");
  for (std::string_view code : kJurisdictions) {
    const Jurisdiction* j = db.FindJurisdiction(std::string(code));
    ASSERT_NE(j, nullptr) << code;
    EXPECT_EQ(j->file, "jurisdictions/" + std::string(code) + ".yaml");
    EXPECT_FALSE(j->laws.empty()) << code;
  }
  EXPECT_EQ(db.jurisdictions.size(), std::size(kJurisdictions));
}

TEST(PolicyBaseline, EmbeddedCopyEqualsTheDirectory) {
  absl::StatusOr<PolicyFiles> dir = ReadPolicyDir(BaselineDir());
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(dir->size(), 16u);  // 4 top-level files, 11 jurisdictions, 1 negative list
  EXPECT_EQ(BaselineFiles(), *dir);
  EXPECT_EQ(ContentDigest(BaselineFiles()), ContentDigest(*dir));
  absl::StatusOr<Database> embedded = LoadDatabase(BaselineFiles());
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  EXPECT_EQ(embedded->digest_hex, Baseline().digest_hex);
  EXPECT_EQ(embedded->digest_hex, ContentDigest(*dir));
  EXPECT_EQ(embedded->digest_hex.size(), 64u);
}

TEST(PolicyBaseline, EveryRuleAndFactCarriesASource) {
  const Database& db = Baseline();
  size_t checked = 0;
  auto check_rule = [&](const Rule& r) {
    EXPECT_FALSE(r.source.empty()) << r.id;
    EXPECT_FALSE(r.summary.empty()) << r.id;
    EXPECT_GT(r.line, 0) << r.id;
    ++checked;
  };
  for (const Rule& r : db.global_rules) check_rule(r);
  for (const auto& [code, j] : db.jurisdictions) {
    for (const Rule& r : j.export_rules) check_rule(r);
    for (const Law& l : j.laws) EXPECT_FALSE(l.source.empty()) << code << " " << l.id;
    for (const Mechanism& m : j.mechanisms) EXPECT_FALSE(m.source.empty()) << code << " " << m.id;
    for (const Localization& l : j.localization) EXPECT_FALSE(l.source.empty()) << code;
  }
  for (const NegativeListEntry& e : db.negative_lists.at("gx").entries) {
    EXPECT_NE(e.source.find("Illustrative"), std::string::npos) << e.id;
    ++checked;
  }
  // 3 global + 7 CN + 2 VN + 6 ASEAN-style + KH + LA + MM + 5 entries.
  EXPECT_EQ(checked, 3u + 7 + 2 + 6 + 3 + 5);
}

TEST(PolicyBaseline, RuleLinesPointAtTheRuleInItsFile) {
  const Database& db = Baseline();
  const PolicyFiles& files = BaselineFiles();
  const Rule* rule = FindRule(db.jurisdictions.at("CN").export_rules, "CN-PI-002");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->line, LineOf(files.at("jurisdictions/CN.yaml"), "- id: CN-PI-002"));
  const NegativeListEntry& entry = db.negative_lists.at("gx").entries.at(3);
  EXPECT_EQ(entry.id, "GX-NL-004");
  EXPECT_EQ(entry.line, LineOf(files.at("negative-lists/gx.yaml"), "- id: GX-NL-004"));
}

TEST(PolicyBaseline, ChinaPersonalInformationThresholds) {
  const Jurisdiction& cn = Baseline().jurisdictions.at("CN");
  const Rule* fast = FindRule(cn.export_rules, "CN-PI-001");
  ASSERT_NE(fast, nullptr);
  EXPECT_EQ(fast->decision, Decision::kFast);
  EXPECT_EQ(fast->when.persons_max, 99999);
  EXPECT_EQ(fast->when.spi, false);
  EXPECT_TRUE(fast->when.ftz_exemptable);

  const Rule* contract = FindRule(cn.export_rules, "CN-PI-002");
  ASSERT_NE(contract, nullptr);
  EXPECT_EQ(contract->when.persons_min, 100000);
  EXPECT_EQ(contract->when.persons_max, 1000000);
  EXPECT_EQ(contract->unless_attested,
            (std::vector<std::string>{"cn-standard-contract", "cn-certification"}));
  EXPECT_EQ(contract->when.unless_purpose,
            (std::vector<std::string>{"contract-necessity", "hr-management", "emergency"}));

  const Rule* spi_large = FindRule(cn.export_rules, "CN-PI-005");
  ASSERT_NE(spi_large, nullptr);
  EXPECT_EQ(spi_large->when.spi, true);
  EXPECT_FALSE(spi_large->when.pi.has_value());
  EXPECT_EQ(spi_large->when.persons_min, 10000);
  EXPECT_EQ(spi_large->unless_attested, std::vector<std::string>{"cn-security-assessment"});

  const Rule* hgr = FindRule(cn.export_rules, "CN-HGR-001");
  ASSERT_NE(hgr, nullptr);
  EXPECT_EQ(hgr->decision, Decision::kDeny);
  EXPECT_EQ(hgr->when.categories, std::vector<std::string>{"genomics.human"});
}

TEST(PolicyBaseline, TaxonomyAndProfiles) {
  const Database& db = Baseline();
  EXPECT_EQ(db.pi_finding_types.size(), 12u);
  EXPECT_EQ(std::count(db.pi_finding_types.begin(), db.pi_finding_types.end(), "CN_USCC"), 0);
  EXPECT_EQ(db.spi_finding_types.size(), 9u);
  EXPECT_EQ(std::count(db.spi_finding_types.begin(), db.spi_finding_types.end(), "HEALTH_ICD10"),
            1);
  ASSERT_NE(db.FindCategory("infrastructure.critical"), nullptr);
  EXPECT_EQ(db.FindCategory("infrastructure.critical")->level, Level::kCore);
  EXPECT_EQ(db.FindCategory("geo.survey")->level, Level::kImportant);
  EXPECT_TRUE(db.FindCategory("finance.credit_record")->sandbox_only);
  EXPECT_EQ(db.FindCategory("customer.contact")->mask_profile, "contact-mask");
  EXPECT_FALSE(db.FindCategory("customer.contact")->spi);
  EXPECT_EQ(db.FindCategory("no.such"), nullptr);

  const MaskProfile& contact = db.profiles.at("contact-mask");
  const MaskOp& mobile = contact.by_type.at("CN_MOBILE");
  EXPECT_EQ(mobile.kind, MaskOp::Kind::kMask);
  EXPECT_EQ(mobile.keep_first, 3);
  EXPECT_EQ(mobile.keep_last, 4);
  EXPECT_EQ(contact.by_field.at("name").keep_first, 1);
  const MaskOp& age = db.profiles.at("health-preview").by_field.at("age");
  EXPECT_EQ(age.kind, MaskOp::Kind::kGeneralizeNumber);
  EXPECT_EQ(age.bucket, 10);
  // redact-all redacts every type that makes data PI, and nothing else.
  const MaskProfile& all = db.profiles.at("redact-all");
  EXPECT_EQ(all.by_type.size(), db.pi_finding_types.size());
  for (const std::string& type : db.pi_finding_types) {
    ASSERT_TRUE(all.by_type.count(type)) << type;
    EXPECT_EQ(all.by_type.at(type).kind, MaskOp::Kind::kRedact) << type;
  }
  EXPECT_EQ(db.profiles.at("pseudonymize").by_type.at("EMAIL").kind, MaskOp::Kind::kPseudonym);
}

TEST(PolicyBaseline, MyanmarIsFastButHighRisk) {
  const Jurisdiction& mm = Baseline().jurisdictions.at("MM");
  ASSERT_EQ(mm.export_rules.size(), 1u);
  EXPECT_EQ(mm.export_rules[0].decision, Decision::kFast);
  EXPECT_TRUE(mm.export_rules[0].high_risk);
  for (const char* code : {"SG", "TH", "MY", "PH", "ID", "BN"}) {
    const Jurisdiction& j = Baseline().jurisdictions.at(code);
    ASSERT_EQ(j.export_rules.size(), 1u) << code;
    EXPECT_EQ(j.export_rules[0].unless_attested,
              (std::vector<std::string>{"contract", "asean-mcc", "consent"}))
        << code;
  }
}

TEST(PolicyBaseline, CategoryPatterns) {
  EXPECT_TRUE(CategoryMatches("health.*", "health.record"));
  EXPECT_TRUE(CategoryMatches("health.*", "health"));
  EXPECT_FALSE(CategoryMatches("health.*", "healthcare.record"));
  EXPECT_TRUE(CategoryMatches("geo.survey", "geo.survey"));
  EXPECT_FALSE(CategoryMatches("geo.survey", "geo.survey.x"));
}

TEST(PolicyDir, MissingRequiredFileIsNamed) {
  beibu::testing::TempDir tmp;
  for (const auto& [path, bytes] : BaselineFiles()) {
    if (path != "rules.yaml") beibu::testing::WriteFile(tmp / path, bytes);
  }
  absl::StatusOr<PolicyFiles> files = ReadPolicyDir(tmp.path().string());
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("rules.yaml"), std::string_view::npos) << files.status();
}

TEST(PolicyDir, IgnoresFilesOutsideTheLayout) {
  beibu::testing::TempDir tmp;
  for (const auto& [path, bytes] : BaselineFiles()) beibu::testing::WriteFile(tmp / path, bytes);
  beibu::testing::WriteFile(tmp / "README.md", "notes");
  beibu::testing::WriteFile(tmp / "jurisdictions/CN.yaml.orig", "garbage: [");
  absl::StatusOr<PolicyFiles> files = ReadPolicyDir(tmp.path().string());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, BaselineFiles());
}

TEST(PolicyDir, MissingDirectory) { EXPECT_FALSE(LoadDatabaseDir("/nonexistent/policy").ok()); }

TEST(PolicyAuthorization, AbsentFileMeansTheDefault) {
  EXPECT_TRUE(Baseline().authorization_rules.empty());
  const AuthorizationRule& d = Baseline().default_authorization;
  EXPECT_EQ(d.id, "default");
  EXPECT_EQ(d.approvals, 2u);
  EXPECT_EQ(d.roles, (std::vector<std::string>{"source_officer", "destination_officer"}));
  EXPECT_EQ(d.deadline_hours, 72);
}

TEST(PolicyAuthorization, LoadsRulesInFileOrder) {
  const PolicyFiles files = testing::WithAuthorization();
  absl::StatusOr<Database> db = LoadDatabase(files);
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string& text = files.at("authorization.yaml");
  EXPECT_EQ(db->default_authorization.id, "default");
  EXPECT_EQ(db->default_authorization.approvals, 1u);
  EXPECT_EQ(db->default_authorization.roles, std::vector<std::string>{"destination_officer"});
  EXPECT_EQ(db->default_authorization.deadline_hours, 24);
  ASSERT_EQ(db->authorization_rules.size(), 2u);
  const AuthorizationRule& health = db->authorization_rules[0];
  EXPECT_EQ(health.id, "AUTH-HEALTH-VN-CN");
  EXPECT_EQ(health.from, std::vector<std::string>{"VN"});
  EXPECT_EQ(health.to, std::vector<std::string>{"CN"});
  EXPECT_EQ(health.categories, std::vector<std::string>{"health.*"});
  EXPECT_TRUE(health.levels.empty());
  EXPECT_EQ(health.approvals, 3u);
  EXPECT_EQ(health.roles,
            (std::vector<std::string>{"source_officer", "destination_officer", "data_owner"}));
  EXPECT_EQ(health.deadline_hours, 48);
  EXPECT_EQ(health.line, LineOf(text, "- id: AUTH-HEALTH-VN-CN"));
  const AuthorizationRule& important = db->authorization_rules[1];
  EXPECT_EQ(important.id, "AUTH-IMPORTANT");
  EXPECT_TRUE(important.from.empty() && important.to.empty() && important.categories.empty());
  EXPECT_EQ(important.levels, (std::vector<Level>{Level::kImportant, Level::kCore}));
  EXPECT_EQ(important.deadline_hours, 72);  // not given: the default
  EXPECT_EQ(important.line, LineOf(text, "- id: AUTH-IMPORTANT"));
}

TEST(PolicyAuthorization, DefaultAndRulesAreEachOptional) {
  PolicyFiles only_default = BaselineFiles();
  only_default["authorization.yaml"] =
      "default: {approvals: 3, roles: [data_owner, source_officer, destination_officer]}\n";
  absl::StatusOr<Database> a = LoadDatabase(only_default);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->default_authorization.approvals, 3u);
  EXPECT_EQ(a->default_authorization.deadline_hours, 72);
  EXPECT_TRUE(a->authorization_rules.empty());
  PolicyFiles only_rules = BaselineFiles();
  only_rules["authorization.yaml"] =
      "rules:\n  - id: AUTH-SG\n    to: [SG]\n    approvals: 1\n    roles: [data_owner]\n";
  absl::StatusOr<Database> b = LoadDatabase(only_rules);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->default_authorization.approvals, 2u);
  EXPECT_EQ(b->authorization_rules.size(), 1u);
}

TEST(PolicyAuthorization, TheDigestCoversTheFile) {
  PolicyFiles files = testing::WithAuthorization();
  absl::StatusOr<Database> with = LoadDatabase(files);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->digest_hex, ContentDigest(files));
  EXPECT_NE(with->digest_hex, Baseline().digest_hex);
  files["authorization.yaml"].replace(files["authorization.yaml"].find("approvals: 3"), 12,
                                      "approvals: 2");
  absl::StatusOr<Database> lowered = LoadDatabase(files);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_NE(lowered->digest_hex, with->digest_hex);
}

TEST(PolicyDir, ReadsAuthorizationWhenPresent) {
  beibu::testing::TempDir tmp;
  for (const auto& [path, bytes] : testing::WithAuthorization())
    beibu::testing::WriteFile(tmp / path, bytes);
  absl::StatusOr<PolicyFiles> files = ReadPolicyDir(tmp.path().string());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, testing::WithAuthorization());
  absl::StatusOr<Database> db = LoadDatabaseDir(tmp.path().string());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->authorization_rules.size(), 2u);
}

}  // namespace
}  // namespace beibu::policy
