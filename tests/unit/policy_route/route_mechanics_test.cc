// Decide()'s evaluation mechanics on a small hand-built database: which
// rules apply, how contributions combine, classification, the FTZ exemption,
// determinism and request validation (route.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "beibu/policy/route.h"

namespace beibu::policy {
namespace {

Rule MakeRule(std::string id, Decision d, Conditions when, std::vector<std::string> unless = {}) {
  Rule r;
  r.id = std::move(id);
  r.summary = "test rule " + r.id + ".";
  r.decision = d;
  r.when = std::move(when);
  r.unless_attested = std::move(unless);
  return r;
}

class RouteMechanicsTest : public ::testing::Test {
 protected:
  RouteMechanicsTest() {
    auto cat = [&](std::string id, Level level, bool pi = false, bool spi = false,
                   std::string mask = "", bool sandbox = false) {
      Category c;
      c.id = id;
      c.level = level;
      c.pi = pi;
      c.spi = spi;
      c.mask_profile = std::move(mask);
      c.sandbox_only = sandbox;
      db_.categories[id] = c;
    };
    cat("plain", Level::kGeneral);
    cat("imp", Level::kImportant);
    cat("core", Level::kCore);
    cat("pii", Level::kGeneral, true, false, "pm");
    cat("maskednopi", Level::kGeneral, false, false, "pm");
    cat("box", Level::kGeneral, false, false, "", true);
    cat("h", Level::kGeneral);
    cat("h.x", Level::kGeneral);
    cat("hx.y", Level::kGeneral);
    cat("hh", Level::kGeneral);
    db_.profiles["pm"].id = "pm";
    db_.pi_finding_types = {"PHONE", "IDNO"};
    db_.spi_finding_types = {"IDNO", "ONLYSPI"};
    for (const char* cc : {"AA", "BB", "CC"}) db_.jurisdictions[cc].code = cc;
    db_.jurisdictions["AA"].mechanisms = {{"m1", "M one", ""}, {"m2", "M two", ""}};
    db_.jurisdictions["BB"].mechanisms = {{"m3", "M three", ""}};
  }

  RouteRequest Req(std::string category, std::string from = "AA", std::string to = "BB") {
    RouteRequest r;
    r.from = std::move(from);
    r.to = std::move(to);
    r.category = std::move(category);
    return r;
  }

  RouteDecision Ok(const RouteRequest& r) {
    absl::StatusOr<RouteDecision> d = Decide(db_, r);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : RouteDecision{};
  }

  std::vector<Rule>& AA() { return db_.jurisdictions["AA"].export_rules; }

  Database db_;
};

TEST_F(RouteMechanicsTest, NoRuleMeansFast) {
  RouteDecision d = Ok(Req("plain"));
  EXPECT_EQ(d.decision, Decision::kFast);
  EXPECT_TRUE(d.rules.empty());
  EXPECT_FALSE(d.mask_profile.has_value());
  EXPECT_FALSE(d.reason.empty());
}

TEST_F(RouteMechanicsTest, MostRestrictiveContributionWins) {
  AA().push_back(MakeRule("R-REVIEW", Decision::kReview, {.categories = {"plain", "box"}}));
  AA().push_back(MakeRule("R-DENY", Decision::kDeny, {.categories = {"plain"}}));
  AA().push_back(MakeRule("R-FAST", Decision::kFast, {.categories = {"plain"}}));
  RouteDecision d = Ok(Req("plain"));
  EXPECT_EQ(d.decision, Decision::kDeny);
  EXPECT_EQ(d.rules, (std::vector<std::string>{"R-REVIEW", "R-DENY", "R-FAST"}));
  ASSERT_EQ(d.trace.size(), 3u);
  EXPECT_EQ(d.trace[0].outcome, Decision::kReview);
  EXPECT_EQ(d.trace[1].outcome, Decision::kDeny);
  EXPECT_EQ(d.trace[2].outcome, Decision::kFast);

  // A sandbox-only category beats REVIEW.
  RouteDecision box = Ok(Req("box"));
  EXPECT_EQ(box.decision, Decision::kSandboxOnly);
  EXPECT_EQ(box.rules, (std::vector<std::string>{"R-REVIEW", "TAXONOMY:box"}));
}

TEST_F(RouteMechanicsTest, SatisfiedRulesAreReportedButContributeNothing) {
  AA().push_back(MakeRule("R1", Decision::kReview, {.categories = {"plain"}}, {"m1", "m2"}));
  RouteRequest r = Req("plain");
  RouteDecision unsatisfied = Ok(r);
  EXPECT_EQ(unsatisfied.decision, Decision::kReview);
  ASSERT_EQ(unsatisfied.trace.size(), 1u);
  EXPECT_FALSE(unsatisfied.trace[0].satisfied);
  EXPECT_EQ(unsatisfied.trace[0].outcome, Decision::kReview);

  r.attested = {"m3", "m2"};
  RouteDecision satisfied = Ok(r);
  EXPECT_EQ(satisfied.decision, Decision::kFast);
  EXPECT_EQ(satisfied.rules, (std::vector<std::string>{"R1"}));
  ASSERT_EQ(satisfied.trace.size(), 1u);
  EXPECT_TRUE(satisfied.trace[0].satisfied);
  EXPECT_EQ(satisfied.trace[0].outcome, Decision::kFast);
  EXPECT_NE(satisfied.trace[0].reason.find("m2"), std::string::npos);

  // A mechanism of another rule does not satisfy this one.
  r.attested = {"m3"};
  EXPECT_EQ(Ok(r).decision, Decision::kReview);
}

TEST_F(RouteMechanicsTest, PersonsBoundsAreInclusive) {
  AA().push_back(MakeRule("R-RANGE", Decision::kReview, {.persons_min = 10, .persons_max = 20}));
  struct {
    int64_t persons;
    bool fires;
  } cases[] = {{0, false}, {9, false}, {10, true}, {15, true}, {20, true}, {21, false}};
  for (const auto& c : cases) {
    RouteRequest r = Req("plain");
    r.persons = c.persons;
    RouteDecision d = Ok(r);
    EXPECT_EQ(d.decision, c.fires ? Decision::kReview : Decision::kFast) << c.persons;
    EXPECT_EQ(d.rules.size(), c.fires ? 1u : 0u) << c.persons;
  }
}

TEST_F(RouteMechanicsTest, ToToNotFromFromNot) {
  db_.global_rules.push_back(MakeRule("G-TO", Decision::kReview, {.to = {"BB"}}));
  db_.global_rules.push_back(MakeRule("G-TO-NOT", Decision::kReview, {.to_not = {"BB"}}));
  db_.global_rules.push_back(MakeRule("G-FROM", Decision::kReview, {.from = {"AA"}}));
  db_.global_rules.push_back(MakeRule("G-FROM-NOT", Decision::kReview, {.from_not = {"AA"}}));
  EXPECT_EQ(Ok(Req("plain", "AA", "BB")).rules, (std::vector<std::string>{"G-TO", "G-FROM"}));
  EXPECT_EQ(Ok(Req("plain", "AA", "CC")).rules, (std::vector<std::string>{"G-TO-NOT", "G-FROM"}));
  EXPECT_EQ(Ok(Req("plain", "CC", "BB")).rules, (std::vector<std::string>{"G-TO", "G-FROM-NOT"}));
  EXPECT_EQ(Ok(Req("plain", "BB", "CC")).rules,
            (std::vector<std::string>{"G-TO-NOT", "G-FROM-NOT"}));
}

TEST_F(RouteMechanicsTest, UnlessPurposeSkipsTheRule) {
  AA().push_back(MakeRule("R-P", Decision::kReview, {.unless_purpose = {"p1", "p2"}}));
  RouteRequest r = Req("plain");
  EXPECT_EQ(Ok(r).rules, (std::vector<std::string>{"R-P"}));  // empty purpose
  r.purpose = "p2";
  EXPECT_TRUE(Ok(r).rules.empty());
  r.purpose = "p3";
  EXPECT_EQ(Ok(r).rules, (std::vector<std::string>{"R-P"}));
}

TEST_F(RouteMechanicsTest, CategoryPatterns) {
  AA().push_back(MakeRule("R-WILD", Decision::kReview, {.categories = {"h.*"}}));
  AA().push_back(MakeRule("R-EXACT", Decision::kReview, {.categories = {"h"}}));
  EXPECT_EQ(Ok(Req("h")).rules, (std::vector<std::string>{"R-WILD", "R-EXACT"}));
  EXPECT_EQ(Ok(Req("h.x")).rules, (std::vector<std::string>{"R-WILD"}));
  EXPECT_TRUE(Ok(Req("hx.y")).rules.empty());
  EXPECT_TRUE(Ok(Req("hh")).rules.empty());
  EXPECT_TRUE(Ok(Req("plain")).rules.empty());
}

TEST_F(RouteMechanicsTest, LevelsAndFlagsConditions) {
  AA().push_back(MakeRule("R-IMP", Decision::kReview, {.levels = {Level::kImportant}}));
  AA().push_back(MakeRule("R-PI", Decision::kReview, {.pi = true, .spi = false}));
  AA().push_back(MakeRule("R-SPI", Decision::kReview, {.spi = true}));
  AA().push_back(MakeRule("R-NOPI", Decision::kFast, {.pi = false}));
  EXPECT_EQ(Ok(Req("plain")).rules, (std::vector<std::string>{"R-NOPI"}));
  EXPECT_EQ(Ok(Req("imp")).rules, (std::vector<std::string>{"R-IMP", "R-NOPI"}));
  EXPECT_EQ(Ok(Req("pii")).rules, (std::vector<std::string>{"R-PI"}));
  RouteRequest r = Req("plain");
  r.declared_spi = true;
  EXPECT_EQ(Ok(r).rules, (std::vector<std::string>{"R-SPI"}));
}

TEST_F(RouteMechanicsTest, DeclaredLevelRaisesButNeverLowers) {
  RouteRequest r = Req("imp");
  r.declared_level = Level::kGeneral;
  EXPECT_EQ(Ok(r).level, Level::kImportant);
  r.declared_level = Level::kCore;
  EXPECT_EQ(Ok(r).level, Level::kCore);
  RouteRequest p = Req("plain");
  p.declared_level = Level::kImportant;
  EXPECT_EQ(Ok(p).level, Level::kImportant);
  EXPECT_EQ(Ok(Req("core")).level, Level::kCore);
}

TEST_F(RouteMechanicsTest, FindingsRaisePiAndSpi) {
  RouteRequest r = Req("plain");
  RouteDecision none = Ok(r);
  EXPECT_FALSE(none.pi);
  EXPECT_FALSE(none.spi);
  r.finding_types = {"UNKNOWN_TYPE"};
  EXPECT_FALSE(Ok(r).pi);
  r.finding_types = {"PHONE", "PHONE"};
  RouteDecision pi = Ok(r);
  EXPECT_TRUE(pi.pi);
  EXPECT_FALSE(pi.spi);
  r.finding_types = {"PHONE", "IDNO"};
  RouteDecision spi = Ok(r);
  EXPECT_TRUE(spi.pi);
  EXPECT_TRUE(spi.spi);
  r.finding_types = {"ONLYSPI"};  // SPI implies PI even when the type is not listed as PI
  RouteDecision only = Ok(r);
  EXPECT_TRUE(only.pi);
  EXPECT_TRUE(only.spi);
  RouteRequest declared = Req("plain");
  declared.declared_spi = true;
  EXPECT_TRUE(Ok(declared).pi);
}

TEST_F(RouteMechanicsTest, MaskOnlyForFastPiWithAProfile) {
  RouteDecision masked = Ok(Req("pii"));
  EXPECT_EQ(masked.decision, Decision::kMask);
  EXPECT_EQ(masked.mask_profile, "pm");
  EXPECT_EQ(masked.rules, (std::vector<std::string>{"PROFILE:pm"}));

  EXPECT_EQ(Ok(Req("maskednopi")).decision, Decision::kFast);  // no PI: nothing to mask
  RouteRequest found = Req("maskednopi");
  found.finding_types = {"PHONE"};
  EXPECT_EQ(Ok(found).mask_profile, "pm");

  AA().push_back(MakeRule("R-PI", Decision::kReview, {.pi = true}, {"m1"}));
  RouteDecision review = Ok(Req("pii"));
  EXPECT_EQ(review.decision, Decision::kReview);
  EXPECT_FALSE(review.mask_profile.has_value());
  RouteRequest attested = Req("pii");
  attested.attested = {"m1"};
  RouteDecision after = Ok(attested);
  EXPECT_EQ(after.decision, Decision::kMask);
  EXPECT_EQ(after.rules, (std::vector<std::string>{"R-PI", "PROFILE:pm"}));
}

TEST_F(RouteMechanicsTest, HighRiskIsFlaggedEvenWhenFast) {
  Rule r = MakeRule("R-HR", Decision::kFast, {.pi = true});
  r.high_risk = true;
  AA().push_back(r);
  RouteDecision d = Ok(Req("pii"));
  EXPECT_TRUE(d.high_risk);
  EXPECT_NE(d.reason.find("high risk"), std::string::npos);
  EXPECT_FALSE(Ok(Req("plain")).high_risk);
}

TEST_F(RouteMechanicsTest, FtzExemptionAndNegativeListEntries) {
  AA().push_back(MakeRule("R-EX", Decision::kReview, {.pi = true, .ftz_exemptable = true}));
  AA().push_back(MakeRule("R-IMP", Decision::kReview, {.levels = {Level::kImportant}}));
  NegativeList& zz = db_.negative_lists["zz"];
  zz.zone = "zz";
  zz.source_country = "AA";
  zz.exemption_rule_id = "AA-FTZ-ZZ";
  NegativeListEntry e1;
  e1.id = "ZZ-1";
  e1.categories = {"pii"};
  e1.persons_threshold = 100;
  e1.require_any = {"m1"};
  NegativeListEntry e2;
  e2.id = "ZZ-2";
  e2.categories = {"h.*"};
  e2.sandbox_only = true;
  zz.entries = {e1, e2};

  RouteRequest r = Req("pii");
  r.ftz = "zz";
  r.persons = 99;  // below the entry's threshold: off the list, exempt
  RouteDecision exempt = Ok(r);
  EXPECT_EQ(exempt.decision, Decision::kMask);
  EXPECT_EQ(exempt.rules, (std::vector<std::string>{"AA-FTZ-ZZ", "PROFILE:pm"}));

  r.persons = 100;  // on the list: not exempt, the entry fires
  RouteDecision listed = Ok(r);
  EXPECT_EQ(listed.decision, Decision::kReview);
  EXPECT_EQ(listed.rules, (std::vector<std::string>{"R-EX", "ZZ-1"}));
  r.attested = {"m1"};
  RouteDecision entry_ok = Ok(r);
  EXPECT_EQ(entry_ok.decision, Decision::kReview);  // R-EX still needs review
  ASSERT_EQ(entry_ok.trace.size(), 2u);
  EXPECT_TRUE(entry_ok.trace[1].satisfied);

  RouteRequest no_ftz = Req("pii");
  no_ftz.persons = 99;
  EXPECT_EQ(Ok(no_ftz).rules, (std::vector<std::string>{"R-EX"}));

  RouteRequest other_source = Req("pii", "BB", "AA");
  other_source.ftz = "zz";
  EXPECT_EQ(Ok(other_source).rules, (std::vector<std::string>{"PROFILE:pm"}));

  RouteRequest important = Req("imp");
  important.ftz = "zz";  // the exemption leaves non-exemptable rules alone
  EXPECT_EQ(Ok(important).rules, (std::vector<std::string>{"R-IMP", "AA-FTZ-ZZ"}));

  RouteRequest sandboxed = Req("h.x");
  sandboxed.ftz = "zz";
  RouteDecision sb = Ok(sandboxed);
  EXPECT_EQ(sb.decision, Decision::kSandboxOnly);
  EXPECT_EQ(sb.rules, (std::vector<std::string>{"ZZ-2"}));
}

TEST_F(RouteMechanicsTest, DeterministicOrderGlobalThenSource) {
  db_.global_rules.push_back(MakeRule("G-2", Decision::kReview, {}));
  db_.global_rules.push_back(MakeRule("G-1", Decision::kFast, {}));
  AA().push_back(MakeRule("A-2", Decision::kReview, {}, {"m1"}));
  AA().push_back(MakeRule("A-1", Decision::kReview, {}));
  RouteRequest r = Req("pii");
  r.attested = {"m1"};
  RouteDecision first = Ok(r);
  EXPECT_EQ(first.rules, (std::vector<std::string>{"G-2", "G-1", "A-2", "A-1"}));
  for (int i = 0; i < 5; ++i) {
    RouteDecision again = Ok(r);
    EXPECT_EQ(again.rules, first.rules);
    EXPECT_EQ(again.reason, first.reason);
    EXPECT_EQ(again.decision, first.decision);
  }
}

TEST_F(RouteMechanicsTest, ValidationErrors) {
  db_.negative_lists["zz"].zone = "zz";
  struct {
    const char* what;
    RouteRequest req;
    const char* mentions;
  } cases[] = {
      {"unknown category", Req("nope"), "nope"},
      {"unknown source", Req("plain", "XX", "BB"), "XX"},
      {"unknown destination", Req("plain", "AA", "YY"), "YY"},
      {"lower-case country", Req("plain", "aa", "BB"), "aa"},
      {"same country", Req("plain", "AA", "AA"), "AA"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<RouteDecision> d = Decide(db_, c.req);
    ASSERT_FALSE(d.ok()) << c.what;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(d.status().message().find(c.mentions), absl::string_view::npos) << d.status();
  }
  RouteRequest negative = Req("plain");
  negative.persons = -1;
  EXPECT_EQ(Decide(db_, negative).status().code(), absl::StatusCode::kInvalidArgument);
  RouteRequest zone = Req("plain");
  zone.ftz = "qq";
  EXPECT_EQ(Decide(db_, zone).status().code(), absl::StatusCode::kInvalidArgument);
  zone.ftz = "zz";
  EXPECT_TRUE(Decide(db_, zone).ok());
  RouteRequest mech = Req("plain");
  mech.attested = {"m1", "m-unknown"};
  absl::StatusOr<RouteDecision> bad = Decide(db_, mech);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("m-unknown"), absl::string_view::npos);
  mech.attested = {"m3"};  // another jurisdiction's mechanism is known, just useless here
  EXPECT_TRUE(Decide(db_, mech).ok());
}

}  // namespace
}  // namespace beibu::policy
