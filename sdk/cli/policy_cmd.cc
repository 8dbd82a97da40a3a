// `beibu scan|route|mask` and `beibu policy lint|diff|show`: the policy engine
// (common/policy) from the command line. These are offline: the database is
// the baseline compiled into the binary unless --policy DIR (or
// $BEIBU_POLICY_DIR) names another one. `beibu policy publish|status` talk to
// the hub, which signs and distributes the database to the edges
// (docs/policy-distribution.md). The JSON shapes printed with --json
// are a stable contract (docs/cli.md, "Policy engine"): fields may be added,
// never renamed or removed.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "beibu/pki/certificate.h"
#include "beibu/policy/database.h"
#include "beibu/policy/detector.h"
#include "beibu/policy/mask.h"
#include "beibu/policy/risk.h"
#include "beibu/policy/route.h"
#include "beibu/policy/types.h"
#include "beibu/v1/registry.pb.h"
#include "commands.h"
#include "connection.h"

namespace beibu::cli {
namespace {

// Insertion order, so that output follows the documented field order.
using json = nlohmann::ordered_json;
namespace pol = ::beibu::policy;

// Scanning needs the whole input in memory (findings carry whole-input
// offsets); beyond this we refuse instead of exhausting memory.
constexpr size_t kMaxScanBytes = size_t{256} << 20;
// A --routes file of recent routes, a key file: small by nature.
constexpr size_t kMaxRoutesBytes = size_t{64} << 20;
constexpr size_t kMaxKeyBytes = size_t{64} << 10;
constexpr size_t kMinKeyBytes = 16;

// --- Output ------------------------------------------------------------------

// Prints one JSON document on stdout. Invalid UTF-8 (e.g. echoed user input)
// is replaced rather than thrown on.
void PrintJson(const json& j) {
  std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  std::cout.flush();
}

absl::Status CheckStdout() {
  std::cout.flush();
  if (!std::cout) return absl::InternalError("cannot write standard output");
  return absl::OkStatus();
}

// --- Input -------------------------------------------------------------------

// The whole content of `path` ("-" = standard input), refusing more than
// `limit` bytes with a message that says what to do instead.
absl::StatusOr<std::string> ReadInput(const std::string& what, const std::string& path,
                                      size_t limit) {
  std::FILE* f = stdin;
  std::string name = "standard input";
  if (path != "-") {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", path, "' is a directory; give a file"));
    }
    f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      int err = errno;
      std::string msg = absl::StrCat("cannot open ", what, " '", path, "': ", std::strerror(err));
      if (err == ENOENT) return absl::NotFoundError(msg);
      if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
      return absl::InvalidArgumentError(msg);
    }
    name = "'" + path + "'";
  }
  std::string data;
  std::string buf(size_t{1} << 20, '\0');
  bool failed = false;
  for (;;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f);
    data.append(buf.data(), n);
    if (data.size() > limit) break;
    if (n < buf.size()) {
      failed = std::ferror(f) != 0;
      break;
    }
  }
  if (f != stdin) std::fclose(f);
  if (data.size() > limit) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", name, " is larger than ", limit >> 20,
        " MiB, the most this command holds in memory; split it (e.g. `split -l`) and run "
        "once per part"));
  }
  if (failed) return absl::DataLossError(absl::StrCat("error reading ", what, " ", name));
  return data;
}

// --- The database ------------------------------------------------------------

struct PolicyOption {
  std::string dir;  // empty: the compiled-in baseline
};

void AddPolicyOption(CLI::App* cmd, PolicyOption* o) {
  cmd->add_option("--policy", o->dir,
                  "Policy database directory (layout in docs/policy.md); default: the baseline "
                  "compiled into beibu")
      ->envname("BEIBU_POLICY_DIR");
}

// A database argument that is not a directory is a usage error, whatever
// the loader would make of it.
absl::Status CheckDir(const std::string& what, const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", dir, "': ", std::strerror(errno),
                                                   "; give a policy database directory"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", dir, "' is not a directory; give a policy database directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<pol::Database> LoadDb(const PolicyOption& o) {
  if (!o.dir.empty()) {
    if (absl::Status s = CheckDir("--policy", o.dir); !s.ok()) return s;
    absl::StatusOr<pol::Database> db = pol::LoadDatabaseDir(o.dir);
    if (!db.ok()) {
      return absl::Status(
          db.status().code(),
          absl::StrCat("policy database '", o.dir, "': ", std::string(db.status().message())));
    }
    return db;
  }
  const pol::PolicyFiles& files = pol::BaselineFiles();
  if (files.empty()) {
    return absl::FailedPreconditionError(
        "this beibu has no baseline policy database compiled in; pass --policy DIR "
        "(e.g. deploy/policy) or set BEIBU_POLICY_DIR");
  }
  absl::StatusOr<pol::Database> db = pol::LoadDatabase(files);
  if (!db.ok()) {
    // A compiled-in baseline that does not load is a build defect, not user error.
    return absl::InternalError(absl::StrCat("the compiled-in baseline policy database is invalid: ",
                                            std::string(db.status().message())));
  }
  return db;
}

pol::Format ParseFormat(const std::string& name) {
  if (name == "text") return pol::Format::kText;
  if (name == "csv") return pol::Format::kCsv;
  if (name == "jsonl") return pol::Format::kJsonLines;
  return pol::Format::kAuto;
}

const char* FormatName(pol::Format f) {
  switch (f) {
    case pol::Format::kText:
      return "text";
    case pol::Format::kCsv:
      return "csv";
    case pol::Format::kJsonLines:
      return "jsonl";
    case pol::Format::kAuto:
      break;
  }
  return "auto";
}

void AddFormatOption(CLI::App* cmd, std::string* format) {
  cmd->add_option("--format", *format,
                  "Input format: auto (sniffed from the first line), text, csv (first line is "
                  "the header), jsonl (one JSON object per line)")
      ->check(CLI::IsMember({"auto", "text", "csv", "jsonl"}))
      ->capture_default_str();
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// --- beibu scan --------------------------------------------------------------

struct ScanOptions {
  PolicyOption policy;
  std::string format = "auto";
  bool json = false;
  std::string file;
};

// What a terminal may show of a matched identifier: its first and last two
// bytes, the rest starred (shorter values are starred more), never the whole
// value. Non-printable bytes are shown as '?'.
std::string MaskForDisplay(std::string_view v) {
  size_t keep = v.size() >= 8 ? 2 : (v.size() >= 4 ? 1 : 0);
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (i < keep || i + keep >= v.size()) {
      out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    } else {
      out.push_back('*');
    }
  }
  return out;
}

struct Classification {
  bool pi = false;
  bool spi = false;
};

Classification Classify(const pol::Database& db, const std::vector<pol::Finding>& findings) {
  Classification c;
  for (const pol::Finding& f : findings) {
    if (Contains(db.spi_finding_types, f.type)) c.spi = true;
    if (Contains(db.pi_finding_types, f.type)) c.pi = true;
  }
  c.pi = c.pi || c.spi;  // SPI implies PI
  return c;
}

absl::Status RunScan(const ScanOptions& o) {
  absl::StatusOr<pol::Database> db = LoadDb(o.policy);
  if (!db.ok()) return db.status();
  absl::StatusOr<std::string> text = ReadInput("input", o.file, kMaxScanBytes);
  if (!text.ok()) return text.status();
  pol::Format format = ParseFormat(o.format);
  if (format == pol::Format::kAuto) format = pol::SniffFormat(*text);
  pol::Detector detector;
  std::vector<pol::Finding> findings = detector.Scan(*text, format);
  Classification c = Classify(*db, findings);
  if (o.json) {
    // Written finding by finding: a large input can have millions of them,
    // and one JSON tree of them all would cost ~10x the input in memory.
    std::cout << "{\"findings\":[";
    for (size_t i = 0; i < findings.size(); ++i) {
      const pol::Finding& f = findings[i];
      json one = {{"type", f.type}, {"start", f.start}, {"end", f.end}, {"score", f.score}};
      std::cout << (i == 0 ? "" : ",") << one.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    json rest = {{"level", std::string(pol::LevelName(pol::Level::kGeneral))},
                 {"pi", c.pi},
                 {"spi", c.spi},
                 {"format", FormatName(format)},
                 {"bytes", text->size()}};
    std::string tail = rest.dump(-1, ' ', false, json::error_handler_t::replace);
    std::cout << "]," << tail.substr(1) << "\n";  // tail without its opening brace
    return CheckStdout();
  }
  std::printf("%-16s %12s %12s %6s  %s\n", "TYPE", "START", "END", "SCORE", "VALUE (masked)");
  std::map<std::string, int> by_type;
  for (const pol::Finding& f : findings) {
    ++by_type[f.type];
    std::string_view value;
    if (f.start <= f.end && f.end <= text->size()) {
      value = std::string_view(*text).substr(f.start, f.end - f.start);
    }
    std::printf("%-16s %12zu %12zu %6.2f  %s\n", f.type.c_str(), f.start, f.end, f.score,
                MaskForDisplay(value).c_str());
  }
  std::vector<std::string> counts;
  for (const auto& [type, n] : by_type) counts.push_back(absl::StrCat(type, " ", n));
  std::printf(
      "%zu finding%s in %zu bytes (%s)%s%s; PI %s, SPI %s; level GENERAL (content alone "
      "cannot make data important or core: declare the category with `beibu route`)\n",
      findings.size(), findings.size() == 1 ? "" : "s", text->size(), FormatName(format),
      counts.empty() ? "" : ": ", absl::StrJoin(counts, ", ").c_str(), c.pi ? "yes" : "no",
      c.spi ? "yes" : "no");
  return CheckStdout();
}

// --- beibu route -------------------------------------------------------------

struct RouteOptions {
  PolicyOption policy;
  std::string from;
  std::string to;
  std::string category;
  std::string level;
  int64_t persons = 0;
  bool spi = false;
  bool pi = false;
  std::vector<std::string> attest;
  std::string purpose;
  std::string ftz;
  std::string file;
  bool json = false;
};

std::string JurisdictionCodes(const pol::Database& db) {
  std::vector<std::string> codes;
  for (const auto& [code, j] : db.jurisdictions) codes.push_back(code);
  return absl::StrJoin(codes, ", ");
}

absl::Status CheckCountry(const pol::Database& db, const char* flag, const std::string& code) {
  if (db.FindJurisdiction(code) != nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(flag, " '", code,
                                                 "' is not a jurisdiction of this database; "
                                                 "valid: ",
                                                 JurisdictionCodes(db)));
}

absl::Status CheckCategory(const pol::Database& db, const std::string& id) {
  if (db.FindCategory(id) != nullptr) return absl::OkStatus();
  std::vector<std::string> ids;
  for (const auto& [cid, c] : db.categories) ids.push_back(cid);
  return absl::InvalidArgumentError(absl::StrCat("unknown category '", id,
                                                 "'; valid: ", absl::StrJoin(ids, ", "),
                                                 " (`beibu policy show` describes them)"));
}

// Validates the arguments against the database with messages that list the
// valid values, and builds the request. Decide() checks again.
absl::StatusOr<pol::RouteRequest> BuildRequest(const pol::Database& db, const RouteOptions& o) {
  pol::RouteRequest r;
  r.from = absl::AsciiStrToUpper(o.from);
  r.to = absl::AsciiStrToUpper(o.to);
  if (absl::Status s = CheckCountry(db, "--from", r.from); !s.ok()) return s;
  if (absl::Status s = CheckCountry(db, "--to", r.to); !s.ok()) return s;
  if (r.from == r.to) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--from and --to are both ", r.from, ": not a cross-border transfer, nothing to route"));
  }
  if (absl::Status s = CheckCategory(db, o.category); !s.ok()) return s;
  r.category = o.category;
  if (!o.level.empty()) {
    std::optional<pol::Level> level = pol::ParseLevel(o.level);
    if (!level) {
      return absl::InvalidArgumentError(
          absl::StrCat("--level '", o.level, "' is not a level; valid: GENERAL, IMPORTANT, CORE"));
    }
    r.declared_level = level;
  }
  if (o.persons < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--persons ", o.persons, " is negative; give the number of persons (>= 0)"));
  }
  r.persons = o.persons;
  r.declared_spi = o.spi;
  r.declared_pi = o.pi || o.spi;
  r.purpose = o.purpose;
  r.attested = o.attest;
  r.ftz = absl::AsciiStrToLower(o.ftz);
  if (!r.ftz.empty() && db.negative_lists.find(r.ftz) == db.negative_lists.end()) {
    std::vector<std::string> zones;
    for (const auto& [zone, l] : db.negative_lists) zones.push_back(zone);
    return absl::InvalidArgumentError(
        absl::StrCat("--ftz '", o.ftz,
                     "' is not a zone of this "
                     "database; valid: ",
                     zones.empty() ? "(none)" : absl::StrJoin(zones, ", ")));
  }
  if (!o.file.empty()) {
    absl::StatusOr<std::string> text = ReadInput("--file", o.file, kMaxScanBytes);
    if (!text.ok()) return text.status();
    pol::Detector detector;
    for (pol::Finding& f : detector.Scan(*text, pol::SniffFormat(*text))) {
      r.finding_types.push_back(std::move(f.type));
    }
  }
  return r;
}

json DecisionJson(const pol::RouteDecision& d) {
  json j = {{"decision", std::string(pol::DecisionName(d.decision))},
            {"rules", d.rules},
            {"reason", d.reason},
            {"mask_profile", d.mask_profile ? json(*d.mask_profile) : json(nullptr)},
            {"level", std::string(pol::LevelName(d.level))},
            {"pi", d.pi},
            {"spi", d.spi},
            {"high_risk", d.high_risk},
            {"trace", json::array()}};
  for (const pol::FiredRule& f : d.trace) {
    j["trace"].push_back({{"id", f.id},
                          {"outcome", std::string(pol::DecisionName(f.outcome))},
                          {"satisfied", f.satisfied},
                          {"reason", f.reason}});
  }
  return j;
}

absl::Status RunRoute(const RouteOptions& o) {
  absl::StatusOr<pol::Database> db = LoadDb(o.policy);
  if (!db.ok()) return db.status();
  absl::StatusOr<pol::RouteRequest> request = BuildRequest(*db, o);
  if (!request.ok()) return request.status();
  absl::StatusOr<pol::RouteDecision> d = pol::Decide(*db, *request);
  if (!d.ok()) return d.status();
  if (o.json) {
    json out = DecisionJson(*d);
    out["finding_types"] =
        std::set<std::string>(request->finding_types.begin(), request->finding_types.end());
    out["policy_version"] = db->version;
    out["policy_label"] = db->label;
    out["policy_digest"] = db->digest_hex;
    PrintJson(out);
    return CheckStdout();
  }
  std::string decision(pol::DecisionName(d->decision));
  if (d->mask_profile) absl::StrAppend(&decision, " (profile ", *d->mask_profile, ")");
  std::printf("decision: %s\n", decision.c_str());
  std::printf("class:    %s%s%s%s\n", std::string(pol::LevelName(d->level)).c_str(),
              d->pi ? ", PI" : "", d->spi ? ", SPI" : "", d->high_risk ? ", HIGH RISK" : "");
  std::printf("rules:    %s\n", d->rules.empty() ? "(none)" : absl::StrJoin(d->rules, " ").c_str());
  std::printf("reason:   %s\n", d->reason.c_str());
  for (const pol::FiredRule& f : d->trace) {
    std::printf("  %-24s %-12s %s\n", f.id.c_str(),
                f.satisfied ? "satisfied" : std::string(pol::DecisionName(f.outcome)).c_str(),
                f.reason.c_str());
  }
  std::printf("policy:   version %lld (%s), digest %s\n", static_cast<long long>(db->version),
              db->label.c_str(), db->digest_hex.c_str());
  return CheckStdout();
}

// --- beibu mask --------------------------------------------------------------

struct MaskOptions {
  PolicyOption policy;
  std::string profile;
  std::string key_file;
  std::string format = "auto";
  std::string file;
};

bool UsesPseudonym(const pol::MaskProfile& p) {
  for (const auto* ops : {&p.by_type, &p.by_field}) {
    for (const auto& [name, op] : *ops) {
      if (op.kind == pol::MaskOp::Kind::kPseudonym) return true;
    }
  }
  return false;
}

std::string ProfileIds(const pol::Database& db) {
  std::vector<std::string> ids;
  for (const auto& [id, p] : db.profiles) ids.push_back(id);
  return ids.empty() ? "(none)" : absl::StrJoin(ids, ", ");
}

absl::StatusOr<std::string> ReadKey(const std::string& path) {
  if (path == "-") {
    return absl::InvalidArgumentError(
        "--key-file must name a file; standard input carries the records");
  }
  absl::StatusOr<std::string> key = ReadInput("key file", path, kMaxKeyBytes);
  if (!key.ok()) return key.status();
  // So that `echo SECRET > key` and `openssl rand -hex 32 > key` both work.
  if (!key->empty() && key->back() == '\n') key->pop_back();
  if (!key->empty() && key->back() == '\r') key->pop_back();
  if (key->size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file '", path, "' holds ", key->size(), " bytes; a pseudonym key needs ",
                     kMinKeyBytes, " or more (e.g. `openssl rand -hex 32 > ", path, "`)"));
  }
  return key;
}

absl::Status RunMask(const MaskOptions& o) {
  // Records stream through std::cin/std::cout; unsynchronized they are several
  // times faster, and nothing else in this process uses C stdio on them.
  std::ios::sync_with_stdio(false);
  absl::StatusOr<pol::Database> db = LoadDb(o.policy);
  if (!db.ok()) return db.status();
  auto it = db->profiles.find(o.profile);
  if (it == db->profiles.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown profile '", o.profile, "'; available: ", ProfileIds(*db)));
  }
  const pol::MaskProfile& profile = it->second;
  std::string key;
  if (UsesPseudonym(profile)) {
    if (o.key_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "profile '", o.profile,
          "' replaces values with keyed pseudonyms; pass --key-file F "
          "(at least 16 bytes, e.g. `openssl rand -hex 32 > F`; the same key gives the same "
          "tokens)"));
    }
    absl::StatusOr<std::string> k = ReadKey(o.key_file);
    if (!k.ok()) return k.status();
    key = std::move(*k);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.file != "-") {
    struct stat st;
    if (stat(o.file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", o.file, "' is a directory; give a file"));
    }
    file.open(o.file, std::ios::binary);
    if (!file) {
      int err = errno;
      std::string msg = absl::StrCat("cannot open input '", o.file, "': ", std::strerror(err));
      return err == ENOENT ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
    }
    in = &file;
  }
  pol::Detector detector;
  absl::StatusOr<pol::Masker> masker = pol::Masker::Create(detector, profile, std::move(key));
  if (!masker.ok()) return masker.status();
  absl::StatusOr<pol::MaskStats> stats = masker->MaskStream(*in, std::cout, ParseFormat(o.format));
  if (absl::Status s = CheckStdout(); !s.ok()) return s;
  if (!stats.ok()) return stats.status();
  if (in->bad()) return absl::DataLossError("error reading the input");
  for (const std::string& w : stats->warnings)
    std::fprintf(stderr, "beibu mask: warning: %s\n", w.c_str());
  std::fprintf(stderr,
               "beibu mask: profile %s: %llu records, %llu bytes in, %llu values replaced\n",
               o.profile.c_str(), static_cast<unsigned long long>(stats->records),
               static_cast<unsigned long long>(stats->bytes_in),
               static_cast<unsigned long long>(stats->replaced));
  return absl::OkStatus();
}

// --- beibu policy lint / show / diff -----------------------------------------

size_t RuleCount(const pol::Database& db) {
  size_t n = db.global_rules.size();
  for (const auto& [code, j] : db.jurisdictions) n += j.export_rules.size();
  for (const auto& [zone, l] : db.negative_lists) n += l.entries.size();
  return n;
}

json Summary(const pol::Database& db) {
  return {{"version", db.version},
          {"label", db.label},
          {"published", db.published},
          {"digest", db.digest_hex},
          {"categories", db.categories.size()},
          {"rules", RuleCount(db)},
          {"jurisdictions", db.jurisdictions.size()},
          {"profiles", db.profiles.size()},
          {"negative_lists", db.negative_lists.size()}};
}

std::string SummaryLine(const pol::Database& db) {
  return absl::StrCat("version ", db.version, " label ", db.label, " digest ", db.digest_hex, ", ",
                      db.categories.size(), " categories, ", RuleCount(db), " rules, ",
                      db.jurisdictions.size(), " jurisdictions");
}

struct LintOptions {
  std::string dir;
  bool json = false;
};

absl::Status RunLint(const LintOptions& o) {
  if (absl::Status s = CheckDir("DIR", o.dir); !s.ok()) {
    if (o.json) PrintJson({{"ok", false}, {"error", std::string(s.message())}});
    return s;
  }
  absl::StatusOr<pol::Database> db = pol::LoadDatabaseDir(o.dir);
  if (!db.ok()) {
    if (o.json) {
      PrintJson({{"ok", false}, {"error", std::string(db.status().message())}});
    }
    // Whatever the loader says, an unloadable directory is bad input.
    return absl::InvalidArgumentError(db.status().message());
  }
  if (o.json) {
    json out = Summary(*db);
    out["ok"] = true;
    PrintJson(out);
  } else {
    std::printf("ok: %s\n", SummaryLine(*db).c_str());
  }
  return CheckStdout();
}

struct ShowOptions {
  PolicyOption policy;
  bool json = false;
};

absl::Status RunShow(const ShowOptions& o) {
  absl::StatusOr<pol::Database> db = LoadDb(o.policy);
  if (!db.ok()) return db.status();
  json out = Summary(*db);
  out["source"] = o.policy.dir.empty() ? "baseline (compiled in)" : o.policy.dir;
  out["category_list"] = json::array();
  for (const auto& [id, c] : db->categories) {
    out["category_list"].push_back(
        {{"id", id},
         {"level", std::string(pol::LevelName(c.level))},
         {"pi", c.pi || c.spi},
         {"spi", c.spi},
         {"mask_profile", c.mask_profile.empty() ? json(nullptr) : json(c.mask_profile)},
         {"sandbox_only", c.sandbox_only},
         {"description", c.description}});
  }
  out["profile_list"] = json::array();
  for (const auto& [id, p] : db->profiles) {
    out["profile_list"].push_back(
        {{"id", id}, {"description", p.description}, {"needs_key", UsesPseudonym(p)}});
  }
  out["jurisdiction_list"] = json::array();
  for (const auto& [code, j] : db->jurisdictions) {
    std::vector<std::string> mechanisms;
    for (const pol::Mechanism& m : j.mechanisms) mechanisms.push_back(m.id);
    out["jurisdiction_list"].push_back({{"code", code},
                                        {"name", j.name},
                                        {"regulator", j.regulator},
                                        {"mechanisms", mechanisms},
                                        {"export_rules", j.export_rules.size()}});
  }
  out["negative_list_list"] = json::array();
  for (const auto& [zone, l] : db->negative_lists) {
    out["negative_list_list"].push_back({{"zone", zone},
                                         {"name", l.name},
                                         {"source_country", l.source_country},
                                         {"entries", l.entries.size()}});
  }
  out["pi_finding_types"] = db->pi_finding_types;
  out["spi_finding_types"] = db->spi_finding_types;
  if (o.json) {
    PrintJson(out);
    return CheckStdout();
  }
  std::printf("policy database: %s\n", SummaryLine(*db).c_str());
  std::printf("source: %s; published %s\n", out["source"].get<std::string>().c_str(),
              db->published.c_str());
  std::printf("\ncategories (id, level, flags, mask profile):\n");
  for (const auto& [id, c] : db->categories) {
    std::string flags = c.spi ? "PI SPI" : (c.pi ? "PI" : "-");
    if (c.sandbox_only) absl::StrAppend(&flags, " sandbox-only");
    std::printf("  %-32s %-9s %-20s %s\n", id.c_str(), std::string(pol::LevelName(c.level)).c_str(),
                flags.c_str(), c.mask_profile.empty() ? "-" : c.mask_profile.c_str());
  }
  std::printf("\nmasking profiles (for `beibu mask --profile`):\n");
  for (const auto& [id, p] : db->profiles) {
    std::printf("  %-24s %s%s\n", id.c_str(), p.description.c_str(),
                UsesPseudonym(p) ? " [needs --key-file]" : "");
  }
  std::printf("\njurisdictions (code, name, mechanisms an exporter from there may attest):\n");
  for (const auto& [code, j] : db->jurisdictions) {
    std::vector<std::string> mechanisms;
    for (const pol::Mechanism& m : j.mechanisms) mechanisms.push_back(m.id);
    std::printf("  %-3s %-28s %s\n", code.c_str(), j.name.c_str(),
                mechanisms.empty() ? "-" : absl::StrJoin(mechanisms, " ").c_str());
  }
  if (!db->negative_lists.empty()) {
    std::printf("\nFTZ negative lists (for `beibu route --ftz`):\n");
    for (const auto& [zone, l] : db->negative_lists) {
      std::printf("  %-4s %s (%s), %zu entries\n", zone.c_str(), l.name.c_str(),
                  l.source_country.c_str(), l.entries.size());
    }
  }
  return CheckStdout();
}

struct DiffOptions {
  std::string old_dir;
  std::string new_dir;
  std::string routes;
  bool json = false;
};

const char* ChangeKindName(pol::DatabaseChange::Kind k) {
  switch (k) {
    case pol::DatabaseChange::Kind::kAdded:
      return "added";
    case pol::DatabaseChange::Kind::kRemoved:
      return "removed";
    case pol::DatabaseChange::Kind::kChanged:
      break;
  }
  return "changed";
}

absl::Status RouteError(const std::string& path, int line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
}

// One --routes line: a JSON object with the keys documented in docs/cli.md.
absl::StatusOr<pol::RecentRoute> ParseRoute(const std::string& path, int line,
                                            const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return RouteError(path, line, "not a JSON object");
  }
  pol::RecentRoute r;
  for (const auto& [k, v] : j.items()) {
    bool ok = true;
    if (k == "exporter" || k == "from" || k == "to" || k == "category" || k == "ftz" ||
        k == "purpose" || k == "level") {
      ok = v.is_string();
    } else if (k == "persons") {
      ok = v.is_number_integer() && v.get<int64_t>() >= 0;
    } else if (k == "spi" || k == "pi") {
      ok = v.is_boolean();
    } else if (k == "attest") {
      ok = v.is_array() &&
           std::all_of(v.begin(), v.end(), [](const json& m) { return m.is_string(); });
    } else {
      return RouteError(path, line,
                        absl::StrCat("unknown key '", k,
                                     "' (keys: exporter, from, to, category, persons, pi, spi, "
                                     "attest, ftz, purpose, level)"));
    }
    if (!ok) return RouteError(path, line, absl::StrCat("'", k, "' has the wrong type"));
  }
  for (const char* required : {"from", "to", "category"}) {
    if (!j.contains(required)) {
      return RouteError(path, line, absl::StrCat("missing '", required, "'"));
    }
  }
  r.exporter = j.value("exporter", "");
  r.request.from = absl::AsciiStrToUpper(j["from"].get<std::string>());
  r.request.to = absl::AsciiStrToUpper(j["to"].get<std::string>());
  r.request.category = j["category"].get<std::string>();
  r.request.persons = j.value("persons", int64_t{0});
  r.request.declared_spi = j.value("spi", false);
  r.request.declared_pi = j.value("pi", false) || r.request.declared_spi;
  if (j.contains("attest")) r.request.attested = j["attest"].get<std::vector<std::string>>();
  r.request.ftz = j.value("ftz", "");
  r.request.purpose = j.value("purpose", "");
  if (j.contains("level")) {
    std::optional<pol::Level> level = pol::ParseLevel(j["level"].get<std::string>());
    if (!level) return RouteError(path, line, "'level' is not GENERAL, IMPORTANT or CORE");
    r.request.declared_level = level;
  }
  return r;
}

absl::StatusOr<std::vector<pol::RecentRoute>> ReadRoutes(const std::string& path) {
  absl::StatusOr<std::string> data = ReadInput("routes file", path, kMaxRoutesBytes);
  if (!data.ok()) return data.status();
  std::vector<pol::RecentRoute> routes;
  size_t pos = 0;
  int line = 0;
  while (pos < data->size()) {
    size_t nl = data->find('\n', pos);
    if (nl == std::string::npos) nl = data->size();
    std::string text = data->substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (absl::StripAsciiWhitespace(text).empty()) continue;
    absl::StatusOr<pol::RecentRoute> r = ParseRoute(path, line, text);
    if (!r.ok()) return r.status();
    routes.push_back(std::move(*r));
  }
  return routes;
}

json RequestJson(const pol::RouteRequest& r) {
  json j = {{"from", r.from},       {"to", r.to},          {"category", r.category},
            {"persons", r.persons}, {"pi", r.declared_pi}, {"spi", r.declared_spi},
            {"attest", r.attested}, {"ftz", r.ftz},        {"purpose", r.purpose}};
  if (r.declared_level) j["level"] = std::string(pol::LevelName(*r.declared_level));
  return j;
}

absl::StatusOr<pol::Database> LoadNamed(const char* which, const std::string& dir) {
  if (absl::Status s = CheckDir(which, dir); !s.ok()) return s;
  absl::StatusOr<pol::Database> db = pol::LoadDatabaseDir(dir);
  if (!db.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(which, " database '", dir, "': ", std::string(db.status().message())));
  }
  return db;
}

absl::Status RunDiff(const DiffOptions& o) {
  absl::StatusOr<pol::Database> old_db = LoadNamed("OLD", o.old_dir);
  if (!old_db.ok()) return old_db.status();
  absl::StatusOr<pol::Database> new_db = LoadNamed("NEW", o.new_dir);
  if (!new_db.ok()) return new_db.status();
  std::vector<pol::RecentRoute> routes;
  if (!o.routes.empty()) {
    absl::StatusOr<std::vector<pol::RecentRoute>> r = ReadRoutes(o.routes);
    if (!r.ok()) return r.status();
    routes = std::move(*r);
  }
  std::vector<pol::DatabaseChange> changes = pol::DiffDatabases(*old_db, *new_db);
  std::vector<pol::RiskWarning> warnings;
  if (!routes.empty()) warnings = pol::RiskWarnings(*old_db, *new_db, routes);
  if (o.json) {
    json out = {{"old", Summary(*old_db)},
                {"new", Summary(*new_db)},
                {"changes", json::array()},
                {"warnings", json::array()}};
    for (const pol::DatabaseChange& c : changes) {
      out["changes"].push_back(
          {{"kind", ChangeKindName(c.kind)}, {"what", c.what}, {"id", c.id}, {"detail", c.detail}});
    }
    for (const pol::RiskWarning& w : warnings) {
      json before = DecisionJson(w.before), after = DecisionJson(w.after);
      before.erase("trace");
      after.erase("trace");
      out["warnings"].push_back({{"exporter", w.exporter},
                                 {"route", RequestJson(w.request)},
                                 {"before", before},
                                 {"after", after},
                                 {"rules_added", w.rules_added},
                                 {"rules_removed", w.rules_removed},
                                 {"reason", w.reason}});
    }
    PrintJson(out);
    return CheckStdout();
  }
  std::printf("old: %s\nnew: %s\n", SummaryLine(*old_db).c_str(), SummaryLine(*new_db).c_str());
  std::printf("%zu change%s\n", changes.size(), changes.size() == 1 ? "" : "s");
  for (const pol::DatabaseChange& c : changes) {
    char mark = c.kind == pol::DatabaseChange::Kind::kAdded     ? '+'
                : c.kind == pol::DatabaseChange::Kind::kRemoved ? '-'
                                                                : '~';
    std::printf("%c %s %s%s%s\n", mark, c.what.c_str(), c.id.c_str(), c.detail.empty() ? "" : ": ",
                c.detail.c_str());
  }
  if (!o.routes.empty()) {
    std::printf("%zu risk warning%s for %zu recent route%s\n", warnings.size(),
                warnings.size() == 1 ? "" : "s", routes.size(), routes.size() == 1 ? "" : "s");
    for (const pol::RiskWarning& w : warnings) {
      std::printf("! %s %s->%s %s: %s\n", w.exporter.empty() ? "-" : w.exporter.c_str(),
                  w.request.from.c_str(), w.request.to.c_str(), w.request.category.c_str(),
                  w.reason.c_str());
    }
  }
  return CheckStdout();
}

// --- beibu policy publish / status (against the hub) ---------------------------

struct PublishOptions {
  ConnectionFlags conn;
  std::string dir;
  bool json = false;
};

absl::Status RunPublish(const PublishOptions& o) {
  if (absl::Status s = CheckDir("DIR", o.dir); !s.ok()) return s;
  // The same reader and checks as `beibu policy lint`, before anything is sent.
  absl::StatusOr<pol::PolicyFiles> files = pol::ReadPolicyDir(o.dir);
  if (!files.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DIR '", o.dir, "': ", std::string(files.status().message())));
  }
  if (absl::StatusOr<pol::Database> db = pol::LoadDatabase(*files); !db.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DIR '", o.dir, "': ", std::string(db.status().message()), " (nothing was published)"));
  }
  v1::PublishPolicyRequest req;
  for (const auto& [path, content] : *files) {
    v1::PolicyFile* f = req.add_files();
    f->set_path(path);
    f->set_content(content);
  }
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = o.conn.Connect({pki::Role::kHub});
  if (!client.ok()) return client.status();
  v1::PublishPolicyResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Admin/PublishPolicy", req, &resp); !s.ok()) {
    return s;
  }
  if (o.json) {
    json out = {
        {"version", resp.version()}, {"digest", resp.digest_hex()}, {"changes", json::array()}};
    for (const std::string& c : resp.changes()) out["changes"].push_back(c);
    PrintJson(out);
    return CheckStdout();
  }
  std::printf("published version %llu digest %s\n%d change%s since the previous version\n",
              static_cast<unsigned long long>(resp.version()), resp.digest_hex().c_str(),
              resp.changes_size(), resp.changes_size() == 1 ? "" : "s");
  for (const std::string& c : resp.changes()) std::printf("%s\n", c.c_str());
  return CheckStdout();
}

struct StatusOptions {
  ConnectionFlags conn;
  bool json = false;
};

absl::Status RunStatus(const StatusOptions& o) {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = o.conn.Connect({pki::Role::kHub});
  if (!client.ok()) return client.status();
  v1::SignedPolicy p;
  if (absl::Status s = (*client)->Call("/beibu.v1.Admin/GetPolicy", v1::GetPolicyRequest(), &p);
      !s.ok()) {
    return s;
  }
  std::string signer = "(unreadable certificate)";
  if (absl::StatusOr<pki::Certificate> cert = pki::Certificate::FromPem(p.signer_certificate());
      cert.ok()) {
    signer = cert->SubjectLine();
  }
  // The label is in manifest.yaml; the hub only distributes databases that load.
  std::string label;
  pol::PolicyFiles files;
  for (const v1::PolicyFile& f : p.files()) files.emplace(f.path(), f.content());
  if (absl::StatusOr<pol::Database> db = pol::LoadDatabase(files); db.ok()) label = db->label;
  const std::string published = google::protobuf::util::TimeUtil::ToString(p.published_at());
  if (o.json) {
    json out = {{"version", p.version()}, {"digest", p.digest_hex()},
                {"label", label},         {"published_at", published},
                {"signer", signer},       {"signed", !p.signature().empty()},
                {"files", json::array()}};
    for (const v1::PolicyFile& f : p.files()) out["files"].push_back(f.path());
    PrintJson(out);
    return CheckStdout();
  }
  std::printf(
      "version:    %llu\nlabel:      %s\ndigest:     %s\npublished:  %s\nsigned by:  %s\n"
      "files:      %d\n",
      static_cast<unsigned long long>(p.version()), label.empty() ? "-" : label.c_str(),
      p.digest_hex().c_str(), published.c_str(), signer.c_str(), p.files_size());
  return CheckStdout();
}

// --- Command-line wiring -----------------------------------------------------

void AddScan(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ScanOptions>();
  CLI::App* cmd = app.add_subcommand(
      "scan", "Find personal identifiers in a file (IDs, bank cards, phones, e-mails, ...)");
  AddPolicyOption(cmd, &o->policy);
  AddFormatOption(cmd, &o->format);
  cmd->add_flag("--json", o->json, "Print the findings as one JSON object");
  cmd->add_option("FILE", o->file, "File to scan (at most 256 MiB); - for standard input")
      ->required();
  cmd->footer(
      "Example: beibu scan --json customers.csv\n"
      "  {\"findings\":[{\"type\":\"CN_MOBILE\",\"start\":42,\"end\":53,\"score\":0.95}],\n"
      "   \"level\":\"GENERAL\",\"pi\":true,\"spi\":false}\n"
      "start/end are byte offsets in the input, end exclusive. pi/spi say whether the findings\n"
      "make the data personal (sensitive) information. level is always GENERAL: content alone\n"
      "cannot make data important or core; that comes from its category (`beibu route`).\n"
      "Without --json, a table whose values are masked (never printed in clear).\n"
      "Exit status: 0 scanned (whatever was found); 2 bad arguments or unreadable FILE.");
  cmd->callback([o, exit_code] { FinishCommand("scan", RunScan(*o), exit_code); });
}

void AddRoute(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RouteOptions>();
  CLI::App* cmd = app.add_subcommand(
      "route", "Decide how a cross-border transfer may go: FAST, MASK, REVIEW, SANDBOX_ONLY, DENY");
  AddPolicyOption(cmd, &o->policy);
  cmd->add_option("--from", o->from, "Source country, ISO 3166 alpha-2 (e.g. CN)")->required();
  cmd->add_option("--to", o->to, "Destination country (e.g. SG)")->required();
  cmd->add_option("--category", o->category,
                  "Data category (e.g. customer.contact; `beibu policy show` lists them)")
      ->required();
  cmd->add_option("--level", o->level,
                  "Declared level GENERAL|IMPORTANT|CORE; can only raise the category's");
  cmd->add_option("--persons", o->persons,
                  "P: persons whose PI you have sent out of the source country this calendar "
                  "year, this transfer included");
  cmd->add_flag("--pi", o->pi, "The data holds personal information");
  cmd->add_flag("--spi", o->spi, "The data holds sensitive personal information (implies --pi)");
  cmd->add_option("--attest", o->attest,
                  "A transfer mechanism you have in place (repeat; e.g. cn-standard-contract)");
  cmd->add_option("--purpose", o->purpose, "Purpose id, e.g. contract-necessity");
  cmd->add_option("--ftz", o->ftz, "Free trade zone the data originates in (e.g. gx)");
  cmd->add_option("--file", o->file,
                  "Scan this content too: identifiers found make it PI/SPI (format sniffed)");
  cmd->add_flag("--json", o->json, "Print the decision as one JSON object");
  cmd->footer(
      "Example: beibu route --from CN --to SG --category customer.contact --persons 150000 \\\n"
      "           --attest cn-standard-contract --json\n"
      "  {\"decision\":\"MASK\",\"rules\":[...,\"PROFILE:contact-mask\"],\"reason\":\"...\",\n"
      "   \"mask_profile\":\"contact-mask\",\"level\":\"GENERAL\",\"pi\":true,...}\n"
      "The decision is computed offline from the policy database, an illustrative baseline\n"
      "that operators maintain, not legal advice.\n"
      "Exit status: 0 decided (whatever the decision); 2 bad arguments (unknown category or\n"
      "country: the message lists the valid ones).");
  cmd->callback([o, exit_code] { FinishCommand("route", RunRoute(*o), exit_code); });
}

void AddMask(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<MaskOptions>();
  CLI::App* cmd = app.add_subcommand(
      "mask", "Desensitize records with a masking profile; masked records to standard output");
  AddPolicyOption(cmd, &o->policy);
  cmd->add_option("--profile", o->profile,
                  "Masking profile (e.g. contact-mask; `beibu policy show` lists them)")
      ->required();
  cmd->add_option("--key-file", o->key_file,
                  "Pseudonym key (>= 16 bytes; one trailing newline ignored); only for profiles "
                  "that pseudonymize");
  AddFormatOption(cmd, &o->format);
  cmd->add_option("FILE", o->file, "Records to mask; - for standard input")->required();
  cmd->footer(
      "Example: beibu mask --profile contact-mask customers.csv > customers.masked.csv\n"
      "         cat events.jsonl | beibu mask --profile contact-mask - > masked.jsonl\n"
      "Streams record by record (memory bounded by the longest record, 16 MiB at most); a CSV\n"
      "header passes through. Statistics go to standard error.\n"
      "Exit status: 0 ok; 2 bad arguments, unknown profile, missing key, malformed record.");
  cmd->callback([o, exit_code] { FinishCommand("mask", RunMask(*o), exit_code); });
}

void AddPolicyGroup(CLI::App& app, int* exit_code) {
  CLI::App* policy =
      app.add_subcommand("policy", "Inspect, validate, compare and publish policy databases");
  policy->require_subcommand(1);
  policy->footer(
      "A policy database is a directory of YAML files (docs/policy.md): taxonomy, masking\n"
      "profiles, one compliance file per jurisdiction, FTZ negative lists. It is an\n"
      "illustrative baseline that operators maintain, not legal advice.");

  auto lint = std::make_shared<LintOptions>();
  CLI::App* cmd = policy->add_subcommand("lint", "Validate a policy database directory");
  cmd->add_option("DIR", lint->dir, "The database directory")->required();
  cmd->add_flag("--json", lint->json, "Print the result as one JSON object");
  cmd->footer(
      "Example: beibu policy lint deploy/policy\n"
      "  ok: version 1 label 2026.11-baseline digest 09a2b3fa..., 16 categories, 26 rules, "
      "11 jurisdictions\n"
      "rules counts global rules, jurisdiction export rules and negative-list entries.\n"
      "An invalid database prints the loader's \"file:line: reason\" on standard error.\n"
      "Exit status: 0 valid; 2 invalid or unreadable.");
  cmd->callback([lint, exit_code] { FinishCommand("policy lint", RunLint(*lint), exit_code); });

  auto show = std::make_shared<ShowOptions>();
  cmd = policy->add_subcommand(
      "show", "Describe a database: version, digest, categories, profiles, jurisdictions");
  AddPolicyOption(cmd, &show->policy);
  cmd->add_flag("--json", show->json, "Print as one JSON object");
  cmd->footer(
      "Example: beibu policy show                 (the baseline compiled into beibu)\n"
      "         beibu policy show --policy /etc/beibu/policy --json");
  cmd->callback([show, exit_code] { FinishCommand("policy show", RunShow(*show), exit_code); });

  auto diff = std::make_shared<DiffOptions>();
  cmd = policy->add_subcommand(
      "diff", "What changes between two database versions, and which routes it affects");
  cmd->add_option("OLD", diff->old_dir, "The old database directory")->required();
  cmd->add_option("NEW", diff->new_dir, "The new database directory")->required();
  cmd->add_option("--routes", diff->routes,
                  "Recent routes, JSON lines, to warn about decisions that change");
  cmd->add_flag("--json", diff->json, "Print as one JSON object");
  cmd->footer(
      "Example: beibu policy diff /etc/beibu/policy new-policy/ --routes recent.jsonl\n"
      "  ~ category logistics.track: level GENERAL -> IMPORTANT\n"
      "  ! acme CN->SG logistics.track: FAST -> REVIEW: Now fires: CN-IMP-001: ...\n"
      "A --routes line: {\"exporter\":\"acme\",\"from\":\"CN\",\"to\":\"SG\",\"category\":"
      "\"customer.contact\",\n"
      "  \"persons\":150000,\"spi\":false,\"attest\":[\"cn-standard-contract\"],\"ftz\":\"gx\","
      "\"purpose\":\"\",\"level\":\"GENERAL\"}\n"
      "(from, to, category required). Exit status: 0 compared (changes or not); 2 a database\n"
      "or the routes file is invalid.");
  cmd->callback([diff, exit_code] { FinishCommand("policy diff", RunDiff(*diff), exit_code); });

  auto publish = std::make_shared<PublishOptions>();
  cmd = policy->add_subcommand(
      "publish", "Sign and distribute a database version to every edge (operator, at the hub)");
  publish->conn.AddTo(cmd);
  cmd->add_option("DIR", publish->dir, "The database directory")->required();
  cmd->add_flag("--json", publish->json, "Print the result as one JSON object");
  cmd->footer(
      "Example: beibu policy publish --server hub:7400 --identity ~/.beibu/ops new-policy/\n"
      "  published version 2 digest 5c1f...\n"
      "  1 change since the previous version\n"
      "  ~ category logistics.track: level GENERAL -> IMPORTANT\n"
      "DIR is checked as `beibu policy lint` does before it is sent. The version in its\n"
      "manifest.yaml must be above the hub's current one. Edges apply it within a heartbeat\n"
      "and report it (`beibu nodes`, POLICY column).\n"
      "Exit status: 0 published; 2 invalid DIR, version not above the current one, or not an\n"
      "operator; 3 hub unreachable.");
  cmd->callback(
      [publish, exit_code] { FinishCommand("policy publish", RunPublish(*publish), exit_code); });

  auto status = std::make_shared<StatusOptions>();
  cmd = policy->add_subcommand("status",
                               "The database version the hub distributes (operator, at the hub)");
  status->conn.AddTo(cmd);
  cmd->add_flag("--json", status->json, "Print as one JSON object");
  cmd->footer(
      "Example: beibu policy status --server hub:7400 --identity ~/.beibu/ops\n"
      "`beibu nodes` shows the version each edge enforces.");
  cmd->callback(
      [status, exit_code] { FinishCommand("policy status", RunStatus(*status), exit_code); });
}

}  // namespace

void AddPolicyCommands(CLI::App& app, int* exit_code) {
  AddScan(app, exit_code);
  AddRoute(app, exit_code);
  AddMask(app, exit_code);
  AddPolicyGroup(app, exit_code);
}

}  // namespace beibu::cli
