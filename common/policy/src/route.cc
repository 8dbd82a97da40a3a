// Decide(): the routing decision (route.h has the contract, docs/policy.md the
// semantics). Called once per transfer, so it walks the database in place and
// allocates only what the result carries (ids and reasons).
#include "beibu/policy/route.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace beibu::policy {
namespace {

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  for (const std::string& item : list) {
    if (item == value) return true;
  }
  return false;
}

bool AnyPatternMatches(const std::vector<std::string>& patterns, const std::string& category) {
  for (const std::string& pattern : patterns) {
    if (CategoryMatches(pattern, category)) return true;
  }
  return false;
}

// 1234567 -> "1,234,567": reasons are read by people.
std::string FormatCount(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3 + 1);
  if (n < 0) out.push_back('-');
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) absl::StrAppend(&out, i + 1 == ids.size() ? " or " : ", ");
    absl::StrAppend(&out, ids[i]);
  }
  return out;
}

// A rule summary is one sentence; the reason appends to it, so drop its full stop.
std::string_view Sentence(const std::string& summary) {
  std::string_view s = summary;
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

struct Effective {
  Level level = Level::kGeneral;
  bool pi = false;
  bool spi = false;
};

bool Applies(const Conditions& when, const Effective& e, const RouteRequest& r) {
  if (!when.levels.empty() &&
      std::find(when.levels.begin(), when.levels.end(), e.level) == when.levels.end())
    return false;
  if (when.pi.has_value() && *when.pi != e.pi) return false;
  if (when.spi.has_value() && *when.spi != e.spi) return false;
  if (!when.categories.empty() && !AnyPatternMatches(when.categories, r.category)) return false;
  if (when.persons_min.has_value() && r.persons < *when.persons_min) return false;
  if (when.persons_max.has_value() && r.persons > *when.persons_max) return false;
  if (!when.to.empty() && !Contains(when.to, r.to)) return false;
  if (Contains(when.to_not, r.to)) return false;
  if (!when.from.empty() && !Contains(when.from, r.from)) return false;
  if (Contains(when.from_not, r.from)) return false;
  if (!r.purpose.empty() && Contains(when.unless_purpose, r.purpose)) return false;
  return true;
}

// The first mechanism of `accepted` the exporter attests, or nullptr.
const std::string* FirstAttested(const std::vector<std::string>& accepted, const RouteRequest& r) {
  for (const std::string& m : accepted) {
    if (Contains(r.attested, m)) return &m;
  }
  return nullptr;
}

// How a fired rule ended, appended to its summary: " (accepts A or B); none
// attested → REVIEW." / " (accepts A or B); A is attested, so it is satisfied."
// / " → DENY." Entries have no summary, so they say "needs" instead.
std::string Outcome(bool has_summary, Decision decision, const std::vector<std::string>& accepted,
                    const std::string* attested) {
  if (accepted.empty()) return absl::StrCat(" → ", std::string(DecisionName(decision)), ".");
  std::string out = has_summary ? absl::StrCat(" (accepts ", JoinIds(accepted), ")")
                                : absl::StrCat(" and needs ", JoinIds(accepted));
  if (attested != nullptr) {
    absl::StrAppend(&out, "; ", *attested, " is attested, so it is satisfied.");
  } else {
    absl::StrAppend(&out, "; none attested → ", std::string(DecisionName(decision)), ".");
  }
  return out;
}

class Evaluation {
 public:
  Evaluation(const RouteRequest& r, RouteDecision& out) : r_(r), out_(out) {}

  void Fire(std::string id, Decision outcome, bool satisfied, std::string reason) {
    if (outcome > worst_) worst_ = outcome;
    out_.rules.push_back(id);
    out_.trace.push_back(FiredRule{std::move(id), outcome, satisfied, std::move(reason)});
  }

  void FireRule(const Rule& rule) {
    const std::string* attested = FirstAttested(rule.unless_attested, r_);
    std::string reason = absl::StrCat(
        rule.id, ": ",
        rule.summary.empty() ? "the rule applies" : std::string(Sentence(rule.summary)),
        Outcome(true, rule.decision, rule.unless_attested, attested));
    if (rule.high_risk) {
      out_.high_risk = true;
      absl::StrAppend(&reason, " The route from ", r_.from,
                      " is flagged high risk: check the recipient and the contract yourself.");
    }
    Fire(rule.id, attested != nullptr ? Decision::kFast : rule.decision, attested != nullptr,
         std::move(reason));
  }

  void FireEntry(const NegativeList& list, const NegativeListEntry& entry) {
    std::string reason = absl::StrCat(entry.id, ": ", entry.categories.empty() ? "the data" : "",
                                      JoinIds(entry.categories), " data");
    if (entry.persons_threshold > 0) {
      absl::StrAppend(&reason, " of ", FormatCount(entry.persons_threshold), " persons or more");
    }
    absl::StrAppend(&reason, " is on the ", list.name.empty() ? list.zone : list.name,
                    " data export negative list");
    if (!entry.sector.empty() || !entry.scenario.empty()) {
      absl::StrAppend(&reason, " (", entry.sector,
                      entry.sector.empty() || entry.scenario.empty() ? "" : ": ", entry.scenario,
                      ")");
    }
    if (entry.sandbox_only) {
      absl::StrAppend(&reason, "; it stays home and only sandbox results leave → SANDBOX_ONLY.");
      Fire(entry.id, Decision::kSandboxOnly, false, std::move(reason));
      return;
    }
    const std::string* attested = FirstAttested(entry.require_any, r_);
    absl::StrAppend(&reason, Outcome(false, Decision::kReview, entry.require_any, attested));
    Fire(entry.id, attested != nullptr ? Decision::kFast : Decision::kReview, attested != nullptr,
         std::move(reason));
  }

  Decision worst() const { return worst_; }

 private:
  const RouteRequest& r_;
  RouteDecision& out_;
  Decision worst_ = Decision::kFast;
};

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

absl::Status Validate(const Database& db, const RouteRequest& r) {
  if (db.categories.find(r.category) == db.categories.end()) {
    return Invalid(absl::StrCat("unknown category \"", r.category,
                                "\": it is not in the policy database's taxonomy; declare one of "
                                "its ids, e.g. trade.contract"));
  }
  for (const std::string* cc : {&r.from, &r.to}) {
    if (db.jurisdictions.find(*cc) == db.jurisdictions.end()) {
      return Invalid(absl::StrCat("unknown country \"", *cc, "\" (", cc == &r.from ? "from" : "to",
                                  "): the policy database has no jurisdiction with that code; use "
                                  "an upper-case ISO 3166-1 alpha-2 code it covers, e.g. CN"));
    }
  }
  if (r.from == r.to) {
    return Invalid(absl::StrCat("from and to are both ", r.from,
                                ": not a cross-border transfer, nothing to route"));
  }
  if (r.persons < 0) {
    return Invalid(absl::StrCat("persons is ", r.persons,
                                ": it counts persons whose PI left this year and cannot be "
                                "negative; pass 0 when the data holds no PI"));
  }
  if (!r.ftz.empty() && db.negative_lists.find(r.ftz) == db.negative_lists.end()) {
    return Invalid(absl::StrCat("unknown FTZ zone \"", r.ftz,
                                "\": the policy database has no negative list for it; leave ftz "
                                "empty or use a zone it defines, e.g. gx"));
  }
  for (const std::string& m : r.attested) {
    bool known = false;
    for (const auto& [code, j] : db.jurisdictions) {
      for (const Mechanism& mech : j.mechanisms) known = known || mech.id == m;
      if (known) break;
    }
    if (!known) {
      return Invalid(absl::StrCat("unknown attested mechanism \"", m,
                                  "\": no jurisdiction of the policy database defines it; attest "
                                  "mechanism ids such as cn-standard-contract or consent"));
    }
  }
  return absl::OkStatus();
}

Effective Classify(const Database& db, const Category& category, const RouteRequest& r) {
  Effective e;
  e.level = category.level;
  if (r.declared_level.has_value() && *r.declared_level > e.level) e.level = *r.declared_level;
  e.spi = category.spi || r.declared_spi;
  e.pi = category.pi || r.declared_pi || e.spi;
  for (const std::string& type : r.finding_types) {
    if (!e.spi && Contains(db.spi_finding_types, type)) e.spi = true;
    if (!e.pi && Contains(db.pi_finding_types, type)) e.pi = true;
  }
  e.pi = e.pi || e.spi;
  return e;
}

std::string Headline(const RouteRequest& r, const Effective& e, Decision decision) {
  std::string_view kind = e.spi  ? "sensitive personal information"
                          : e.pi ? "personal information"
                                 : "no personal information";
  std::string out =
      absl::StrCat(std::string(DecisionName(decision)), " for ", r.category, " from ", r.from,
                   " to ", r.to, " (", std::string(LevelName(e.level)), ", ", std::string(kind));
  if (e.pi) absl::StrAppend(&out, ", ", FormatCount(r.persons), " persons this year");
  absl::StrAppend(&out, ").");
  return out;
}

}  // namespace

absl::StatusOr<RouteDecision> Decide(const Database& db, const RouteRequest& request) {
  if (absl::Status s = Validate(db, request); !s.ok()) return s;
  const Category& category = db.categories.find(request.category)->second;
  const Jurisdiction& source = db.jurisdictions.find(request.from)->second;

  RouteDecision out;
  const Effective e = Classify(db, category, request);
  out.level = e.level;
  out.pi = e.pi;
  out.spi = e.spi;
  Evaluation eval(request, out);

  // The zone's list counts only for data leaving the zone's own country.
  const NegativeList* zone = nullptr;
  if (!request.ftz.empty()) {
    const NegativeList& list = db.negative_lists.find(request.ftz)->second;
    if (list.source_country == request.from) zone = &list;
  }
  auto entry_matches = [&](const NegativeListEntry& entry) {
    return request.persons >= entry.persons_threshold &&
           AnyPatternMatches(entry.categories, request.category);
  };
  bool exempt =
      zone != nullptr && std::none_of(zone->entries.begin(), zone->entries.end(), entry_matches);

  for (const Rule& rule : db.global_rules) {
    if (exempt && rule.when.ftz_exemptable) continue;
    if (Applies(rule.when, e, request)) eval.FireRule(rule);
  }
  for (const Rule& rule : source.export_rules) {
    if (exempt && rule.when.ftz_exemptable) continue;
    if (Applies(rule.when, e, request)) eval.FireRule(rule);
  }
  if (zone != nullptr) {
    for (const NegativeListEntry& entry : zone->entries) {
      if (entry_matches(entry)) eval.FireEntry(*zone, entry);
    }
    if (exempt) {
      eval.Fire(zone->exemption_rule_id, Decision::kFast, false,
                absl::StrCat(zone->exemption_rule_id, ": ", category.id, " data of ",
                             zone->name.empty() ? zone->zone : zone->name,
                             " origin is not on its data export negative list, so it is exempt "
                             "from the ",
                             zone->source_country,
                             " security assessment, standard contract and certification (",
                             zone->source.empty() ? "2024 Provisions art. 6" : zone->source, ")."));
    }
  }
  if (category.sandbox_only) {
    eval.Fire(
        absl::StrCat("TAXONOMY:", category.id), Decision::kSandboxOnly, false,
        absl::StrCat("TAXONOMY:", category.id, ": the category is sandbox-only: the data stays in ",
                     request.from, " and only sandbox results leave → SANDBOX_ONLY."));
  }
  out.decision = eval.worst();
  if (out.decision == Decision::kFast && e.pi && !category.mask_profile.empty()) {
    out.decision = Decision::kMask;
    out.mask_profile = category.mask_profile;
    eval.Fire(absl::StrCat("PROFILE:", category.mask_profile), Decision::kMask, false,
              absl::StrCat("PROFILE:", category.mask_profile,
                           ": personal information that may go fast is first masked with the "
                           "category's profile ",
                           category.mask_profile, " → MASK."));
  }

  out.reason = Headline(request, e, out.decision);
  if (out.trace.empty()) {
    absl::StrAppend(&out.reason, " No rule applies: ",
                    e.pi ? "the data may leave without a transfer mechanism"
                         : "general data without personal information goes fast",
                    ".");
  }
  for (const FiredRule& fired : out.trace) absl::StrAppend(&out.reason, " ", fired.reason);
  return out;
}

}  // namespace beibu::policy
