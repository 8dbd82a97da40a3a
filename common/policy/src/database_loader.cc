// Loads and validates the policy database (layout and keys:
// docs/policy-database.md). Parsing is per file; references between files
// (categories, profiles, mechanisms, countries, rule ids) are collected while
// parsing and checked once every file is read, so that each error still names
// the file and line of the offending value.
#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "beibu/policy/database.h"
#include "beibu/policy/detector.h"
#include "beibu/policy/mask.h"
#include "yaml_walk.h"

namespace beibu::policy {
namespace {

using internal::Item;
using internal::MapReader;
using internal::YamlFile;

constexpr size_t kMaxFiles = 256;
constexpr size_t kMaxFileBytes = 4 << 20;
constexpr int64_t kMaxPersons = int64_t{1} << 53;
constexpr char kManifest[] = "manifest.yaml";
constexpr char kTaxonomy[] = "taxonomy.yaml";
constexpr char kProfiles[] = "profiles.yaml";
constexpr char kRules[] = "rules.yaml";
constexpr char kJurisdictionDir[] = "jurisdictions/";
constexpr char kNegativeListDir[] = "negative-lists/";
constexpr char kAuthorization[] = "authorization.yaml";  // optional (docs/review.md)
constexpr int64_t kMaxDeadlineHours = 24 * 365;
// The roles an authorization rule may name (beibu/review/requirement.h; the
// policy library cannot depend on beibu_review, which depends on it).
constexpr const char* kAuthorizationRoles[] = {"source_officer", "destination_officer",
                                               "data_owner"};

bool IsLowerId(std::string_view s, bool dots) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    (dots && c == '.' && prev != '.');
    if (!ok) return false;
    prev = c;
  }
  return true;
}

bool IsRuleId(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool IsCountryCode(std::string_view s) {
  return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (s[i] < '0' || s[i] > '9') return false;
  const int month = (s[5] - '0') * 10 + (s[6] - '0');
  const int day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

bool IsDetectorType(const std::string& type) {
  const std::vector<std::string>& types = Detector::Types();
  return std::find(types.begin(), types.end(), type) != types.end();
}

// A reference to check once every file is parsed.
struct Ref {
  enum class Kind { kCategoryPattern, kProfile, kOwnMechanism, kAnyMechanism, kCountry };
  Kind kind;
  std::string value;
  std::string file;
  int line;
  std::string owner;  // kOwnMechanism: the jurisdiction whose mechanisms apply
};

// An id that must be unique across the whole database.
struct IdUse {
  std::string id;
  std::string file;
  int line;
};

class Loader {
 public:
  explicit Loader(const PolicyFiles& files) : files_(files) {}

  absl::StatusOr<Database> Load();

 private:
  // Each returns false after recording the file's first error in `status_`.
  bool LoadManifest(YamlFile& f, const YAML::Node& root);
  bool LoadTaxonomy(YamlFile& f, const YAML::Node& root);
  bool LoadProfiles(YamlFile& f, const YAML::Node& root);
  bool LoadGlobalRules(YamlFile& f, const YAML::Node& root);
  bool LoadJurisdiction(YamlFile& f, const YAML::Node& root, const std::string& stem);
  bool LoadNegativeList(YamlFile& f, const YAML::Node& root, const std::string& stem);
  bool LoadAuthorization(YamlFile& f, const YAML::Node& root);
  // The approvals / roles / deadline_hours keys of a rule or of the default.
  void ReadQuorum(YamlFile& f, MapReader& m, const char* what, AuthorizationRule& rule);

  std::vector<std::string> FindingTypes(YamlFile& f, MapReader& m, const std::string& key);
  MaskOp ReadOp(YamlFile& f, const YAML::Node& node, const std::string& what);
  // `owner` is the jurisdiction code for export rules, "" for global rules.
  Rule ReadRule(YamlFile& f, const YAML::Node& node, const std::string& owner);
  void ReadConditions(YamlFile& f, const YAML::Node& node, bool global, Conditions& c);
  std::vector<std::string> Refs(YamlFile& f, const std::vector<Item>& items, Ref::Kind kind,
                                const std::string& owner = "");
  void UseId(YamlFile& f, const std::string& id, int line, const char* what);

  absl::Status CheckRefs() const;

  const PolicyFiles& files_;
  Database db_;
  std::vector<Ref> refs_;
  std::vector<IdUse> ids_;
};

std::vector<std::string> Loader::Refs(YamlFile& f, const std::vector<Item>& items, Ref::Kind kind,
                                      const std::string& owner) {
  std::vector<std::string> out;
  for (const Item& item : items) {
    refs_.push_back(Ref{kind, item.value, f.path(), item.line, owner});
    out.push_back(item.value);
  }
  return out;
}

void Loader::UseId(YamlFile& f, const std::string& id, int line, const char* what) {
  if (!IsRuleId(id)) {
    f.Fail(line, absl::StrCat(what, " \"", id,
                              "\" must be upper-case letters, digits, '-' or '_' starting with a "
                              "letter (e.g. CN-PI-002)"));
    return;
  }
  ids_.push_back(IdUse{id, f.path(), line});
}

bool Loader::LoadManifest(YamlFile& f, const YAML::Node& root) {
  MapReader m(f, root, "the manifest");
  db_.version = m.Int("version", true, 1, kMaxPersons).value_or(0);
  db_.label = m.String("label", true);
  db_.published = m.String("published", true);
  if (f.ok() && !IsDate(db_.published))
    f.Fail(m.LineOf("published"), "\"published\" must be a date YYYY-MM-DD");
  m.Finish();
  return f.ok();
}

std::vector<std::string> Loader::FindingTypes(YamlFile& f, MapReader& m, const std::string& key) {
  std::vector<std::string> out;
  for (const Item& item : m.StringList(key)) {
    if (!IsDetectorType(item.value)) {
      f.Fail(item.line, absl::StrCat("unknown finding type \"", item.value, "\" in \"", key,
                                     "\"; known: ", absl::StrJoin(Detector::Types(), ", ")));
      return {};
    }
    if (std::find(out.begin(), out.end(), item.value) != out.end()) {
      f.Fail(item.line, absl::StrCat("finding type \"", item.value, "\" listed twice"));
      return {};
    }
    out.push_back(item.value);
  }
  return out;
}

bool Loader::LoadTaxonomy(YamlFile& f, const YAML::Node& root) {
  MapReader m(f, root, "the taxonomy");
  db_.pi_finding_types = FindingTypes(f, m, "pi_finding_types");
  db_.spi_finding_types = FindingTypes(f, m, "spi_finding_types");
  for (const std::string& t : db_.spi_finding_types) {
    if (f.ok() && std::find(db_.pi_finding_types.begin(), db_.pi_finding_types.end(), t) ==
                      db_.pi_finding_types.end())
      f.Fail(m.LineOf("spi_finding_types"),
             absl::StrCat("\"", t,
                          "\" is in spi_finding_types but not in pi_finding_types "
                          "(sensitive PI is PI)"));
  }
  for (const YAML::Node& node : m.Sequence("categories", true)) {
    MapReader c(f, node, "a category");
    Category cat;
    cat.id = c.String("id", true);
    if (f.ok() && !IsLowerId(cat.id, true))
      f.Fail(c.LineOf("id"), absl::StrCat("category id \"", cat.id,
                                          "\" must be lower-case words separated by dots "
                                          "(e.g. trade.contract)"));
    cat.description = c.String("description", true);
    const std::string level = c.String("level", true);
    if (std::optional<Level> l = ParseLevel(level)) {
      cat.level = *l;
    } else if (f.ok()) {
      f.Fail(c.LineOf("level"),
             absl::StrCat("unknown level \"", level, "\"; use GENERAL, IMPORTANT or CORE"));
    }
    cat.pi = c.Bool("pi", false);
    cat.spi = c.Bool("spi", false);
    if (f.ok() && cat.spi && !cat.pi)
      f.Fail(c.LineOf("spi"), "spi: true needs pi: true (sensitive PI is PI)");
    cat.mask_profile = c.String("mask_profile", false);
    if (c.Has("mask_profile"))
      refs_.push_back(
          Ref{Ref::Kind::kProfile, cat.mask_profile, f.path(), c.LineOf("mask_profile"), ""});
    cat.sandbox_only = c.Bool("sandbox_only", false);
    c.Finish();
    if (!f.ok()) return false;
    if (db_.categories.count(cat.id) > 0) {
      f.Fail(c.line(), absl::StrCat("duplicate category id \"", cat.id, "\""));
      return false;
    }
    db_.categories.emplace(cat.id, cat);
  }
  m.Finish();
  if (f.ok() && db_.categories.empty()) f.Fail(m.line(), "the taxonomy defines no category");
  return f.ok();
}

MaskOp Loader::ReadOp(YamlFile& f, const YAML::Node& node, const std::string& what) {
  MapReader m(f, node, what);
  MaskOp op;
  const std::string kind = m.String("op", true);
  static const std::pair<const char*, MaskOp::Kind> kKinds[] = {
      {"mask", MaskOp::Kind::kMask},
      {"redact", MaskOp::Kind::kRedact},
      {"pseudonym", MaskOp::Kind::kPseudonym},
      {"replace_with_type", MaskOp::Kind::kReplaceWithType},
      {"generalize_date", MaskOp::Kind::kGeneralizeDate},
      {"generalize_number", MaskOp::Kind::kGeneralizeNumber}};
  bool known = false;
  for (const auto& [name, k] : kKinds) {
    if (kind == name) {
      op.kind = k;
      known = true;
    }
  }
  if (f.ok() && !known) {
    f.Fail(m.LineOf("op"), absl::StrCat("unknown op \"", kind,
                                        "\"; use mask, redact, pseudonym, replace_with_type, "
                                        "generalize_date or generalize_number"));
  }
  if (!f.ok()) return op;
  const bool is_mask = op.kind == MaskOp::Kind::kMask;
  for (const char* key : {"keep_first", "keep_last", "mask_char"}) {
    if (!is_mask && m.Has(key))
      f.Fail(m.LineOf(key), absl::StrCat("\"", key, "\" is only allowed with op: mask"));
  }
  if (op.kind != MaskOp::Kind::kGeneralizeNumber && m.Has("bucket"))
    f.Fail(m.LineOf("bucket"), "\"bucket\" is only allowed with op: generalize_number");
  op.keep_first = static_cast<int>(m.Int("keep_first", false, 0, 1024).value_or(0));
  op.keep_last = static_cast<int>(m.Int("keep_last", false, 0, 1024).value_or(0));
  const std::string mask_char = m.String("mask_char", false);
  if (m.Has("mask_char")) {
    if (f.ok() && (mask_char.size() != 1 || !IsValidMaskChar(mask_char[0])))
      f.Fail(m.LineOf("mask_char"),
             "\"mask_char\" must be one printable ASCII character other than space, '\"', ',' "
             "and '\\' (it must survive CSV and JSON output)");
    if (f.ok()) op.mask_char = mask_char[0];
  }
  op.bucket = m.Int("bucket", false, 1, kMaxPersons).value_or(10);
  m.Finish();
  return op;
}

bool Loader::LoadProfiles(YamlFile& f, const YAML::Node& root) {
  MapReader m(f, root, "the profiles file");
  for (const YAML::Node& node : m.Sequence("profiles", true)) {
    MapReader p(f, node, "a profile");
    MaskProfile profile;
    profile.id = p.String("id", true);
    if (f.ok() && !IsLowerId(profile.id, false))
      f.Fail(p.LineOf("id"), absl::StrCat("profile id \"", profile.id,
                                          "\" must be lower-case letters, digits and '-'"));
    profile.description = p.String("description", true);
    for (const auto& [type, op_node] : p.Entries("by_type")) {
      if (f.ok() && !IsDetectorType(type.value))
        f.Fail(type.line,
               absl::StrCat("unknown finding type \"", type.value,
                            "\" in by_type; known: ", absl::StrJoin(Detector::Types(), ", ")));
      MaskOp op = ReadOp(f, op_node, absl::StrCat("by_type ", type.value));
      if (f.ok()) profile.by_type.emplace(type.value, op);
    }
    for (const auto& [field, op_node] : p.Entries("by_field")) {
      if (f.ok() && std::any_of(field.value.begin(), field.value.end(),
                                [](char c) { return c >= 'A' && c <= 'Z'; }))
        f.Fail(field.line, absl::StrCat("field name \"", field.value,
                                        "\" must be lower-case (fields are matched lower-cased)"));
      MaskOp op = ReadOp(f, op_node, absl::StrCat("by_field ", field.value));
      if (f.ok()) profile.by_field.emplace(field.value, op);
    }
    if (f.ok() && profile.by_type.empty() && profile.by_field.empty())
      f.Fail(p.line(),
             absl::StrCat("profile \"", profile.id, "\" has no by_type or by_field operator"));
    p.Finish();
    if (!f.ok()) return false;
    if (db_.profiles.count(profile.id) > 0) {
      f.Fail(p.line(), absl::StrCat("duplicate profile id \"", profile.id, "\""));
      return false;
    }
    db_.profiles.emplace(profile.id, profile);
  }
  m.Finish();
  return f.ok();
}

void Loader::ReadConditions(YamlFile& f, const YAML::Node& node, bool global, Conditions& c) {
  MapReader m(f, node, "the rule's \"when\"");
  for (const Item& item : m.StringList("levels")) {
    if (std::optional<Level> l = ParseLevel(item.value)) {
      c.levels.push_back(*l);
    } else {
      f.Fail(item.line,
             absl::StrCat("unknown level \"", item.value, "\"; use GENERAL, IMPORTANT or CORE"));
    }
  }
  c.pi = m.OptionalBool("pi");
  c.spi = m.OptionalBool("spi");
  c.categories = Refs(f, m.StringList("categories"), Ref::Kind::kCategoryPattern);
  c.persons_min = m.Int("persons_min", false, 0, kMaxPersons);
  c.persons_max = m.Int("persons_max", false, 0, kMaxPersons);
  if (f.ok() && c.persons_min && c.persons_max && *c.persons_min > *c.persons_max)
    f.Fail(m.LineOf("persons_max"),
           absl::StrCat("persons_min (", *c.persons_min, ") is greater than persons_max (",
                        *c.persons_max, "): the rule could never apply"));
  c.to = Refs(f, m.StringList("to"), Ref::Kind::kCountry);
  c.to_not = Refs(f, m.StringList("to_not"), Ref::Kind::kCountry);
  for (const char* key : {"from", "from_not"}) {
    if (!global && m.Has(key))
      f.Fail(m.LineOf(key), absl::StrCat("\"", key,
                                         "\" is only allowed in rules.yaml; an export rule "
                                         "already applies only to its own country"));
  }
  c.from = Refs(f, m.StringList("from"), Ref::Kind::kCountry);
  c.from_not = Refs(f, m.StringList("from_not"), Ref::Kind::kCountry);
  for (const Item& item : m.StringList("unless_purpose")) c.unless_purpose.push_back(item.value);
  c.ftz_exemptable = m.Bool("ftz_exemptable", false);
  m.Finish();
}

Rule Loader::ReadRule(YamlFile& f, const YAML::Node& node, const std::string& owner) {
  MapReader m(f, node, "a rule");
  Rule rule;
  rule.line = m.line();
  rule.id = m.String("id", true);
  if (f.ok()) UseId(f, rule.id, m.LineOf("id"), "rule id");
  rule.summary = m.String("summary", true);
  rule.source = m.String("source", true);
  if (f.ok() && !m.Has("when"))
    f.Fail(m.line(), "a rule is missing required key \"when\" (use when: {} to match everything)");
  if (f.ok()) ReadConditions(f, m.Node("when"), owner.empty(), rule.when);
  const std::string decision = m.String("decision", true);
  if (std::optional<Decision> d = ParseDecision(decision)) {
    rule.decision = *d;
  } else if (f.ok()) {
    f.Fail(m.LineOf("decision"), absl::StrCat("unknown decision \"", decision,
                                              "\"; use FAST, MASK, REVIEW, SANDBOX_ONLY or DENY"));
  }
  rule.unless_attested =
      Refs(f, m.StringList("unless_attested"),
           owner.empty() ? Ref::Kind::kAnyMechanism : Ref::Kind::kOwnMechanism, owner);
  rule.high_risk = m.Bool("high_risk", false);
  m.Finish();
  return rule;
}

bool Loader::LoadGlobalRules(YamlFile& f, const YAML::Node& root) {
  MapReader m(f, root, "the global rules file");
  for (const YAML::Node& node : m.Sequence("rules", true)) {
    Rule rule = ReadRule(f, node, "");
    if (!f.ok()) return false;
    db_.global_rules.push_back(std::move(rule));
  }
  m.Finish();
  return f.ok();
}

bool Loader::LoadJurisdiction(YamlFile& f, const YAML::Node& root, const std::string& stem) {
  MapReader m(f, root, "a jurisdiction");
  Jurisdiction j;
  j.file = f.path();
  j.code = m.String("code", true);
  if (f.ok() && !IsCountryCode(j.code))
    f.Fail(m.LineOf("code"),
           absl::StrCat("code \"", j.code, "\" must be an ISO 3166-1 alpha-2 code in upper case"));
  if (f.ok() && j.code != stem)
    f.Fail(m.LineOf("code"), absl::StrCat("code \"", j.code,
                                          "\" does not match the file name; "
                                          "name the file jurisdictions/",
                                          j.code, ".yaml"));
  j.name = m.String("name", true);
  j.regulator = m.String("regulator", true);
  std::set<std::string> seen;
  auto unique = [&](const std::string& id, int line, const char* what) {
    if (f.ok() && !seen.insert(absl::StrCat(what, "/", id)).second)
      f.Fail(line, absl::StrCat("duplicate ", what, " id \"", id, "\" in this file"));
  };
  for (const YAML::Node& node : m.Sequence("laws", true)) {
    MapReader l(f, node, "a law");
    Law law{l.String("id", true), l.String("title", true), l.String("source", true)};
    unique(law.id, l.LineOf("id"), "law");
    l.Finish();
    j.laws.push_back(std::move(law));
  }
  if (f.ok() && j.laws.empty()) f.Fail(m.LineOf("laws"), "\"laws\" must list at least one law");
  for (const YAML::Node& node : m.Sequence("localization", false)) {
    MapReader l(f, node, "a localization rule");
    Localization loc{l.String("id", true), l.String("text", true), l.String("source", true)};
    unique(loc.id, l.LineOf("id"), "localization");
    l.Finish();
    j.localization.push_back(std::move(loc));
  }
  for (const YAML::Node& node : m.Sequence("mechanisms", false)) {
    MapReader l(f, node, "a mechanism");
    Mechanism mech{l.String("id", true), l.String("name", true), l.String("source", true)};
    if (f.ok() && !IsLowerId(mech.id, false))
      f.Fail(l.LineOf("id"), absl::StrCat("mechanism id \"", mech.id,
                                          "\" must be lower-case letters, digits and '-'"));
    unique(mech.id, l.LineOf("id"), "mechanism");
    l.Finish();
    j.mechanisms.push_back(std::move(mech));
  }
  for (const YAML::Node& node : m.Sequence("export_rules", false)) {
    Rule rule = ReadRule(f, node, j.code);
    if (!f.ok()) return false;
    j.export_rules.push_back(std::move(rule));
  }
  for (const Item& item : m.StringList("notes")) j.notes.push_back(item.value);
  m.Finish();
  if (!f.ok()) return false;
  db_.jurisdictions.emplace(j.code, std::move(j));
  return true;
}

bool Loader::LoadNegativeList(YamlFile& f, const YAML::Node& root, const std::string& stem) {
  MapReader m(f, root, "a negative list");
  NegativeList list;
  list.file = f.path();
  list.zone = m.String("zone", true);
  if (f.ok() && !IsLowerId(list.zone, false))
    f.Fail(m.LineOf("zone"),
           absl::StrCat("zone \"", list.zone, "\" must be lower-case letters, digits and '-'"));
  if (f.ok() && list.zone != stem)
    f.Fail(m.LineOf("zone"), absl::StrCat("zone \"", list.zone,
                                          "\" does not match the file "
                                          "name; name the file negative-lists/",
                                          list.zone, ".yaml"));
  list.name = m.String("name", true);
  list.source_country = m.String("source_country", true);
  if (m.Has("source_country"))
    refs_.push_back(
        Ref{Ref::Kind::kCountry, list.source_country, f.path(), m.LineOf("source_country"), ""});
  list.exemption_rule_id = m.String("exemption_rule_id", true);
  if (f.ok()) UseId(f, list.exemption_rule_id, m.LineOf("exemption_rule_id"), "exemption_rule_id");
  list.source = m.String("source", true);
  for (const YAML::Node& node : m.Sequence("entries", true)) {
    MapReader e(f, node, "a negative-list entry");
    NegativeListEntry entry;
    entry.line = e.line();
    entry.id = e.String("id", true);
    if (f.ok()) UseId(f, entry.id, e.LineOf("id"), "entry id");
    entry.sector = e.String("sector", true);
    entry.scenario = e.String("scenario", true);
    entry.categories = Refs(f, e.StringList("categories"), Ref::Kind::kCategoryPattern);
    if (f.ok() && entry.categories.empty())
      f.Fail(e.LineOf("categories"), "an entry must list at least one category pattern");
    for (const Item& item : e.StringList("fields")) entry.fields.push_back(item.value);
    entry.require_any = Refs(f, e.StringList("require_any"), Ref::Kind::kAnyMechanism);
    entry.persons_threshold = e.Int("persons_threshold", false, 0, kMaxPersons).value_or(0);
    for (const Item& item : e.StringList("exceptions")) entry.exceptions.push_back(item.value);
    entry.source = e.String("source", true);
    entry.sandbox_only = e.Bool("sandbox_only", false);
    e.Finish();
    if (!f.ok()) return false;
    list.entries.push_back(std::move(entry));
  }
  m.Finish();
  if (!f.ok()) return false;
  db_.negative_lists.emplace(list.zone, std::move(list));
  return true;
}

void Loader::ReadQuorum(YamlFile& f, MapReader& m, const char* what, AuthorizationRule& rule) {
  const std::optional<int64_t> approvals = m.Int("approvals", true, 1, 1000);
  rule.roles.clear();
  for (const Item& item : m.StringList("roles")) {
    if (!f.ok()) return;
    const bool known = std::any_of(std::begin(kAuthorizationRoles), std::end(kAuthorizationRoles),
                                   [&](const char* r) { return item.value == r; });
    if (!known) {
      f.Fail(item.line, absl::StrCat("unknown role \"", item.value, "\"; use ",
                                     absl::StrJoin(kAuthorizationRoles, ", ")));
      return;
    }
    if (std::find(rule.roles.begin(), rule.roles.end(), item.value) != rule.roles.end()) {
      f.Fail(item.line, absl::StrCat("role \"", item.value,
                                     "\" listed twice; each role is counted at most once"));
      return;
    }
    rule.roles.push_back(item.value);
  }
  if (f.ok() && !m.Has("roles"))
    f.Fail(m.line(), absl::StrCat(what, " is missing required key \"roles\""));
  if (f.ok() && rule.roles.empty())
    f.Fail(m.LineOf("roles"), "\"roles\" must name at least one role");
  if (f.ok() && approvals && static_cast<size_t>(*approvals) > rule.roles.size())
    f.Fail(m.LineOf("approvals"),
           absl::StrCat("approvals: ", *approvals, " but only ", rule.roles.size(),
                        " roles; M approvals need at least M distinct roles (each counts once)"));
  if (f.ok() && approvals) rule.approvals = static_cast<uint32_t>(*approvals);
  rule.deadline_hours = m.Int("deadline_hours", false, 1, kMaxDeadlineHours).value_or(72);
}

bool Loader::LoadAuthorization(YamlFile& f, const YAML::Node& root) {
  MapReader m(f, root, "the authorization file");
  if (m.Has("default")) {
    MapReader d(f, m.Node("default"), "the default authorization");
    AuthorizationRule rule;
    rule.id = "default";
    rule.line = d.line();
    ReadQuorum(f, d, "the default authorization", rule);
    d.Finish();
    if (!f.ok()) return false;
    db_.default_authorization = std::move(rule);
  }
  for (const YAML::Node& node : m.Sequence("rules", false)) {
    MapReader r(f, node, "an authorization rule");
    AuthorizationRule rule;
    rule.line = r.line();
    rule.id = r.String("id", true);
    if (f.ok()) UseId(f, rule.id, r.LineOf("id"), "authorization rule id");
    rule.from = Refs(f, r.StringList("from"), Ref::Kind::kCountry);
    rule.to = Refs(f, r.StringList("to"), Ref::Kind::kCountry);
    rule.categories = Refs(f, r.StringList("categories"), Ref::Kind::kCategoryPattern);
    for (const Item& item : r.StringList("levels")) {
      if (std::optional<Level> l = ParseLevel(item.value)) {
        rule.levels.push_back(*l);
      } else {
        f.Fail(item.line,
               absl::StrCat("unknown level \"", item.value, "\"; use GENERAL, IMPORTANT or CORE"));
      }
    }
    ReadQuorum(f, r, "an authorization rule", rule);
    r.Finish();
    if (!f.ok()) return false;
    db_.authorization_rules.push_back(std::move(rule));
  }
  m.Finish();
  return f.ok();
}

absl::Status Loader::CheckRefs() const {
  std::map<std::string, const IdUse*> first;
  for (const IdUse& use : ids_) {
    auto [it, inserted] = first.emplace(use.id, &use);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          use.file, ":", use.line, ": duplicate rule id \"", use.id, "\" (first defined at ",
          it->second->file, ":", it->second->line, "); rule ids are unique across the database"));
    }
  }
  for (const Ref& ref : refs_) {
    std::string problem;
    switch (ref.kind) {
      case Ref::Kind::kCategoryPattern: {
        const bool wildcard = ref.value.size() > 2 && ref.value.ends_with(".*");
        const std::string base = wildcard ? ref.value.substr(0, ref.value.size() - 2) : ref.value;
        if (!IsLowerId(base, true)) {
          problem = absl::StrCat("category pattern \"", ref.value,
                                 "\" must be a category id or \"<prefix>.*\"");
          break;
        }
        const bool any =
            std::any_of(db_.categories.begin(), db_.categories.end(),
                        [&](const auto& c) { return CategoryMatches(ref.value, c.first); });
        if (!any)
          problem = absl::StrCat("category pattern \"", ref.value,
                                 "\" matches no category of taxonomy.yaml");
        break;
      }
      case Ref::Kind::kProfile:
        if (db_.profiles.count(ref.value) == 0)
          problem =
              absl::StrCat("unknown mask profile \"", ref.value, "\": define it in profiles.yaml");
        break;
      case Ref::Kind::kOwnMechanism: {
        const Jurisdiction& j = db_.jurisdictions.at(ref.owner);
        const bool own = std::any_of(j.mechanisms.begin(), j.mechanisms.end(),
                                     [&](const Mechanism& m) { return m.id == ref.value; });
        if (!own)
          problem = absl::StrCat("unknown mechanism \"", ref.value, "\": an export rule of ",
                                 ref.owner, " may only name mechanisms listed in this file");
        break;
      }
      case Ref::Kind::kAnyMechanism: {
        const bool any =
            std::any_of(db_.jurisdictions.begin(), db_.jurisdictions.end(), [&](const auto& j) {
              for (const Mechanism& m : j.second.mechanisms)
                if (m.id == ref.value) return true;
              return false;
            });
        if (!any)
          problem = absl::StrCat("unknown mechanism \"", ref.value,
                                 "\": no jurisdiction file defines it");
        break;
      }
      case Ref::Kind::kCountry:
        if (db_.jurisdictions.count(ref.value) == 0)
          problem = absl::StrCat("unknown country \"", ref.value,
                                 "\": it must be the code of a file under jurisdictions/");
        break;
    }
    if (!problem.empty())
      return absl::InvalidArgumentError(absl::StrCat(ref.file, ":", ref.line, ": ", problem));
  }
  return absl::OkStatus();
}

absl::StatusOr<Database> Loader::Load() {
  if (files_.size() > kMaxFiles)
    return absl::InvalidArgumentError(absl::StrCat("policy database: ", files_.size(),
                                                   " files, more than the limit of ", kMaxFiles));
  for (const char* required : {kManifest, kTaxonomy, kProfiles, kRules}) {
    if (files_.count(required) == 0)
      return absl::InvalidArgumentError(
          absl::StrCat(required, ":1: missing required file ", required));
  }
  // Files are read in path order so that errors are deterministic;
  // references between files are checked once all are read.
  for (const auto& file : files_) {
    const std::string& path = file.first;
    const std::string& bytes = file.second;
    YamlFile f(path);
    std::string stem;
    enum { kM, kT, kP, kR, kJ, kN, kA } kind;
    auto under = [&](const char* dir) {
      if (!path.starts_with(dir) || !path.ends_with(".yaml")) return false;
      stem =
          path.substr(std::string_view(dir).size(), path.size() - std::string_view(dir).size() - 5);
      return !stem.empty() && stem.find('/') == std::string::npos;
    };
    if (path == kManifest)
      kind = kM;
    else if (path == kTaxonomy)
      kind = kT;
    else if (path == kProfiles)
      kind = kP;
    else if (path == kRules)
      kind = kR;
    else if (path == kAuthorization)
      kind = kA;
    else if (under(kJurisdictionDir))
      kind = kJ;
    else if (under(kNegativeListDir))
      kind = kN;
    else
      return absl::InvalidArgumentError(absl::StrCat(
          path,
          ":1: not part of the policy layout (manifest.yaml, taxonomy.yaml, profiles.yaml, "
          "rules.yaml, authorization.yaml, jurisdictions/<CC>.yaml, "
          "negative-lists/<zone>.yaml)"));
    YAML::Node root = internal::ParseYaml(f, bytes);
    if (!f.ok()) return f.status();
    try {
      switch (kind) {
        case kM:
          LoadManifest(f, root);
          break;
        case kT:
          LoadTaxonomy(f, root);
          break;
        case kP:
          LoadProfiles(f, root);
          break;
        case kR:
          LoadGlobalRules(f, root);
          break;
        case kJ:
          LoadJurisdiction(f, root, stem);
          break;
        case kN:
          LoadNegativeList(f, root, stem);
          break;
        case kA:
          LoadAuthorization(f, root);
          break;
      }
    } catch (const std::exception& e) {
      f.Fail(1, absl::StrCat("cannot read: ", e.what()));
    } catch (...) {
      f.Fail(1, "cannot read the file");
    }
    if (!f.ok()) return f.status();
  }
  if (absl::Status s = CheckRefs(); !s.ok()) return s;
  db_.digest_hex = ContentDigest(files_);
  return std::move(db_);
}

absl::StatusOr<std::string> ReadFileCapped(const std::filesystem::path& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec)
    return absl::NotFoundError(absl::StrCat("cannot stat ", path.string(), ": ", ec.message()));
  if (size > kMaxFileBytes)
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": ", size, " bytes, more than the limit of ", kMaxFileBytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path.string()));
  return out.str();
}

}  // namespace

bool CategoryMatches(const std::string& pattern, const std::string& category) {
  if (pattern.size() >= 2 && pattern.ends_with(".*")) {
    const std::string_view prefix(pattern.data(), pattern.size() - 2);
    return category == prefix || (category.size() > prefix.size() && category.starts_with(prefix) &&
                                  category[prefix.size()] == '.');
  }
  return pattern == category;
}

const Category* Database::FindCategory(const std::string& id) const {
  auto it = categories.find(id);
  return it == categories.end() ? nullptr : &it->second;
}

const Jurisdiction* Database::FindJurisdiction(const std::string& code) const {
  auto it = jurisdictions.find(code);
  return it == jurisdictions.end() ? nullptr : &it->second;
}

absl::StatusOr<PolicyFiles> ReadPolicyDir(const std::string& dir) {
  namespace fs = std::filesystem;
  PolicyFiles files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return absl::NotFoundError(absl::StrCat("policy directory ", dir, " does not exist"));
  for (const char* name : {kManifest, kTaxonomy, kProfiles, kRules}) {
    const fs::path path = fs::path(dir) / name;
    if (!fs::is_regular_file(path, ec))
      return absl::NotFoundError(absl::StrCat("missing required file ", name, " in ", dir));
    absl::StatusOr<std::string> bytes = ReadFileCapped(path);
    if (!bytes.ok()) return bytes.status();
    files.emplace(name, *std::move(bytes));
  }
  // Optional: without it every REVIEW needs the default quorum.
  if (const fs::path path = fs::path(dir) / kAuthorization; fs::exists(path, ec)) {
    if (!fs::is_regular_file(path, ec))
      return absl::InvalidArgumentError(
          absl::StrCat(path.string(),
                       " is not a regular file; remove it or make it the "
                       "authorization rules (docs/review.md)"));
    absl::StatusOr<std::string> bytes = ReadFileCapped(path);
    if (!bytes.ok()) return bytes.status();
    files.emplace(kAuthorization, *std::move(bytes));
  }
  for (const char* sub : {kJurisdictionDir, kNegativeListDir}) {
    const fs::path subdir = fs::path(dir) / std::string(sub).substr(0, std::strlen(sub) - 1);
    if (!fs::is_directory(subdir, ec)) continue;
    for (const fs::directory_entry& e : fs::directory_iterator(subdir, ec)) {
      if (!e.is_regular_file(ec) || e.path().extension() != ".yaml") continue;
      if (files.size() >= kMaxFiles)
        return absl::InvalidArgumentError(
            absl::StrCat("policy directory ", dir, " holds more than ", kMaxFiles, " files"));
      absl::StatusOr<std::string> bytes = ReadFileCapped(e.path());
      if (!bytes.ok()) return bytes.status();
      files.emplace(absl::StrCat(sub, e.path().filename().string()), *std::move(bytes));
    }
    if (ec)
      return absl::InternalError(absl::StrCat("cannot list ", subdir.string(), ": ", ec.message()));
  }
  return files;
}

absl::StatusOr<Database> LoadDatabase(const PolicyFiles& files) {
  try {
    return Loader(files).Load();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("policy database: cannot load: ", e.what()));
  } catch (...) {
    return absl::InvalidArgumentError("policy database: cannot load");
  }
}

absl::StatusOr<Database> LoadDatabaseDir(const std::string& dir) {
  absl::StatusOr<PolicyFiles> files = ReadPolicyDir(dir);
  if (!files.ok()) return files.status();
  return LoadDatabase(*files);
}

}  // namespace beibu::policy
