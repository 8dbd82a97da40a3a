// Who must approve (review/requirement.h): the first matching authorization
// rule or the default, and the destination's strictness check.
#include "beibu/review/requirement.h"

#include <gtest/gtest.h>

#include <limits>

namespace beibu::review {
namespace {

using policy::AuthorizationRule;
using policy::Level;

constexpr int64_t kHeld = 1795000000000;
constexpr int64_t kHour = 3600 * 1000;

AuthorizationRule Rule(std::string id, uint32_t m, std::vector<std::string> roles, int64_t hours) {
  AuthorizationRule r;
  r.id = std::move(id);
  r.approvals = m;
  r.roles = std::move(roles);
  r.deadline_hours = hours;
  return r;
}

// Rules in file order: health VN->CN, then any IMPORTANT data, then a
// catch-all for transfers to SG.
policy::Database Db() {
  policy::Database db;
  AuthorizationRule health =
      Rule("AUTH-HEALTH-VN-CN", 3, {kSourceOfficer, kDestinationOfficer, kDataOwner}, 48);
  health.from = {"VN"};
  health.to = {"CN"};
  health.categories = {"health.*"};
  AuthorizationRule important =
      Rule("AUTH-IMPORTANT", 2, {kSourceOfficer, kDestinationOfficer}, 24);
  important.levels = {Level::kImportant, Level::kCore};
  AuthorizationRule sg = Rule("AUTH-SG", 1, {kDestinationOfficer}, 12);
  sg.to = {"SG"};
  db.authorization_rules = {health, important, sg};
  return db;
}

TEST(ResolveRequirement, DefaultWithoutRules) {
  policy::Database db;
  Requirement r = ResolveRequirement(db, "VN", "CN", "trade.contract", Level::kGeneral, kHeld);
  EXPECT_EQ(r, (Requirement{.rule_id = "default",
                            .approvals = 2,
                            .roles = {kSourceOfficer, kDestinationOfficer},
                            .deadline_ms = kHeld + 72 * kHour}));
}

TEST(ResolveRequirement, FirstMatchInFileOrder) {
  // Health VN->CN at level IMPORTANT matches the first two rules: the first wins.
  Requirement r = ResolveRequirement(Db(), "VN", "CN", "health.record", Level::kImportant, kHeld);
  EXPECT_EQ(r.rule_id, "AUTH-HEALTH-VN-CN");
  EXPECT_EQ(r.approvals, 3u);
  EXPECT_EQ(r.roles, (std::vector<std::string>{kSourceOfficer, kDestinationOfficer, kDataOwner}));
  EXPECT_EQ(r.deadline_ms, kHeld + 48 * kHour);
  // Reversed order: the IMPORTANT rule comes first and wins.
  policy::Database db = Db();
  std::swap(db.authorization_rules[0], db.authorization_rules[1]);
  EXPECT_EQ(ResolveRequirement(db, "VN", "CN", "health.record", Level::kImportant, kHeld).rule_id,
            "AUTH-IMPORTANT");
}

TEST(ResolveRequirement, RouteMustMatch) {
  // Health CN->VN is not the VN->CN rule; at GENERAL no other rule applies.
  EXPECT_EQ(ResolveRequirement(Db(), "CN", "VN", "health.record", Level::kGeneral, kHeld).rule_id,
            "default");
  EXPECT_EQ(ResolveRequirement(Db(), "VN", "TH", "health.record", Level::kGeneral, kHeld).rule_id,
            "default");
  EXPECT_EQ(ResolveRequirement(Db(), "TH", "SG", "trade.contract", Level::kGeneral, kHeld).rule_id,
            "AUTH-SG");
}

TEST(ResolveRequirement, CategoryPatterns) {
  for (const char* category : {"health", "health.record", "health.record.lab"}) {
    EXPECT_EQ(ResolveRequirement(Db(), "VN", "CN", category, Level::kGeneral, kHeld).rule_id,
              "AUTH-HEALTH-VN-CN")
        << category;
  }
  for (const char* category : {"healthcare.record", "trade.health", ""}) {
    EXPECT_EQ(ResolveRequirement(Db(), "VN", "CN", category, Level::kGeneral, kHeld).rule_id,
              "default")
        << category;
  }
  policy::Database exact;
  AuthorizationRule r = Rule("AUTH-GEO", 1, {kSourceOfficer}, 1);
  r.categories = {"geo.survey"};
  exact.authorization_rules = {r};
  EXPECT_EQ(ResolveRequirement(exact, "VN", "CN", "geo.survey", Level::kGeneral, 0).rule_id,
            "AUTH-GEO");
  EXPECT_EQ(ResolveRequirement(exact, "VN", "CN", "geo.survey.x", Level::kGeneral, 0).rule_id,
            "default");
}

TEST(ResolveRequirement, Levels) {
  EXPECT_EQ(ResolveRequirement(Db(), "TH", "CN", "trade.contract", Level::kCore, kHeld).rule_id,
            "AUTH-IMPORTANT");
  EXPECT_EQ(
      ResolveRequirement(Db(), "TH", "CN", "trade.contract", Level::kImportant, kHeld).rule_id,
      "AUTH-IMPORTANT");
  EXPECT_EQ(ResolveRequirement(Db(), "TH", "CN", "trade.contract", Level::kGeneral, kHeld).rule_id,
            "default");
}

TEST(ResolveRequirement, UsesTheDatabaseDefault) {
  policy::Database db;
  db.default_authorization = Rule("default", 1, {kDestinationOfficer}, 6);
  Requirement r = ResolveRequirement(db, "VN", "CN", "trade.contract", Level::kGeneral, kHeld);
  EXPECT_EQ(r.approvals, 1u);
  EXPECT_EQ(r.roles, std::vector<std::string>{kDestinationOfficer});
  EXPECT_EQ(r.deadline_ms, kHeld + 6 * kHour);
}

TEST(ResolveRequirement, DeadlineSaturatesInsteadOfOverflowing) {
  policy::Database db;
  db.default_authorization.deadline_hours = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(ResolveRequirement(db, "VN", "CN", "x", Level::kGeneral, kHeld).deadline_ms,
            std::numeric_limits<int64_t>::max());
  db.default_authorization.deadline_hours = 72;
  EXPECT_EQ(ResolveRequirement(db, "VN", "CN", "x", Level::kGeneral,
                               std::numeric_limits<int64_t>::max() - 1)
                .deadline_ms,
            std::numeric_limits<int64_t>::max());
}

// What the destination checks a carried requirement against: the health rule
// (3 of source, destination, data owner) for VN->CN health data, else the
// default (2 of source, destination).
absl::Status Check(uint32_t m, std::vector<std::string> roles,
                   const std::string& category = "health.record") {
  Requirement carried{.rule_id = "CARRIED", .approvals = m, .roles = std::move(roles)};
  return CheckAtLeastAsStrict(carried, Db(), "VN", "CN", category, Level::kGeneral);
}

TEST(CheckAtLeastAsStrict, EqualIsEnough) {
  EXPECT_TRUE(Check(3, {kSourceOfficer, kDestinationOfficer, kDataOwner}).ok());
  // Role order does not matter.
  EXPECT_TRUE(Check(3, {kDataOwner, kSourceOfficer, kDestinationOfficer}).ok());
  EXPECT_TRUE(Check(2, {kSourceOfficer, kDestinationOfficer}, "trade.contract").ok());
}

TEST(CheckAtLeastAsStrict, StricterIsAccepted) {
  // More roles, each of them needed.
  EXPECT_TRUE(Check(3, {kSourceOfficer, kDestinationOfficer, kDataOwner}, "trade.contract").ok());
}

TEST(CheckAtLeastAsStrict, FewerApprovalsAreRefused) {
  absl::Status s = Check(2, {kSourceOfficer, kDestinationOfficer, kDataOwner});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("CARRIED"), std::string_view::npos) << s;
  EXPECT_NE(s.message().find("AUTH-HEALTH-VN-CN"), std::string_view::npos) << s;
  EXPECT_NE(s.message().find("fewer approvals"), std::string_view::npos) << s;
  EXPECT_EQ(Check(1, {kSourceOfficer, kDestinationOfficer}, "trade.contract").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(CheckAtLeastAsStrict, DroppedRoleIsRefused) {
  absl::Status s = Check(3, {kSourceOfficer, kDataOwner}, "trade.contract");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("role destination_officer is missing"), std::string_view::npos) << s;
}

// 2 of {source, destination, data owner} is met by source + data owner,
// without the destination officer the local 2 of {source, destination}
// demands: an extra role without an extra approval is weaker.
TEST(CheckAtLeastAsStrict, ExtraRoleWithoutExtraApprovalIsRefused) {
  absl::Status s = Check(2, {kSourceOfficer, kDestinationOfficer, kDataOwner}, "trade.contract");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("extra role"), std::string_view::npos) << s;
}

TEST(CheckAtLeastAsStrict, DuplicateRolesCountOnce) {
  // {source, source} + destination with M=2 is just 2 of 2.
  EXPECT_TRUE(Check(2, {kSourceOfficer, kSourceOfficer, kDestinationOfficer}, "x").ok());
}

}  // namespace
}  // namespace beibu::review
