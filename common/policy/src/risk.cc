// DiffDatabases() and RiskWarnings() (risk.h). The diff compares meaning, not
// bytes: line numbers, digests and the order of sets (levels, patterns,
// mechanisms, finding types) do not count, so a reformatted file diffs empty.
#include "beibu/policy/risk.h"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace beibu::policy {
namespace {

std::string Show(const std::string& s) { return s.empty() ? "\"\"" : absl::StrCat("\"", s, "\""); }
std::string Show(bool b) { return b ? "true" : "false"; }
std::string Show(int64_t n) { return absl::StrCat(n); }
std::string Show(Level l) { return std::string(LevelName(l)); }
std::string Show(Decision d) { return std::string(DecisionName(d)); }
std::string Show(const std::optional<bool>& b) { return b ? Show(*b) : "any"; }
std::string Show(const std::optional<int64_t>& n) { return n ? Show(*n) : "any"; }

// Sets compare sorted: their order in a file means nothing.
std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}
std::string Show(const std::vector<std::string>& v) {
  return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
}
std::vector<std::string> Names(const std::vector<Level>& levels) {
  std::vector<std::string> out;
  for (Level l : levels) out.emplace_back(LevelName(l));
  return Sorted(std::move(out));
}

std::string Show(const MaskOp& op) {
  switch (op.kind) {
    case MaskOp::Kind::kMask:
      return absl::StrCat("mask(keep_first ", op.keep_first, ", keep_last ", op.keep_last,
                          ", char '", std::string(1, op.mask_char), "')");
    case MaskOp::Kind::kRedact:
      return "redact";
    case MaskOp::Kind::kPseudonym:
      return "pseudonym";
    case MaskOp::Kind::kReplaceWithType:
      return "replace_with_type";
    case MaskOp::Kind::kGeneralizeDate:
      return "generalize_date";
    case MaskOp::Kind::kGeneralizeNumber:
      return absl::StrCat("generalize_number(bucket ", op.bucket, ")");
  }
  return "unknown";
}

// Collects "field old -> new" for the fields that differ.
class Fields {
 public:
  template <typename T>
  void Compare(const char* name, const T& a, const T& b) {
    if (!(a == b)) parts_.push_back(absl::StrCat(name, " ", Show(a), " -> ", Show(b)));
  }
  void CompareSet(const char* name, const std::vector<std::string>& a,
                  const std::vector<std::string>& b) {
    Compare(name, Sorted(a), Sorted(b));
  }
  void Add(std::string part) { parts_.push_back(std::move(part)); }
  bool empty() const { return parts_.empty(); }
  std::string Join() const { return absl::StrJoin(parts_, "; "); }

 private:
  std::vector<std::string> parts_;
};

// Added, removed and changed entries of two id-keyed maps.
template <typename T, typename CompareFn, typename DescribeFn>
void DiffMaps(const char* what, const std::map<std::string, T>& old_map,
              const std::map<std::string, T>& new_map, CompareFn compare, DescribeFn describe,
              std::vector<DatabaseChange>& out) {
  for (const auto& [id, old_item] : old_map) {
    auto it = new_map.find(id);
    if (it == new_map.end()) {
      out.push_back({DatabaseChange::Kind::kRemoved, what, id, describe(old_item)});
      continue;
    }
    Fields f;
    compare(old_item, it->second, f);
    if (!f.empty()) out.push_back({DatabaseChange::Kind::kChanged, what, id, f.Join()});
  }
  for (const auto& [id, new_item] : new_map) {
    if (old_map.find(id) == old_map.end()) {
      out.push_back({DatabaseChange::Kind::kAdded, what, id, describe(new_item)});
    }
  }
}

struct ScopedRule {
  std::string scope;  // "global" or the source country
  const Rule* rule = nullptr;
};

std::map<std::string, ScopedRule> RulesById(const Database& db) {
  std::map<std::string, ScopedRule> out;
  for (const Rule& r : db.global_rules) out[r.id] = {"global", &r};
  for (const auto& [code, j] : db.jurisdictions) {
    for (const Rule& r : j.export_rules) out[r.id] = {code, &r};
  }
  return out;
}

void CompareRules(const ScopedRule& a, const ScopedRule& b, Fields& f) {
  const Rule& x = *a.rule;
  const Rule& y = *b.rule;
  f.Compare("scope", a.scope, b.scope);
  f.Compare("decision", x.decision, y.decision);
  f.CompareSet("unless_attested", x.unless_attested, y.unless_attested);
  f.Compare("high_risk", x.high_risk, y.high_risk);
  f.Compare("levels", Names(x.when.levels), Names(y.when.levels));
  f.Compare("pi", x.when.pi, y.when.pi);
  f.Compare("spi", x.when.spi, y.when.spi);
  f.CompareSet("categories", x.when.categories, y.when.categories);
  f.Compare("persons_min", x.when.persons_min, y.when.persons_min);
  f.Compare("persons_max", x.when.persons_max, y.when.persons_max);
  f.CompareSet("to", x.when.to, y.when.to);
  f.CompareSet("to_not", x.when.to_not, y.when.to_not);
  f.CompareSet("from", x.when.from, y.when.from);
  f.CompareSet("from_not", x.when.from_not, y.when.from_not);
  f.CompareSet("unless_purpose", x.when.unless_purpose, y.when.unless_purpose);
  f.Compare("ftz_exemptable", x.when.ftz_exemptable, y.when.ftz_exemptable);
  f.Compare("summary", x.summary, y.summary);
  f.Compare("source", x.source, y.source);
}

void CompareOps(const char* name, const std::map<std::string, MaskOp>& a,
                const std::map<std::string, MaskOp>& b, Fields& f) {
  for (const auto& [key, op] : a) {
    auto it = b.find(key);
    if (it == b.end()) {
      f.Add(absl::StrCat(name, " ", key, " removed (was ", Show(op), ")"));
    } else if (Show(op) != Show(it->second)) {
      f.Add(absl::StrCat(name, " ", key, " ", Show(op), " -> ", Show(it->second)));
    }
  }
  for (const auto& [key, op] : b) {
    if (a.find(key) == a.end()) f.Add(absl::StrCat(name, " ", key, " added (", Show(op), ")"));
  }
}

std::vector<std::string> LawLines(const std::vector<Law>& laws) {
  std::vector<std::string> out;
  for (const Law& l : laws) out.push_back(absl::StrCat(l.id, ": ", l.title, " <", l.source, ">"));
  return Sorted(std::move(out));
}

std::vector<std::string> LocalizationLines(const std::vector<Localization>& items) {
  std::vector<std::string> out;
  for (const Localization& l : items) {
    out.push_back(absl::StrCat(l.id, ": ", l.text, " <", l.source, ">"));
  }
  return Sorted(std::move(out));
}

std::map<std::string, Mechanism> MechanismsByKey(const Database& db) {
  std::map<std::string, Mechanism> out;
  for (const auto& [code, j] : db.jurisdictions) {
    for (const Mechanism& m : j.mechanisms) out[absl::StrCat(code, "/", m.id)] = m;
  }
  return out;
}

struct ZonedEntry {
  std::string zone;
  NegativeListEntry entry;
};

std::map<std::string, ZonedEntry> EntriesById(const Database& db) {
  std::map<std::string, ZonedEntry> out;
  for (const auto& [zone, list] : db.negative_lists) {
    for (const NegativeListEntry& e : list.entries) out[e.id] = {zone, e};
  }
  return out;
}

std::string RuleIds(const std::vector<std::string>& ids) { return absl::StrJoin(ids, ", "); }

// Ids of `a` not in `b`, in `a`'s order.
std::vector<std::string> Minus(const std::vector<std::string>& a,
                               const std::vector<std::string>& b) {
  std::vector<std::string> out;
  for (const std::string& id : a) {
    if (std::find(b.begin(), b.end(), id) == b.end()) out.push_back(id);
  }
  return out;
}

std::string TraceReason(const RouteDecision& d, const std::string& id) {
  for (const FiredRule& f : d.trace) {
    if (f.id == id) return f.reason;
  }
  return id;
}

}  // namespace

std::vector<DatabaseChange> DiffDatabases(const Database& old_db, const Database& new_db) {
  std::vector<DatabaseChange> out;

  Fields manifest;
  manifest.Compare("version", old_db.version, new_db.version);
  manifest.Compare("label", old_db.label, new_db.label);
  manifest.Compare("published", old_db.published, new_db.published);
  if (!manifest.empty()) {
    out.push_back({DatabaseChange::Kind::kChanged, "manifest", "manifest", manifest.Join()});
  }

  Fields pi_types;
  pi_types.CompareSet("pi_finding_types", old_db.pi_finding_types, new_db.pi_finding_types);
  if (!pi_types.empty()) {
    out.push_back(
        {DatabaseChange::Kind::kChanged, "taxonomy", "pi_finding_types", pi_types.Join()});
  }
  Fields spi_types;
  spi_types.CompareSet("spi_finding_types", old_db.spi_finding_types, new_db.spi_finding_types);
  if (!spi_types.empty()) {
    out.push_back(
        {DatabaseChange::Kind::kChanged, "taxonomy", "spi_finding_types", spi_types.Join()});
  }

  DiffMaps(
      "category", old_db.categories, new_db.categories,
      [](const Category& a, const Category& b, Fields& f) {
        f.Compare("level", a.level, b.level);
        f.Compare("pi", a.pi, b.pi);
        f.Compare("spi", a.spi, b.spi);
        f.Compare("mask_profile", a.mask_profile, b.mask_profile);
        f.Compare("sandbox_only", a.sandbox_only, b.sandbox_only);
        f.Compare("description", a.description, b.description);
      },
      [](const Category& c) {
        return absl::StrCat(Show(c.level),
                            c.spi  ? " SPI"
                            : c.pi ? " PI"
                                   : "",
                            c.mask_profile.empty() ? "" : ", mask_profile " + c.mask_profile,
                            c.sandbox_only ? ", sandbox_only" : "");
      },
      out);

  DiffMaps(
      "profile", old_db.profiles, new_db.profiles,
      [](const MaskProfile& a, const MaskProfile& b, Fields& f) {
        f.Compare("description", a.description, b.description);
        CompareOps("type", a.by_type, b.by_type, f);
        CompareOps("field", a.by_field, b.by_field, f);
      },
      [](const MaskProfile& p) { return p.description; }, out);

  DiffMaps(
      "rule", RulesById(old_db), RulesById(new_db), CompareRules,
      [](const ScopedRule& r) {
        return absl::StrCat(r.scope, ": ", Show(r.rule->decision), ": ", r.rule->summary);
      },
      out);

  DiffMaps(
      "mechanism", MechanismsByKey(old_db), MechanismsByKey(new_db),
      [](const Mechanism& a, const Mechanism& b, Fields& f) {
        f.Compare("name", a.name, b.name);
        f.Compare("source", a.source, b.source);
      },
      [](const Mechanism& m) { return m.name; }, out);

  DiffMaps(
      "jurisdiction", old_db.jurisdictions, new_db.jurisdictions,
      [](const Jurisdiction& a, const Jurisdiction& b, Fields& f) {
        f.Compare("name", a.name, b.name);
        f.Compare("regulator", a.regulator, b.regulator);
        f.Compare("laws", LawLines(a.laws), LawLines(b.laws));
        f.Compare("localization", LocalizationLines(a.localization),
                  LocalizationLines(b.localization));
        f.CompareSet("notes", a.notes, b.notes);
        f.Compare("file", a.file, b.file);
      },
      [](const Jurisdiction& j) { return j.name; }, out);

  DiffMaps(
      "negative-list", old_db.negative_lists, new_db.negative_lists,
      [](const NegativeList& a, const NegativeList& b, Fields& f) {
        f.Compare("name", a.name, b.name);
        f.Compare("source_country", a.source_country, b.source_country);
        f.Compare("exemption_rule_id", a.exemption_rule_id, b.exemption_rule_id);
        f.Compare("source", a.source, b.source);
        f.Compare("file", a.file, b.file);
      },
      [](const NegativeList& l) { return l.name; }, out);

  DiffMaps(
      "negative-list-entry", EntriesById(old_db), EntriesById(new_db),
      [](const ZonedEntry& za, const ZonedEntry& zb, Fields& f) {
        const NegativeListEntry& a = za.entry;
        const NegativeListEntry& b = zb.entry;
        f.Compare("zone", za.zone, zb.zone);
        f.CompareSet("categories", a.categories, b.categories);
        f.Compare("persons_threshold", a.persons_threshold, b.persons_threshold);
        f.CompareSet("require_any", a.require_any, b.require_any);
        f.Compare("sandbox_only", a.sandbox_only, b.sandbox_only);
        f.Compare("sector", a.sector, b.sector);
        f.Compare("scenario", a.scenario, b.scenario);
        f.CompareSet("fields", a.fields, b.fields);
        f.CompareSet("exceptions", a.exceptions, b.exceptions);
        f.Compare("source", a.source, b.source);
      },
      [](const ZonedEntry& z) {
        return absl::StrCat(z.zone, ": ", Show(z.entry.categories), " from ",
                            z.entry.persons_threshold, " persons");
      },
      out);

  std::stable_sort(out.begin(), out.end(), [](const DatabaseChange& a, const DatabaseChange& b) {
    return std::tie(a.what, a.id) < std::tie(b.what, b.id);
  });
  return out;
}

std::vector<RiskWarning> RiskWarnings(const Database& old_db, const Database& new_db,
                                      const std::vector<RecentRoute>& routes) {
  std::vector<RiskWarning> out;
  for (const RecentRoute& route : routes) {
    absl::StatusOr<RouteDecision> before = Decide(old_db, route.request);
    absl::StatusOr<RouteDecision> after = Decide(new_db, route.request);
    RiskWarning w;
    w.exporter = route.exporter;
    w.request = route.request;
    if (!before.ok() || !after.ok()) {
      if (before.ok()) w.before = *before;
      if (after.ok()) w.after = *after;
      if (!before.ok()) {
        absl::StrAppend(&w.reason, "the old database (version ", old_db.version,
                        ") cannot decide this route: ", std::string(before.status().message()),
                        ". ");
      }
      if (!after.ok()) {
        absl::StrAppend(&w.reason, "the new database (version ", new_db.version,
                        ") cannot decide this route: ", std::string(after.status().message()),
                        ". ");
      }
      if (!w.reason.empty()) w.reason[0] = 'T';
      w.reason.pop_back();
      out.push_back(std::move(w));
      continue;
    }
    w.before = *std::move(before);
    w.after = *std::move(after);
    w.rules_added = Minus(w.after.rules, w.before.rules);
    w.rules_removed = Minus(w.before.rules, w.after.rules);
    if (w.before.decision == w.after.decision && w.before.mask_profile == w.after.mask_profile &&
        w.rules_added.empty() && w.rules_removed.empty()) {
      continue;
    }
    w.reason = absl::StrCat(Show(w.before.decision), " -> ", Show(w.after.decision), ":");
    if (w.before.mask_profile != w.after.mask_profile) {
      absl::StrAppend(&w.reason, " mask profile ", w.before.mask_profile.value_or("none"), " -> ",
                      w.after.mask_profile.value_or("none"), ".");
    }
    for (const std::string& id : w.rules_added) {
      absl::StrAppend(&w.reason, " Now fires: ", TraceReason(w.after, id));
    }
    if (!w.rules_removed.empty()) {
      absl::StrAppend(&w.reason, " No longer fires: ", RuleIds(w.rules_removed), ".");
    }
    if (w.rules_added.empty() && w.rules_removed.empty() &&
        w.before.mask_profile == w.after.mask_profile) {
      absl::StrAppend(&w.reason,
                      " The same rules fire but their outcome changed: ", w.after.reason);
    }
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace beibu::policy
