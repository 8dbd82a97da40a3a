// The policy database: the category taxonomy, the masking profiles, one
// compliance file per jurisdiction, the FTZ data export negative lists and the
// global rules, loaded from a directory of YAML files (layout and every key in
// docs/policy-database.md). It is an illustrative baseline that operators maintain, not
// legal advice.
//
// Directory layout (relative paths are part of the format; the digest covers them):
//   manifest.yaml                version (integer, increases with every publication),
//                                label, published date
//   taxonomy.yaml                categories + which finding types count as PI / SPI
//   profiles.yaml                masking profiles
//   rules.yaml                   global rules (apply whatever the source country)
//   jurisdictions/<CC>.yaml      one per jurisdiction: laws, regulator, localization,
//                                mechanisms, export rules, notes
//   negative-lists/<zone>.yaml   one per free trade zone (e.g. gx = Guangxi FTZ)
//   authorization.yaml           optional: who must approve a REVIEW transfer
//                                (M of N roles, deadline), docs/review.md
//
// The loader is strict: an unknown key, a missing required key, a wrong type,
// a duplicate id, a rule that names an unknown category, mechanism, profile,
// level or country, or a jurisdiction file whose code differs from its file
// name is refused with INVALID_ARGUMENT "<relative path>:<line>: <reason>".
// It never crashes on any input (fuzzed: tests/fuzz/policy_db_fuzz.cc).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/policy/types.h"

namespace beibu::policy {

// One masking operator (docs/masking.md lists their output formats).
struct MaskOp {
  enum class Kind {
    kMask,               // keep the first `keep_first` and last `keep_last` chars, the rest `mask_char`
    kRedact,             // replace with "[REDACTED]"
    kPseudonym,          // keyed HMAC-SM3 token, stable per key: "tok_" + 16 lower-case hex chars
    kReplaceWithType,    // replace with "<TYPE>", e.g. "<CN_MOBILE>"
    kGeneralizeDate,     // YYYY-MM-DD[...] / YYYY/MM/DD / YYYYMMDD -> "YYYY"
    kGeneralizeNumber,   // 37 with bucket 10 -> "30-39"
  };
  Kind kind = Kind::kRedact;
  int keep_first = 0;  // kMask, counted in UTF-8 characters
  int keep_last = 0;   // kMask
  char mask_char = '*';
  int64_t bucket = 10;  // kGeneralizeNumber, >= 1
};

struct MaskProfile {
  std::string id;
  std::string description;
  std::map<std::string, MaskOp> by_type;   // finding type -> operator
  std::map<std::string, MaskOp> by_field;  // CSV column / JSON key, lower-case -> operator
};

struct Category {
  std::string id;  // "trade.contract"; lower-case, dot-separated
  std::string description;
  Level level = Level::kGeneral;
  bool pi = false;
  bool spi = false;           // implies pi
  std::string mask_profile;   // empty: none
  bool sandbox_only = false;  // the data stays home; only sandbox results leave
};

// A category pattern in a rule: "health.*" matches "health" and every
// "health.<x>"; anything else matches exactly.
bool CategoryMatches(const std::string& pattern, const std::string& category);

// The conditions under which a rule applies. Every condition that is set must
// hold; an empty list or an unset optional means "any".
struct Conditions {
  std::vector<Level> levels;            // effective level is one of these
  std::optional<bool> pi;               // effective PI flag
  std::optional<bool> spi;              // effective SPI flag
  std::vector<std::string> categories;  // category patterns
  std::optional<int64_t> persons_min;   // P >= persons_min
  std::optional<int64_t> persons_max;   // P <= persons_max
  std::vector<std::string> to;          // destination is one of these
  std::vector<std::string> to_not;      // destination is none of these
  std::vector<std::string> from;        // only in rules.yaml: source is one of these
  std::vector<std::string> from_not;    // only in rules.yaml
  // The rule does not apply when the transfer's purpose is one of these
  // (PIPL exemptions: contract necessity, HR management, emergencies).
  std::vector<std::string> unless_purpose;
  // The rule does not apply to data of FTZ origin whose category is not on
  // that zone's negative list (2024 Provisions art. 6).
  bool ftz_exemptable = false;
};

struct Rule {
  std::string id;       // unique in the database, e.g. "CN-PI-002"
  std::string summary;  // one sentence, used in the decision's reason
  std::string source;   // the legal source (law, article, date, URL)
  Conditions when;
  Decision decision = Decision::kReview;  // outcome when it applies and is not satisfied
  // Attesting any one of these mechanisms satisfies the rule (it then adds
  // nothing to the decision but is still reported as fired).
  std::vector<std::string> unless_attested;
  bool high_risk = false;  // the reason flags the route as high risk
  int line = 0;            // line in its file, for lint and diff messages
};

struct Mechanism {
  std::string id;  // "cn-standard-contract", "asean-mcc", "consent", ...
  std::string name;
  std::string source;
};

struct Law {
  std::string id;
  std::string title;
  std::string source;
};

struct Localization {
  std::string id;
  std::string text;
  std::string source;
};

struct Jurisdiction {
  std::string code;  // "VN"
  std::string name;  // "Viet Nam"
  std::string regulator;
  std::vector<Law> laws;
  std::vector<Localization> localization;
  std::vector<Mechanism> mechanisms;  // mechanisms an exporter from here may attest
  std::vector<Rule> export_rules;     // apply when this is the source country
  std::vector<std::string> notes;     // thresholds, weak sources, ...
  std::string file;                   // "jurisdictions/VN.yaml"
};

struct NegativeListEntry {
  std::string id;  // rule id, e.g. "GX-NL-004"
  std::string sector;
  std::string scenario;
  std::vector<std::string> categories;  // category patterns
  std::vector<std::string> fields;      // data fields (informative)
  // The procedure the entry requires: attesting any one satisfies it,
  // otherwise REVIEW.
  std::vector<std::string> require_any;
  int64_t persons_threshold = 0;  // the entry applies when P >= this
  std::vector<std::string> exceptions;
  std::string source;
  bool sandbox_only = false;
  int line = 0;
};

struct NegativeList {
  std::string zone;                // "gx"
  std::string name;                // "China (Guangxi) Pilot Free Trade Zone"
  std::string source_country;      // "CN"
  std::string exemption_rule_id;   // reported when the exemption applies, e.g. "CN-FTZ-GX"
  std::string source;              // the list's legal source
  std::vector<NegativeListEntry> entries;
  std::string file;
};

// Multi-party authorization of REVIEW transfers (authorization.yaml). A rule
// applies when every condition that is set holds (empty: any).
struct AuthorizationRule {
  std::string id;
  std::vector<std::string> from;        // source countries
  std::vector<std::string> to;          // destination countries
  std::vector<std::string> categories;  // category patterns
  std::vector<Level> levels;            // effective levels
  uint32_t approvals = 2;               // M, 1 <= M <= roles.size()
  // N distinct roles: "source_officer", "destination_officer", "data_owner".
  std::vector<std::string> roles;
  int64_t deadline_hours = 72;  // 1 .. 8760
  int line = 0;
};

struct Database {
  int64_t version = 0;     // increases with every publication; edges refuse an older one
  std::string label;       // "2026.11-baseline"
  std::string published;   // YYYY-MM-DD
  std::string digest_hex;  // SM3 over the files, see ContentDigest()
  std::map<std::string, Category> categories;
  std::map<std::string, MaskProfile> profiles;
  std::vector<Rule> global_rules;
  std::map<std::string, Jurisdiction> jurisdictions;  // by code
  std::map<std::string, NegativeList> negative_lists;  // by zone
  std::vector<std::string> pi_finding_types;   // findings that make data PI
  std::vector<std::string> spi_finding_types;  // findings that make data SPI
  // authorization.yaml: rules in file order, and the default for every REVIEW
  // no rule matches. Without the file: no rules, default 2 of
  // source_officer + destination_officer within 72 hours.
  std::vector<AuthorizationRule> authorization_rules;
  AuthorizationRule default_authorization = {
      .id = "default", .approvals = 2, .roles = {"source_officer", "destination_officer"}};

  const Category* FindCategory(const std::string& id) const;
  const Jurisdiction* FindJurisdiction(const std::string& code) const;
};

// The files of a database: relative path ("jurisdictions/VN.yaml") -> bytes.
using PolicyFiles = std::map<std::string, std::string>;

// Reads every *.yaml file of the layout above under `dir` (other files are
// ignored; a missing required file is an error naming it).
absl::StatusOr<PolicyFiles> ReadPolicyDir(const std::string& dir);
// Parses and validates; sets digest_hex to ContentDigest(files).
absl::StatusOr<Database> LoadDatabase(const PolicyFiles& files);
absl::StatusOr<Database> LoadDatabaseDir(const std::string& dir);

// SM3 over, for each file in path order: u32 big-endian path length, path,
// u64 big-endian content length, content. Lower-case hex. What the hub signs
// and what an edge reports it enforces, together with the version.
std::string ContentDigest(const PolicyFiles& files);

// The baseline database compiled into the binaries (deploy/policy at build
// time), so that `beibu route` works anywhere and an edge has a database
// before the hub publishes one.
const PolicyFiles& BaselineFiles();

}  // namespace beibu::policy
