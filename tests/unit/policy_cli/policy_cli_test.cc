// `beibu scan|route|mask|policy ...` run as the real binary: the JSON contracts
// of docs/cli.md field by field, representative routing decisions of the
// baseline database (deploy/policy), streaming masking from stdin, lint and
// diff on edited copies of the baseline, exit code 2 for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "subprocess.h"
#include "temp_dir.h"

namespace beibu {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::BinPath;
using testing::ReadFile;
using testing::RunResult;
using testing::TempDir;
using testing::WriteFile;

constexpr int kOk = 0, kUsage = 2;

// Identifiers with valid checksums (GB 11643 example ID; its check digit is X).
constexpr char kResidentId[] = "11010519491231002X";
constexpr char kMobile[] = "13812345678";
constexpr char kEmail[] = "zhang.wei@example.com";

// $BEIBU_SOURCE_DIR, else the source tree this test was built from.
std::string SourceDir() {
  const char* dir = std::getenv("BEIBU_SOURCE_DIR");
  return dir != nullptr ? dir : BEIBU_POLICY_CLI_SOURCE_DIR;
}

std::string BaselineDir() { return SourceDir() + "/deploy/policy"; }

class PolicyCliTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs `beibu ARGS...`.
  RunResult Beibu(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), BinPath("beibu"));
    return testing::Run(args, stdin_data);
  }

  // Runs `beibu ARGS... --json` against deploy/policy and parses stdout,
  // failing the test unless it exits 0 with one JSON object.
  json BeibuJson(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.push_back("--json");
    RunResult r = Beibu(args, stdin_data);
    EXPECT_EQ(r.exit_code, kOk) << args[0] << ": " << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "stdout is not a JSON object: " << r.out;
    return j.is_object() ? j : json::object();
  }

  json Route(std::vector<std::string> args) {
    args.insert(args.begin(), {"route", "--policy", BaselineDir()});
    return BeibuJson(args);
  }

  // A copy of deploy/policy under the temp dir.
  fs::path CopyBaseline(const std::string& name) {
    fs::path to = dir_ / name;
    fs::copy(BaselineDir(), to, fs::copy_options::recursive);
    return to;
  }

  TempDir dir_;
};

// The finding covering [start, end), or null.
const json* FindingAt(const json& scan, size_t start, size_t end) {
  for (const json& f : scan["findings"]) {
    if (f["start"].get<size_t>() == start && f["end"].get<size_t>() == end) return &f;
  }
  return nullptr;
}

// --- scan --------------------------------------------------------------------

TEST_F(PolicyCliTest, ScanJsonOffsetsAreBytesOfTheInput) {
  // Multi-byte UTF-8 before each identifier: offsets must count bytes.
  std::string text = std::string("客户 张伟\n手机: ") + kMobile + "，邮箱: " + kEmail +
                     "\n身份证号码: " + kResidentId + "\n";
  WriteFile(dir_ / "in.txt", text);
  json j = BeibuJson({"scan", "--policy", BaselineDir(), "--format", "text", Path("in.txt")});
  ASSERT_TRUE(j.contains("findings"));
  ASSERT_TRUE(j["findings"].is_array());
  for (const json& f : j["findings"]) {
    ASSERT_TRUE(f["type"].is_string());
    ASSERT_TRUE(f["start"].is_number_unsigned());
    ASSERT_TRUE(f["end"].is_number_unsigned());
    ASSERT_TRUE(f["score"].is_number());
    EXPECT_LT(f["start"].get<size_t>(), f["end"].get<size_t>());
    EXPECT_LE(f["end"].get<size_t>(), text.size());
    EXPECT_GT(f["score"].get<double>(), 0.0);
    EXPECT_LE(f["score"].get<double>(), 1.0);
  }
  struct Planted {
    std::string value;
    std::string type;
  };
  for (const Planted& p : std::vector<Planted>{
           {kMobile, "CN_MOBILE"}, {kEmail, "EMAIL"}, {kResidentId, "CN_RESIDENT_ID"}}) {
    size_t at = text.find(p.value);
    const json* f = FindingAt(j, at, at + p.value.size());
    ASSERT_NE(f, nullptr) << p.type << " not found at bytes " << at << ": " << j.dump();
    EXPECT_EQ((*f)["type"], p.type);
    EXPECT_EQ(text.substr((*f)["start"].get<size_t>(),
                          (*f)["end"].get<size_t>() - (*f)["start"].get<size_t>()),
              p.value);
  }
  EXPECT_EQ(j["level"], "GENERAL");
  EXPECT_EQ(j["pi"], true);
  EXPECT_EQ(j["spi"], true) << "a national ID makes the data sensitive";
}

TEST_F(PolicyCliTest, ScanEmailOnlyIsPiNotSpiAndEmptyInputIsNeither) {
  WriteFile(dir_ / "mail.txt", std::string("write to ") + kEmail + "\n");
  json j = BeibuJson({"scan", "--policy", BaselineDir(), Path("mail.txt")});
  ASSERT_EQ(j["findings"].size(), 1u) << j.dump();
  EXPECT_EQ(j["findings"][0]["type"], "EMAIL");
  EXPECT_EQ(j["findings"][0]["start"], 9);
  EXPECT_EQ(j["pi"], true);
  EXPECT_EQ(j["spi"], false);

  WriteFile(dir_ / "empty.txt", "");
  j = BeibuJson({"scan", "--policy", BaselineDir(), Path("empty.txt")});
  EXPECT_TRUE(j["findings"].empty());
  EXPECT_EQ(j["pi"], false);
  EXPECT_EQ(j["spi"], false);
  EXPECT_EQ(j["level"], "GENERAL");
}

TEST_F(PolicyCliTest, ScanFromStdinMatchesScanOfFile) {
  std::string text = std::string("id ") + kResidentId + " tel " + kMobile + "\n";
  WriteFile(dir_ / "in.txt", text);
  json from_file = BeibuJson({"scan", "--policy", BaselineDir(), Path("in.txt")});
  json from_stdin = BeibuJson({"scan", "--policy", BaselineDir(), "-"}, text);
  EXPECT_EQ(from_file["findings"], from_stdin["findings"]);
  EXPECT_EQ(from_stdin["findings"].size(), 2u) << from_stdin.dump();
}

TEST_F(PolicyCliTest, ScanTableNeverPrintsIdentifiersInClear) {
  std::string text = std::string("tel ") + kMobile + " mail " + kEmail + " id " + kResidentId;
  RunResult r = Beibu({"scan", "--policy", BaselineDir(), "-"}, text);
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out.find(kMobile), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kEmail), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kResidentId), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("13*******78"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CN_RESIDENT_ID"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 findings"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SPI yes"), std::string::npos) << r.out;
}

// --- route -------------------------------------------------------------------

struct RouteCase {
  std::vector<std::string> args;
  std::string decision;
  std::string mask_profile;  // empty: null
  std::string rule;          // a rule id that must be among "rules" (empty: none checked)
};

TEST_F(PolicyCliTest, RouteRepresentativeDecisions) {
  const std::vector<RouteCase> cases = {
      {{"--from", "VN", "--to", "CN", "--category", "logistics.track"}, "FAST", "", ""},
      {{"--from", "SG", "--to", "CN", "--category", "customer.contact", "--attest", "asean-mcc"},
       "MASK",
       "contact-mask",
       "PROFILE:contact-mask"},
      {{"--from", "SG", "--to", "CN", "--category", "customer.contact"}, "REVIEW", "", ""},
      {{"--from", "TH", "--to", "SG", "--category", "health.record", "--attest", "contract"},
       "REVIEW",
       "",
       ""},
      {{"--from", "CN", "--to", "SG", "--category", "infrastructure.critical"}, "DENY", "", ""},
      {{"--from", "CN", "--to", "SG", "--category", "finance.credit_record"},
       "SANDBOX_ONLY",
       "",
       "TAXONOMY:finance.credit_record"},
      {{"--from", "CN", "--to", "SG", "--category", "customer.contact", "--persons", "150000"},
       "REVIEW",
       "",
       ""},
      {{"--from", "CN", "--to", "SG", "--category", "customer.contact", "--persons", "150000",
        "--attest", "cn-standard-contract"},
       "MASK",
       "contact-mask",
       "PROFILE:contact-mask"},
  };
  for (const RouteCase& c : cases) {
    std::string name;
    for (const std::string& a : c.args) name += a + " ";
    SCOPED_TRACE(name);
    json j = Route(c.args);
    ASSERT_TRUE(j["decision"].is_string()) << j.dump();
    EXPECT_EQ(j["decision"], c.decision) << j["reason"];
    ASSERT_TRUE(j["rules"].is_array());
    ASSERT_TRUE(j["reason"].is_string());
    EXPECT_FALSE(j["reason"].get<std::string>().empty());
    ASSERT_TRUE(j.contains("mask_profile"));
    if (c.mask_profile.empty()) {
      EXPECT_TRUE(j["mask_profile"].is_null()) << j.dump();
    } else {
      EXPECT_EQ(j["mask_profile"], c.mask_profile);
    }
    if (!c.rule.empty()) {
      auto rules = j["rules"].get<std::vector<std::string>>();
      EXPECT_NE(std::find(rules.begin(), rules.end(), c.rule), rules.end()) << j.dump();
    }
    if (c.decision != "FAST") {
      EXPECT_FALSE(j["rules"].empty()) << j.dump();
    }
    EXPECT_EQ(j["policy_digest"].get<std::string>().size(), 64u);
  }
}

TEST_F(PolicyCliTest, RouteFileFindingsRaisePiAndSpi) {
  WriteFile(dir_ / "track.txt", std::string("consignee id ") + kResidentId + "\n");
  json plain = Route({"--from", "CN", "--to", "SG", "--category", "logistics.track"});
  EXPECT_EQ(plain["pi"], false);
  EXPECT_EQ(plain["decision"], "FAST");
  json scanned = Route({"--from", "CN", "--to", "SG", "--category", "logistics.track", "--persons",
                        "50", "--file", Path("track.txt")});
  EXPECT_EQ(scanned["pi"], true) << scanned.dump();
  EXPECT_EQ(scanned["spi"], true) << scanned.dump();
  // SPI leaving CN with P < 10,000 needs a standard contract or certification.
  EXPECT_EQ(scanned["decision"], "REVIEW") << scanned.dump();
}

TEST_F(PolicyCliTest, RouteSpiFlagImpliesPi) {
  json j = Route(
      {"--from", "CN", "--to", "SG", "--category", "logistics.track", "--spi", "--persons", "5"});
  EXPECT_EQ(j["pi"], true);
  EXPECT_EQ(j["spi"], true);
}

TEST_F(PolicyCliTest, RouteTextOutputNamesTheDecision) {
  RunResult r = Beibu({"route", "--policy", BaselineDir(), "--from", "CN", "--to", "SG",
                       "--category", "infrastructure.critical"});
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_NE(r.out.find("decision: DENY"), std::string::npos) << r.out;
}

TEST_F(PolicyCliTest, RouteBadArgumentsExit2WithHelpfulMessages) {
  const std::string p = BaselineDir();
  RunResult r = Beibu(
      {"route", "--policy", p, "--from", "CN", "--to", "SG", "--category", "no.such.category"});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("customer.contact"), std::string::npos) << "lists valid ones: " << r.err;

  r = Beibu(
      {"route", "--policy", p, "--from", "CN", "--to", "XX", "--category", "customer.contact"});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("SG"), std::string::npos) << r.err;

  r = Beibu(
      {"route", "--policy", p, "--from", "CN", "--to", "CN", "--category", "customer.contact"});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;

  r = Beibu({"route", "--policy", p, "--from", "CN", "--to", "SG", "--category", "customer.contact",
             "--level", "SECRET"});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("IMPORTANT"), std::string::npos) << r.err;

  r = Beibu({"route", "--policy", p, "--from", "CN", "--to", "SG", "--category", "customer.contact",
             "--persons", "-1"});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;

  r = Beibu({"route", "--policy", p, "--from", "CN", "--to", "SG", "--category", "customer.contact",
             "--ftz", "nowhere"});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;

  r = Beibu({"route", "--policy", p, "--from", "CN", "--to", "SG", "--category", "customer.contact",
             "--file", Path("missing.txt")});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;

  r = Beibu({"route", "--policy", p, "--to", "SG", "--category", "customer.contact"});
  EXPECT_EQ(r.exit_code, kUsage) << "missing --from";

  r = Beibu({"route", "--policy", Path("no-such-dir"), "--from", "CN", "--to", "SG", "--category",
             "customer.contact"});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;
}

// --- mask --------------------------------------------------------------------

TEST_F(PolicyCliTest, MaskStreamsCsvFromStdin) {
  std::string csv = std::string("order,phone,email\nA-1001,") + kMobile + "," + kEmail +
                    "\nA-1002,13987654321,li.na@example.org\n";
  RunResult r = Beibu({"mask", "--policy", BaselineDir(), "--profile", "contact-mask", "-"}, csv);
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out.find(kMobile), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kEmail), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("13987654321"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("li.na@example.org"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("order,phone,email\n", 0), 0u) << "header passes through: " << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  EXPECT_NE(r.out.find("\nA-1001,"), std::string::npos) << "non-identifiers kept: " << r.out;
  EXPECT_NE(r.out.find("\nA-1002,"), std::string::npos) << "non-identifiers kept: " << r.out;
  EXPECT_NE(r.err.find("values replaced"), std::string::npos) << r.err;
}

TEST_F(PolicyCliTest, MaskStreamsJsonLinesFromStdin) {
  std::string in = std::string("{\"phone\":\"") + kMobile + "\",\"note\":\"keep me\"}\n" +
                   "{\"contact\":{\"email\":\"" + kEmail + "\"},\"n\":2}\n";
  RunResult r = Beibu(
      {"mask", "--policy", BaselineDir(), "--profile", "contact-mask", "--format", "jsonl", "-"},
      in);
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out.find(kMobile), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kEmail), std::string::npos) << r.out;
  std::vector<json> records;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t nl = r.out.find('\n', pos);
    if (nl == std::string::npos) nl = r.out.size();
    records.push_back(json::parse(r.out.substr(pos, nl - pos), nullptr, false));
    pos = nl + 1;
  }
  ASSERT_EQ(records.size(), 2u) << r.out;
  ASSERT_TRUE(records[0].is_object()) << r.out;
  ASSERT_TRUE(records[1].is_object()) << r.out;
  EXPECT_EQ(records[0]["note"], "keep me");
  EXPECT_EQ(records[1]["n"], 2);
  EXPECT_TRUE(records[0]["phone"].is_string());
  EXPECT_NE(records[0]["phone"], kMobile);
}

TEST_F(PolicyCliTest, MaskTextFile) {
  WriteFile(dir_ / "notes.txt", std::string("call ") + kMobile + " today\n");
  RunResult r = Beibu({"mask", "--policy", BaselineDir(), "--profile", "contact-mask", "--format",
                       "text", Path("notes.txt")});
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out.find(kMobile), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("call ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" today\n"), std::string::npos) << r.out;
}

TEST_F(PolicyCliTest, MaskUnknownProfileListsAvailableOnes) {
  RunResult r =
      Beibu({"mask", "--policy", BaselineDir(), "--profile", "no-such-profile", "-"}, "x\n");
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("contact-mask"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(PolicyCliTest, MaskPseudonymProfileNeedsKey) {
  json show = BeibuJson({"policy", "show", "--policy", BaselineDir()});
  std::string profile;
  for (const json& p : show["profile_list"]) {
    if (p["needs_key"] == true) profile = p["id"];
  }
  if (profile.empty()) GTEST_SKIP() << "no profile of the baseline pseudonymizes";
  std::string input = std::string(kEmail) + " " + kMobile + " " + kResidentId + "\n";
  RunResult r = Beibu({"mask", "--policy", BaselineDir(), "--profile", profile, "-"}, input);
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("--key-file"), std::string::npos) << r.err;

  WriteFile(dir_ / "short.key", "short\n");
  r = Beibu({"mask", "--policy", BaselineDir(), "--profile", profile, "--key-file",
             Path("short.key"), "-"},
            input);
  EXPECT_EQ(r.exit_code, kUsage) << r.err;

  WriteFile(dir_ / "k.key", "0123456789abcdef0123456789abcdef\n");
  RunResult a = Beibu(
      {"mask", "--policy", BaselineDir(), "--profile", profile, "--key-file", Path("k.key"), "-"},
      input);
  ASSERT_EQ(a.exit_code, kOk) << a.err;
  RunResult b = Beibu(
      {"mask", "--policy", BaselineDir(), "--profile", profile, "--key-file", Path("k.key"), "-"},
      input);
  EXPECT_EQ(a.out, b.out) << "same key, same tokens";
}

TEST_F(PolicyCliTest, MaskMissingFileExit2) {
  RunResult r =
      Beibu({"mask", "--policy", BaselineDir(), "--profile", "contact-mask", Path("missing.csv")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("missing.csv"), std::string::npos) << r.err;
}

// --- policy lint / show / diff -----------------------------------------------

TEST_F(PolicyCliTest, LintBaselineOk) {
  RunResult r = Beibu({"policy", "lint", BaselineDir()});
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out.rfind("ok: version ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" jurisdictions\n"), std::string::npos) << r.out;

  json j = BeibuJson({"policy", "lint", BaselineDir()});
  EXPECT_EQ(j["ok"], true);
  EXPECT_GT(j["version"].get<int64_t>(), 0);
  EXPECT_EQ(j["digest"].get<std::string>().size(), 64u);
  EXPECT_EQ(j["jurisdictions"], 11) << "CN and the ten ASEAN members";
  EXPECT_GT(j["categories"].get<int>(), 0);
  EXPECT_GT(j["rules"].get<int>(), 0);
  EXPECT_NE(r.out.find(j["digest"].get<std::string>()), std::string::npos);
}

TEST_F(PolicyCliTest, LintBrokenCopyExit2WithFileAndLine) {
  fs::path copy = CopyBaseline("broken");
  std::string manifest = ReadFile(copy / "manifest.yaml");
  if (!manifest.empty() && manifest.back() != '\n') manifest += "\n";
  manifest += "no_such_key: 1\n";
  WriteFile(copy / "manifest.yaml", manifest);
  int line = static_cast<int>(std::count(manifest.begin(), manifest.end(), '\n'));

  RunResult r = Beibu({"policy", "lint", copy.string()});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("manifest.yaml:" + std::to_string(line) + ":"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;

  r = Beibu({"policy", "lint", copy.string(), "--json"});
  EXPECT_EQ(r.exit_code, kUsage);
  json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["ok"], false);
  EXPECT_NE(j["error"].get<std::string>().find("manifest.yaml:"), std::string::npos);

  r = Beibu({"policy", "lint", Path("no-such-dir")});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;
}

TEST_F(PolicyCliTest, ShowBaselineMatchesDeployPolicy) {
  json embedded = BeibuJson({"policy", "show"});
  json from_dir = BeibuJson({"policy", "show", "--policy", BaselineDir()});
  EXPECT_EQ(embedded["digest"], from_dir["digest"]) << "the compiled-in baseline is deploy/policy";
  std::vector<std::string> categories;
  for (const json& c : from_dir["category_list"]) categories.push_back(c["id"]);
  for (const char* id : {"customer.contact", "logistics.track", "health.record"}) {
    EXPECT_NE(std::find(categories.begin(), categories.end(), id), categories.end()) << id;
  }
  EXPECT_EQ(from_dir["jurisdiction_list"].size(), 11u);
}

// Raises logistics.track from GENERAL to IMPORTANT in taxonomy.yaml of `dir`:
// the first "level:" line after the line naming the category.
void RaiseLogisticsTrack(const fs::path& dir) {
  std::string text = ReadFile(dir / "taxonomy.yaml");
  size_t at = text.find("logistics.track");
  ASSERT_NE(at, std::string::npos);
  size_t level = text.find("level:", at);
  ASSERT_NE(level, std::string::npos);
  size_t eol = text.find('\n', level);
  ASSERT_NE(text.substr(level, eol - level).find("GENERAL"), std::string::npos)
      << "expected logistics.track to be GENERAL: " << text.substr(level, eol - level);
  text.replace(level, eol - level, "level: IMPORTANT");
  WriteFile(dir / "taxonomy.yaml", text);
}

TEST_F(PolicyCliTest, DiffListsChangeAndRiskWarning) {
  fs::path changed = CopyBaseline("new");
  RaiseLogisticsTrack(changed);
  WriteFile(
      dir_ / "routes.jsonl",
      "{\"exporter\":\"acme\",\"from\":\"CN\",\"to\":\"SG\",\"category\":\"logistics.track\","
      "\"persons\":0,\"attest\":[]}\n"
      "\n"
      "{\"exporter\":\"bobs\",\"from\":\"VN\",\"to\":\"CN\",\"category\":\"customer.contact\","
      "\"persons\":10,\"spi\":false,\"attest\":[\"vn-impact-assessment\"]}\n");
  json j = BeibuJson(
      {"policy", "diff", BaselineDir(), changed.string(), "--routes", Path("routes.jsonl")});
  ASSERT_TRUE(j["changes"].is_array()) << j.dump();
  bool found = false;
  for (const json& c : j["changes"]) {
    if (c["what"] == "category" && c["id"] == "logistics.track") {
      found = true;
      EXPECT_EQ(c["kind"], "changed");
      EXPECT_NE(c["detail"].get<std::string>().find("IMPORTANT"), std::string::npos) << c.dump();
    }
  }
  EXPECT_TRUE(found) << j.dump();
  ASSERT_TRUE(j["warnings"].is_array());
  ASSERT_EQ(j["warnings"].size(), 1u) << "only acme's route changes: " << j.dump();
  const json& w = j["warnings"][0];
  EXPECT_EQ(w["exporter"], "acme");
  EXPECT_EQ(w["route"]["category"], "logistics.track");
  EXPECT_EQ(w["before"]["decision"], "FAST");
  EXPECT_EQ(w["after"]["decision"], "REVIEW");
  EXPECT_FALSE(w["reason"].get<std::string>().empty());
  EXPECT_EQ(j["old"]["digest"].get<std::string>().size(), 64u);
  EXPECT_NE(j["old"]["digest"], j["new"]["digest"]);

  RunResult r =
      Beibu({"policy", "diff", BaselineDir(), changed.string(), "--routes", Path("routes.jsonl")});
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_NE(r.out.find("~ category logistics.track"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 risk warning"), std::string::npos) << r.out;

  // Same database: no changes.
  json same = BeibuJson({"policy", "diff", BaselineDir(), BaselineDir()});
  EXPECT_TRUE(same["changes"].empty()) << same.dump();
}

TEST_F(PolicyCliTest, PolicyDirFromOptionAndEnvironment) {
  fs::path changed = CopyBaseline("new");
  RaiseLogisticsTrack(changed);
  const std::vector<std::string> route = {"route",      "--from",          "CN",    "--to", "SG",
                                          "--category", "logistics.track", "--json"};
  json baseline =
      BeibuJson({"route", "--from", "CN", "--to", "SG", "--category", "logistics.track"});
  EXPECT_EQ(baseline["decision"], "FAST");

  std::vector<std::string> args = route;
  args.insert(args.begin() + 1, {"--policy", changed.string()});
  RunResult r = Beibu(args);
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_EQ(j["decision"], "REVIEW") << r.out;
  EXPECT_EQ(j["level"], "IMPORTANT");
  EXPECT_NE(j["policy_digest"], baseline["policy_digest"]);

  args = {"env", "BEIBU_POLICY_DIR=" + changed.string(), BinPath("beibu")};
  args.insert(args.end(), route.begin(), route.end());
  r = testing::Run(args);
  ASSERT_EQ(r.exit_code, kOk) << r.err;
  j = json::parse(r.out, nullptr, false);
  EXPECT_EQ(j["decision"], "REVIEW") << "BEIBU_POLICY_DIR is used: " << r.out;

  r = testing::Run(
      {"env", "BEIBU_POLICY_DIR=" + Path("no-such-dir"), BinPath("beibu"), "policy", "show"});
  EXPECT_EQ(r.exit_code, kUsage) << r.out;
  EXPECT_NE(r.err.find("no-such-dir"), std::string::npos) << r.err;
}

TEST_F(PolicyCliTest, DiffBadRoutesFileExit2WithLine) {
  WriteFile(dir_ / "routes.jsonl",
            "{\"from\":\"CN\",\"to\":\"SG\",\"category\":\"customer.contact\"}\n"
            "{\"from\":\"CN\",\"to\":\"SG\",\"category\":\"customer.contact\",\"colour\":1}\n");
  RunResult r =
      Beibu({"policy", "diff", BaselineDir(), BaselineDir(), "--routes", Path("routes.jsonl")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("routes.jsonl:2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("colour"), std::string::npos) << r.err;

  WriteFile(dir_ / "bad.jsonl", "not json\n");
  r = Beibu({"policy", "diff", BaselineDir(), BaselineDir(), "--routes", Path("bad.jsonl")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("bad.jsonl:1:"), std::string::npos) << r.err;

  r = Beibu({"policy", "diff", BaselineDir(), Path("no-such-dir")});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;
}

// --- help and usage ----------------------------------------------------------

TEST_F(PolicyCliTest, EveryCommandHasHelpWithAnExample) {
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{{"scan"},
                                                                            {"route"},
                                                                            {"mask"},
                                                                            {"policy", "lint"},
                                                                            {"policy", "diff"},
                                                                            {"policy", "show"}}) {
    cmd.push_back("--help");
    RunResult r = Beibu(cmd);
    EXPECT_EQ(r.exit_code, kOk) << cmd[0];
    EXPECT_NE(r.out.find("Example"), std::string::npos) << cmd[0] << ": " << r.out;
  }
  RunResult r = Beibu({"policy"});
  EXPECT_EQ(r.exit_code, kUsage) << "a subcommand is required";
}

TEST_F(PolicyCliTest, ScanBadInputExit2) {
  RunResult r = Beibu({"scan", "--policy", BaselineDir(), Path("missing.txt")});
  EXPECT_EQ(r.exit_code, kUsage);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
  r = Beibu({"scan", "--policy", BaselineDir(), "--format", "xml", "-"}, "x");
  EXPECT_EQ(r.exit_code, kUsage);
  r = Beibu({"scan", "--policy", BaselineDir(), dir_.path().string()});
  EXPECT_EQ(r.exit_code, kUsage) << "a directory is not a file";
}

}  // namespace
}  // namespace beibu
