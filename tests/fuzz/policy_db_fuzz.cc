// Fuzzes the policy database loader. The input is split at 0xFF bytes (never
// valid in UTF-8, so no seed needs escaping) into up to kPaths.size() files
// mapped onto the layout's paths in order; an empty piece leaves that file
// out. LoadDatabase must return OK or an error, never crash; a database that
// loads must carry the digest of its files.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <cstdlib>
#include <fstream>

#include "beibu/policy/database.h"

using namespace beibu;  // NOLINT: test code

namespace {

constexpr std::array<const char*, 9> kPaths = {"manifest.yaml",         "taxonomy.yaml",
                                               "profiles.yaml",         "rules.yaml",
                                               "jurisdictions/CN.yaml", "jurisdictions/VN.yaml",
                                               "jurisdictions/SG.yaml", "negative-lists/gx.yaml",
                                               "authorization.yaml"};
// The baseline has no authorization.yaml yet: this one seeds its parser.
constexpr char kAuthorizationSeed[] =
    R"(default: {approvals: 2, roles: [source_officer, destination_officer], deadline_hours: 72}
rules:
  - id: AUTH-HEALTH-VN-CN
    from: [VN]
    to: [CN]
    categories: [health.*]
    levels: [IMPORTANT]
    approvals: 2
    roles: [source_officer, destination_officer, data_owner]
    deadline_hours: 48
)";
constexpr char kSeparator = '\xFF';

// The repo's seed convention (tests/fuzz/fuzz_pki.h, not included here
// because it pulls in the channel library): with BEIBU_FUZZ_SEED_DIR set,
// writes `bytes` there as a seed input.
void MaybeWriteSeed(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("BEIBU_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << bytes;
}

// The baseline files at kPaths joined by the separator. The jurisdictions
// left out (all but CN, VN, SG) are referenced by no kept file, so the joined
// seed still loads.
std::string Join(const policy::PolicyFiles& files) {
  std::string out;
  for (size_t i = 0; i < kPaths.size(); ++i) {
    if (i > 0) out += kSeparator;
    auto it = files.find(kPaths[i]);
    if (it != files.end()) out += it->second;
  }
  return out;
}

policy::PolicyFiles Split(std::string_view data) {
  policy::PolicyFiles files;
  size_t index = 0;
  while (index < kPaths.size()) {
    const size_t end = data.find(kSeparator);
    std::string_view piece = data.substr(0, end);
    if (!piece.empty()) files.emplace(kPaths[index], std::string(piece));
    ++index;
    if (end == std::string_view::npos) break;
    data.remove_prefix(end + 1);
  }
  return files;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  policy::PolicyFiles baseline = policy::BaselineFiles();
  baseline.emplace("authorization.yaml", kAuthorizationSeed);
  const std::string joined = Join(baseline);
  // The seed must load, or the fuzzer starts from errors only.
  if (!policy::LoadDatabase(Split(joined)).ok()) __builtin_trap();
  MaybeWriteSeed("policy_baseline", joined);
  // Each file alone as well, so mutations reach every file's parser early.
  for (size_t i = 0; i < kPaths.size(); ++i) {
    auto it = baseline.find(kPaths[i]);
    if (it == baseline.end()) continue;
    std::string only(i, kSeparator);
    only += it->second;
    MaybeWriteSeed("policy_file_" + std::to_string(i), only);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const policy::PolicyFiles files =
      Split(std::string_view(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<policy::Database> db = policy::LoadDatabase(files);
  if (db.ok() && db->digest_hex != policy::ContentDigest(files)) __builtin_trap();
  if (!db.ok() && db.status().message().empty()) __builtin_trap();
  return 0;
}
