// Malformed databases: each case is the baseline with one edit, and must be
// refused with INVALID_ARGUMENT naming the exact file and line and a reason.
// Lines are found by searching the edited text, not taken from the loader.
#include <string>

#include "beibu/policy/database.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace beibu::policy {
namespace {

using testing::LineOf;

struct Edit {
  PolicyFiles files = BaselineFiles();
  std::string path;
  int line = 0;
};

// Replaces the first `from` in `path` by `to`; the expected line is that of
// `marker` in the edited file (the first line of `to` when marker is empty).
Edit ReplaceIn(PolicyFiles files, const std::string& path, const std::string& from,
               const std::string& to, const std::string& marker = "") {
  Edit e;
  e.files = std::move(files);
  e.path = path;
  std::string& text = e.files[path];
  const size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "test bug: \"" << from << "\" not in " << path;
  if (pos == std::string::npos) return e;
  text.replace(pos, from.size(), to);
  e.line = marker.empty() ? LineOf(text, to) : LineOf(text, marker);
  EXPECT_GT(e.line, 0) << "test bug: marker not found";
  return e;
}

Edit Replace(const std::string& path, const std::string& from, const std::string& to,
             const std::string& marker = "") {
  return ReplaceIn(BaselineFiles(), path, from, to, marker);
}

// The same in the authorization.yaml fixture (test_util.h).
Edit Auth(const std::string& from, const std::string& to, const std::string& marker = "") {
  return ReplaceIn(testing::WithAuthorization(), "authorization.yaml", from, to, marker);
}

void ExpectRefused(const Edit& e, const std::string& reason) {
  absl::StatusOr<Database> db = LoadDatabase(e.files);
  ASSERT_FALSE(db.ok()) << "accepted an edit of " << e.path;
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(db.status().message());
  const std::string where = e.path + ":" + std::to_string(e.line) + ": ";
  EXPECT_EQ(message.substr(0, where.size()), where) << message;
  EXPECT_NE(message.find(reason), std::string::npos) << message;
}

TEST(PolicyMalformed, BaselineItselfLoads) {
  absl::StatusOr<Database> db = LoadDatabase(BaselineFiles());
  EXPECT_TRUE(db.ok()) << db.status();
}

TEST(PolicyMalformed, UnknownKey) {
  ExpectRefused(Replace("taxonomy.yaml", "  - id: trade.contract\n",
                        "  - id: trade.contract\n    colour: red\n", "colour: red"),
                "unknown key \"colour\"");
}

TEST(PolicyMalformed, UnknownTopLevelKey) {
  ExpectRefused(Replace("manifest.yaml", "version: 1\n", "version: 1\nauthor: me\n", "author"),
                "unknown key \"author\"");
}

TEST(PolicyMalformed, UnknownKeyInWhen) {
  ExpectRefused(Replace("rules.yaml", "      levels: [CORE]\n",
                        "      levels: [CORE]\n      volume_min: 3\n", "volume_min"),
                "unknown key \"volume_min\"");
}

TEST(PolicyMalformed, WrongTypeForNumber) {
  ExpectRefused(Replace("manifest.yaml", "version: 1", "version: [1]"), "whole number");
}

TEST(PolicyMalformed, WrongTypeForBool) {
  ExpectRefused(Replace("taxonomy.yaml", "    pi: true", "    pi: yes please"), "true or false");
}

TEST(PolicyMalformed, WrongTypeForList) {
  ExpectRefused(
      Replace("jurisdictions/VN.yaml", "      levels: [IMPORTANT]", "      levels: {IMPORTANT: 1}"),
      "must be a list");
}

TEST(PolicyMalformed, WrongTypeForString) {
  ExpectRefused(Replace("jurisdictions/SG.yaml", "name: Singapore", "name: [Singapore]"),
                "must be a string");
}

TEST(PolicyMalformed, MissingSource) {
  Edit e = Replace("jurisdictions/CN.yaml",
                   "    source: \"PIPL 2021 art. 38; Standard Contract Measures 2023; Provisions "
                   "2024-03-22 (100,000-1,000,000 non-sensitive)\"\n",
                   "", "  - id: CN-PI-002");
  ExpectRefused(e, "missing required key \"source\"");
}

TEST(PolicyMalformed, EmptySourceOfAMechanism) {
  ExpectRefused(Replace("jurisdictions/LA.yaml",
                        "    source: \"Law on Electronic Data Protection 25/NA, 2017\"\n\nexport",
                        "    source: \"\"\n\nexport", "source: \"\""),
                "must not be empty");
}

TEST(PolicyMalformed, MissingSourceOfANegativeListEntry) {
  Edit e = Replace("negative-lists/gx.yaml", "    require_any: [cn-security-assessment]\n",
                   "    require_any: [cn-security-assessment]\n    source_: x\n", "source_: x");
  ExpectRefused(e, "unknown key \"source_\"");
}

TEST(PolicyMalformed, DuplicateRuleIdAcrossFiles) {
  // CN.yaml is read before VN.yaml, so the second definition is VN's.
  ExpectRefused(Replace("jurisdictions/VN.yaml", "  - id: VN-PI-001", "  - id: CN-PI-001"),
                "duplicate rule id \"CN-PI-001\"");
}

TEST(PolicyMalformed, RuleIdCollidesWithNegativeListEntry) {
  // negative-lists/ sorts before rules.yaml: the global rule is the duplicate.
  ExpectRefused(Replace("rules.yaml", "  - id: G-HEALTH-001", "  - id: GX-NL-003"),
                "duplicate rule id \"GX-NL-003\"");
}

TEST(PolicyMalformed, RuleIdCollidesWithExemptionId) {
  ExpectRefused(Replace("rules.yaml", "  - id: G-HEALTH-001", "  - id: CN-FTZ-GX"),
                "duplicate rule id \"CN-FTZ-GX\"");
}

TEST(PolicyMalformed, UnknownCategoryPattern) {
  ExpectRefused(Replace("rules.yaml", "[health.*]", "[wealth.*]"), "matches no category");
}

TEST(PolicyMalformed, UnknownExactCategory) {
  ExpectRefused(Replace("negative-lists/gx.yaml", "[geo.survey]", "[geo.surveys]"),
                "matches no category");
}

TEST(PolicyMalformed, MalformedCategoryPattern) {
  ExpectRefused(Replace("jurisdictions/CN.yaml", "[genomics.human]", "[Genomics.*]"),
                "must be a category id");
}

TEST(PolicyMalformed, BadCategoryId) {
  ExpectRefused(Replace("taxonomy.yaml", "id: tourism.flow", "id: Tourism Flow"),
                "lower-case words separated by dots");
}

TEST(PolicyMalformed, DuplicateCategory) {
  const int line = LineOf(BaselineFiles().at("taxonomy.yaml"), "  - id: tourism.flow");
  Edit e = Replace("taxonomy.yaml", "  - id: tourism.flow", "  - id: logistics.track");
  e.line = line;  // the second definition, where tourism.flow was
  ExpectRefused(e, "duplicate category id");
}

TEST(PolicyMalformed, MechanismOfAnotherCountryInAnExportRule) {
  ExpectRefused(Replace("jurisdictions/CN.yaml", "unless_attested: [cn-security-assessment]",
                        "unless_attested: [vn-mps-approval]"),
                "unknown mechanism \"vn-mps-approval\"");
}

TEST(PolicyMalformed, UnknownMechanismInNegativeList) {
  ExpectRefused(Replace("negative-lists/gx.yaml", "require_any: [cn-standard-contract, ",
                        "require_any: [cn-standard-contrakt, "),
                "no jurisdiction file defines it");
}

TEST(PolicyMalformed, UnknownMechanismInGlobalRule) {
  ExpectRefused(Replace("rules.yaml", "    decision: DENY\n",
                        "    decision: DENY\n    unless_attested: [waiver]\n", "waiver"),
                "unknown mechanism \"waiver\"");
}

TEST(PolicyMalformed, UnknownProfile) {
  ExpectRefused(Replace("taxonomy.yaml", "mask_profile: payment-mask", "mask_profile: pay-mask"),
                "unknown mask profile \"pay-mask\"");
}

TEST(PolicyMalformed, BadCategoryLevel) {
  ExpectRefused(Replace("taxonomy.yaml", "level: IMPORTANT", "level: SECRET"),
                "unknown level \"SECRET\"");
}

TEST(PolicyMalformed, BadRuleLevel) {
  ExpectRefused(Replace("rules.yaml", "levels: [CORE]", "levels: [TOP]"), "unknown level \"TOP\"");
}

TEST(PolicyMalformed, BadDecision) {
  ExpectRefused(Replace("rules.yaml", "decision: DENY", "decision: BLOCK"),
                "unknown decision \"BLOCK\"");
}

TEST(PolicyMalformed, PersonsMinAboveMax) {
  ExpectRefused(Replace("jurisdictions/CN.yaml", "persons_min: 100000\n      persons_max: 1000000",
                        "persons_min: 2000000\n      persons_max: 1000000", "persons_max: 1000000"),
                "greater than persons_max");
}

TEST(PolicyMalformed, NegativePersons) {
  ExpectRefused(Replace("jurisdictions/CN.yaml", "persons_max: 99999", "persons_max: -1"),
                "negative");
}

TEST(PolicyMalformed, NegativeThreshold) {
  ExpectRefused(
      Replace("negative-lists/gx.yaml", "persons_threshold: 100000", "persons_threshold: -100000"),
      "negative");
}

TEST(PolicyMalformed, CodeDiffersFromFileName) {
  ExpectRefused(Replace("jurisdictions/VN.yaml", "code: VN", "code: LA"),
                "does not match the file name");
}

TEST(PolicyMalformed, ZoneDiffersFromFileName) {
  ExpectRefused(Replace("negative-lists/gx.yaml", "zone: gx", "zone: bj"),
                "does not match the file name");
}

TEST(PolicyMalformed, UnknownCountry) {
  ExpectRefused(Replace("rules.yaml", "      from_not: [CN]", "      from_not: [US]"),
                "unknown country \"US\"");
}

TEST(PolicyMalformed, FromInAJurisdictionFile) {
  ExpectRefused(Replace("jurisdictions/VN.yaml", "      levels: [IMPORTANT]\n",
                        "      levels: [IMPORTANT]\n      from: [VN]\n", "from: [VN]"),
                "only allowed in rules.yaml");
}

TEST(PolicyMalformed, UnknownFindingTypeInTaxonomy) {
  ExpectRefused(Replace("taxonomy.yaml", "  - IP_ADDRESS", "  - IP_ADDR"),
                "unknown finding type \"IP_ADDR\"");
}

TEST(PolicyMalformed, UnknownFindingTypeInProfile) {
  ExpectRefused(
      Replace("profiles.yaml", "      IP_ADDRESS: {op: redact}", "      IPV4: {op: redact}"),
      "unknown finding type \"IPV4\"");
}

TEST(PolicyMalformed, UnknownOp) {
  ExpectRefused(Replace("profiles.yaml", "EMAIL: {op: pseudonym}", "EMAIL: {op: hash}"),
                "unknown op \"hash\"");
}

TEST(PolicyMalformed, KeepFirstOnlyForMask) {
  ExpectRefused(
      Replace("profiles.yaml", "EMAIL: {op: redact}", "EMAIL: {op: redact, keep_first: 1}"),
      "only allowed with op: mask");
}

TEST(PolicyMalformed, BucketMustBePositive) {
  ExpectRefused(Replace("profiles.yaml", "bucket: 10", "bucket: 0"), "\"bucket\" is 0");
}

TEST(PolicyMalformed, BucketOnlyForGeneralizeNumber) {
  ExpectRefused(Replace("profiles.yaml", "birth_date: {op: generalize_date}",
                        "birth_date: {op: generalize_date, bucket: 5}"),
                "only allowed with op: generalize_number");
}

TEST(PolicyMalformed, UpperCaseFieldName) {
  ExpectRefused(Replace("profiles.yaml", "      age: {op:", "      Age: {op:"), "lower-case");
}

TEST(PolicyMalformed, DuplicateKey) {
  ExpectRefused(Replace("manifest.yaml", "version: 1\n", "version: 1\nversion: 2\n", "version: 2"),
                "duplicate key \"version\"");
}

TEST(PolicyMalformed, InvalidUtf8) {
  ExpectRefused(Replace("jurisdictions/SG.yaml", "name: Singapore", "name: Singap\xC3\x28re"),
                "invalid UTF-8");
}

TEST(PolicyMalformed, OverlongUtf8) {
  ExpectRefused(Replace("jurisdictions/TH.yaml", "name: Thailand", "name: Thai\xC0\xAFland"),
                "invalid UTF-8");
}

TEST(PolicyMalformed, YamlSyntaxError) {
  // A second value on a mapping line is an error yaml-cpp reports on that line.
  ExpectRefused(
      Replace("manifest.yaml", "label: \"2026.11-baseline\"", "label: \"2026.11-baseline\" extra"),
      "YAML syntax error");
}

TEST(PolicyMalformed, DeepFlowNesting) {
  ExpectRefused(Replace("rules.yaml", "      from_not: [CN]",
                        "      from_not: " + std::string(100, '[') + "CN" + std::string(100, ']')),
                "nested deeper");
}

// A '#' glued to a scalar is not a comment: the nesting after it counts.
TEST(PolicyMalformed, DeepFlowNestingAfterGluedHash) {
  ExpectRefused(
      Replace("rules.yaml", "      from_not: [CN]",
              "      from_not: [a#," + std::string(100, '[') + "CN" + std::string(100, ']') + "]"),
      "nested deeper");
}

// Aliases would let a small file expand into gigabytes of copied values.
TEST(PolicyMalformed, AliasesRefused) {
  Edit e = Replace("jurisdictions/MM.yaml", "notes:\n",
                   "notes:\n  - &big \"" + std::string(1000, 'A') + "\"\n  - *big\n");
  e.line = LineOf(e.files[e.path], "  - *big");
  ExpectRefused(e, "aliases");
}

TEST(PolicyMalformed, DeepBlockNesting) {
  std::string deep = "      from_not:\n";
  for (int i = 0; i < 60; ++i) deep += std::string(8 + 2 * i, ' ') + "- \n";
  Edit e = Replace("rules.yaml", "      from_not: [CN]\n", deep);
  // The first line whose leading run of spaces and dashes passes 96 columns.
  e.line = LineOf(e.files[e.path], std::string(96, ' ') + "-");
  ExpectRefused(e, "nested deeper");
}

TEST(PolicyMalformed, HugeFile) {
  Edit e = Replace("jurisdictions/KH.yaml", "notes:\n",
                   "notes:\n  - \"" + std::string(5 << 20, 'x') + "\"\n", "code: KH");
  e.line = 1;
  ExpectRefused(e, "more than the limit");
}

TEST(PolicyMalformed, EmptyFile) {
  Edit e;
  e.path = "profiles.yaml";
  e.files[e.path] = "# nothing here\n";
  e.line = 1;
  ExpectRefused(e, "file is empty");
}

TEST(PolicyMalformed, TwoDocuments) {
  ExpectRefused(Replace("manifest.yaml", "version: 1\n", "version: 1\n---\nversion: 2\n", "---"),
                "document markers");
}

// yaml-cpp 0.7 loops forever (allocating until killed) on a document whose
// root node is followed by ','; these must be refused before it parses them.
TEST(PolicyMalformed, RootThatIsNotAMappingIsRefusedBeforeParsing) {
  for (const char* root : {",", ", x", "\"a\", b", "[a], b", "{a: 1}, b", "- a\n, b", "&x ,",
                           "!t ,", "|\n  x\n, b", "  a: {op: x}\n ,  b: c"}) {
    Edit e;
    e.path = "manifest.yaml";
    e.files[e.path] = "# comment\n\n" + std::string(root) + "\n";
    e.line = 3;
    ExpectRefused(e, "expected a mapping");
  }
}

TEST(PolicyMalformed, MissingManifest) {
  Edit e;
  e.files.erase("manifest.yaml");
  e.path = "manifest.yaml";
  e.line = 1;
  ExpectRefused(e, "missing required file manifest.yaml");
}

TEST(PolicyMalformed, FileOutsideTheLayout) {
  Edit e;
  e.path = "jurisdictions/sub/CN.yaml";
  e.files[e.path] = e.files["jurisdictions/CN.yaml"];
  e.line = 1;
  ExpectRefused(e, "not part of the policy layout");
}

TEST(PolicyMalformed, SpiWithoutPi) {
  ExpectRefused(Replace("taxonomy.yaml", "    level: GENERAL\n    pi: true\n    spi: true\n",
                        "    level: GENERAL\n    spi: true\n", "    spi: true"),
                "spi: true needs pi: true");
}

TEST(PolicyMalformed, BadPublishedDate) {
  ExpectRefused(Replace("manifest.yaml", "published: \"2026-11-27\"", "published: \"27/11/2026\""),
                "YYYY-MM-DD");
}

TEST(PolicyMalformed, VersionMustBePositive) {
  ExpectRefused(Replace("manifest.yaml", "version: 1", "version: 0"), "between 1");
}

TEST(PolicyMalformed, TooManyFiles) {
  PolicyFiles files = BaselineFiles();
  for (int i = 0; i < 300; ++i) files["negative-lists/z" + std::to_string(i) + ".yaml"] = "";
  absl::StatusOr<Database> db = LoadDatabase(files);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("more than the limit"), std::string_view::npos);
}

// authorization.yaml (docs/review.md): each error names its line.

TEST(PolicyMalformed, AuthorizationFixtureLoads) {
  absl::StatusOr<Database> db = LoadDatabase(testing::WithAuthorization());
  EXPECT_TRUE(db.ok()) << db.status();
}

TEST(PolicyMalformed, AuthorizationUnknownKey) {
  ExpectRefused(
      Auth("    deadline_hours: 48\n", "    deadline_hours: 48\n    colour: red\n", "colour: red"),
      "unknown key \"colour\"");
  ExpectRefused(Auth("rules:\n", "quorum: 2\nrules:\n", "quorum"), "unknown key \"quorum\"");
  ExpectRefused(Auth("default: {approvals: 1,", "default: {id: X, approvals: 1,", "default:"),
                "unknown key \"id\"");
}

TEST(PolicyMalformed, AuthorizationUnknownRole) {
  ExpectRefused(Auth("[source_officer, destination_officer, data_owner]",
                     "[source_officer, destination_officer, auditor]"),
                "unknown role \"auditor\"");
}

TEST(PolicyMalformed, AuthorizationDuplicateRole) {
  ExpectRefused(Auth("[source_officer, destination_officer, data_owner]",
                     "[source_officer, data_owner, data_owner]"),
                "role \"data_owner\" listed twice");
}

TEST(PolicyMalformed, AuthorizationApprovalsBelowOne) {
  ExpectRefused(Auth("    approvals: 3\n", "    approvals: 0\n"), "between 1");
}

TEST(PolicyMalformed, AuthorizationMoreApprovalsThanRoles) {
  ExpectRefused(Auth("    approvals: 3\n", "    approvals: 4\n"), "only 3 roles");
  ExpectRefused(Auth("default: {approvals: 1, roles: [destination_officer]",
                     "default: {approvals: 2, roles: [destination_officer]", "default:"),
                "only 1 roles");
}

TEST(PolicyMalformed, AuthorizationNoRoles) {
  ExpectRefused(Auth("    roles: [source_officer, destination_officer]\n", "    roles: []\n"),
                "at least one role");
  ExpectRefused(Auth("    approvals: 2\n    roles: [source_officer, destination_officer]\n",
                     "    approvals: 2\n", "  - id: AUTH-IMPORTANT"),
                "missing required key \"roles\"");
}

TEST(PolicyMalformed, AuthorizationMissingApprovals) {
  ExpectRefused(Auth("    approvals: 2\n", "", "  - id: AUTH-IMPORTANT"),
                "missing required key \"approvals\"");
}

TEST(PolicyMalformed, AuthorizationDeadlineOutOfRange) {
  ExpectRefused(Auth("    deadline_hours: 48\n", "    deadline_hours: 0\n"), "between 1 and 8760");
  ExpectRefused(Auth("    deadline_hours: 48\n", "    deadline_hours: 8761\n"),
                "between 1 and 8760");
  ExpectRefused(Auth("    deadline_hours: 48\n", "    deadline_hours: \"48\"\n"), "whole number");
}

TEST(PolicyMalformed, AuthorizationUnknownCountry) {
  ExpectRefused(Auth("    to: [CN]\n", "    to: [XX]\n"), "unknown country \"XX\"");
}

TEST(PolicyMalformed, AuthorizationUnknownCategoryPattern) {
  ExpectRefused(Auth("[health.*]", "[healthcare.*]"), "matches no category");
  ExpectRefused(Auth("[health.*]", "[Health]"), "must be a category id");
}

TEST(PolicyMalformed, AuthorizationUnknownLevel) {
  ExpectRefused(Auth("[IMPORTANT, CORE]", "[IMPORTANT, SECRET]"), "unknown level \"SECRET\"");
}

TEST(PolicyMalformed, AuthorizationDuplicateRuleId) {
  // Reported at the second definition, naming the first.
  ExpectRefused(Auth("  - id: AUTH-IMPORTANT\n", "  - id: AUTH-HEALTH-VN-CN\n",
                     "- id: AUTH-HEALTH-VN-CN\n    levels"),
                "duplicate rule id \"AUTH-HEALTH-VN-CN\" (first defined at authorization.yaml:4)");
  ExpectRefused(Auth("  - id: AUTH-IMPORTANT\n", "  - id: auth-important\n"), "upper-case");
}

// Ids are unique across the database: authorization.yaml sorts before
// rules.yaml, so the global rule is reported as the duplicate.
TEST(PolicyMalformed, AuthorizationRuleIdCollidesWithARule) {
  Edit e = Auth("  - id: AUTH-IMPORTANT\n", "  - id: G-CORE-001\n");
  e.path = "rules.yaml";
  e.line = LineOf(e.files[e.path], "- id: G-CORE-001");
  ExpectRefused(e, "first defined at authorization.yaml:11");
}

}  // namespace
}  // namespace beibu::policy
