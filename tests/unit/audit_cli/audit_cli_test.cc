// `beibu audit verify-proof`: proofs made with common/merkle verify (exit 0),
// corrupted ones are invalid (exit 1), malformed files are refused (exit 2).
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "beibu/crypto/bytes.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu {
namespace {

using nlohmann::json;
using testing::BinPath;
using testing::RunResult;
using testing::TempDir;
using testing::WriteFile;

constexpr int kOk = 0, kInvalid = 1, kUsage = 2;

// A log of kSize SM3 leaves with every perfect node kept in memory.
class Log {
 public:
  static constexpr uint64_t kSize = 40;

  Log() : appender_(merkle::Sm3Hasher()) {
    for (uint64_t i = 0; i < kSize; ++i) {
      leaves_.push_back(merkle::Sm3Hasher().HashLeaf(ToBytes("event " + std::to_string(i))));
      appender_.Append(leaves_.back(), [this](uint32_t level, uint64_t index, ByteView hash) {
        if (levels_.size() <= level) levels_.resize(level + 1);
        levels_[level].emplace_back(hash.begin(), hash.end());
      });
    }
  }

  merkle::NodeSource Source() const {
    return [this](uint32_t level, uint64_t index) -> absl::StatusOr<Bytes> {
      return levels_.at(level).at(index);
    };
  }

  Bytes Root(uint64_t size) const { return *merkle::RootAt(merkle::Sm3Hasher(), Source(), size); }
  const Bytes& Leaf(uint64_t i) const { return leaves_[i]; }

  json Inclusion(uint64_t index, uint64_t size) const {
    auto proof = merkle::InclusionProof(merkle::Sm3Hasher(), Source(), index, size);
    EXPECT_TRUE(proof.ok()) << proof.status();
    return {{"type", "inclusion"},         {"leaf_hash", HexEncode(Leaf(index))},
            {"index", index},              {"tree_size", size},
            {"root", HexEncode(Root(size))}, {"path", HexList(*proof)}};
  }

  json Consistency(uint64_t old_size, uint64_t new_size) const {
    auto proof = merkle::ConsistencyProof(merkle::Sm3Hasher(), Source(), old_size, new_size);
    EXPECT_TRUE(proof.ok()) << proof.status();
    return {{"type", "consistency"},
            {"old_size", old_size},
            {"new_size", new_size},
            {"old_root", HexEncode(Root(old_size))},
            {"new_root", HexEncode(Root(new_size))},
            {"path", HexList(*proof)}};
  }

 private:
  static json HexList(const std::vector<Bytes>& v) {
    json a = json::array();
    for (const Bytes& b : v) a.push_back(HexEncode(b));
    return a;
  }

  merkle::Appender appender_;
  std::vector<Bytes> leaves_;
  std::vector<std::vector<Bytes>> levels_;
};

// Flips the lowest bit of the hex digit at `pos`.
std::string FlipHex(std::string hex, size_t pos) {
  const char* digits = "0123456789abcdef";
  int v = static_cast<int>(std::string_view(digits).find(hex[pos]));
  hex[pos] = digits[v ^ 1];
  return hex;
}

class AuditCliTest : public ::testing::Test {
 protected:
  // Runs `beibu audit verify-proof` on `text` written to a file.
  RunResult VerifyText(const std::string& text) {
    WriteFile(dir_ / "proof.json", text);
    return testing::Run({BinPath("beibu"), "audit", "verify-proof", (dir_ / "proof.json").string()});
  }
  RunResult Verify(const json& doc) { return VerifyText(doc.dump()); }

  void ExpectValid(const json& doc) {
    RunResult r = Verify(doc);
    EXPECT_EQ(r.exit_code, kOk) << doc.dump() << "\n" << r.err;
    EXPECT_EQ(r.out, "valid\n");
    EXPECT_EQ(r.err, "");
  }
  void ExpectInvalid(const json& doc, const std::string& what, const std::string& reason = "") {
    RunResult r = Verify(doc);
    EXPECT_EQ(r.exit_code, kInvalid) << what << ": " << doc.dump() << "\n" << r.out << r.err;
    EXPECT_EQ(r.out, "") << what;
    EXPECT_NE(r.err.find("invalid: "), std::string::npos) << what << ": " << r.err;
    if (!reason.empty()) {
      EXPECT_NE(r.err.find(reason), std::string::npos) << what << ": " << r.err;
    }
  }
  void ExpectMalformedText(const std::string& text, const std::string& what,
                           const std::string& reason = "") {
    RunResult r = VerifyText(text);
    EXPECT_EQ(r.exit_code, kUsage) << what << ": " << text << "\n" << r.out << r.err;
    EXPECT_EQ(r.out, "") << what;
    if (!reason.empty()) {
      EXPECT_NE(r.err.find(reason), std::string::npos) << what << ": " << r.err;
    }
  }
  void ExpectMalformed(const json& doc, const std::string& what, const std::string& reason = "") {
    ExpectMalformedText(doc.dump(), what, reason);
  }

  TempDir dir_;
  Log log_;
};

TEST_F(AuditCliTest, ValidInclusionProofs) {
  for (uint64_t n : {1u, 2u, 7u, 8u, 9u, 40u}) {
    for (uint64_t i : {uint64_t{0}, n / 2, n - 1}) ExpectValid(log_.Inclusion(i, n));
  }
}

TEST_F(AuditCliTest, ValidConsistencyProofs) {
  for (auto [m, n] : std::vector<std::pair<uint64_t, uint64_t>>{
           {1, 1}, {1, 2}, {3, 7}, {4, 8}, {6, 8}, {7, 40}, {32, 40}, {40, 40}}) {
    ExpectValid(log_.Consistency(m, n));
  }
  // From the empty tree: empty proof, the empty root (SM3 of nothing).
  json d = log_.Consistency(5, 9);
  d["old_size"] = 0;
  d["old_root"] = HexEncode(merkle::Sm3Hasher().EmptyRoot());
  d["path"] = json::array();
  ExpectValid(d);
}

// The exact documented layout, written by hand, and from standard input.
TEST_F(AuditCliTest, DocumentedLayoutAndStdin) {
  json d = log_.Inclusion(5, 13);
  std::string text = "{\"type\":\"inclusion\",\"leaf_hash\":\"" + d["leaf_hash"].get<std::string>() +
                     "\",\"index\":5,\"tree_size\":13,\"root\":\"" + d["root"].get<std::string>() +
                     "\",\"path\":[";
  for (size_t i = 0; i < d["path"].size(); ++i) {
    text += (i ? ",\"" : "\"") + d["path"][i].get<std::string>() + "\"";
  }
  text += "]}\n";
  RunResult r = VerifyText(text);
  EXPECT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out, "valid\n");

  r = testing::Run({BinPath("beibu"), "audit", "verify-proof", "-"}, log_.Consistency(3, 13).dump(2));
  EXPECT_EQ(r.exit_code, kOk) << r.err;
  EXPECT_EQ(r.out, "valid\n");
  json bad = log_.Consistency(3, 13);
  bad["new_size"] = 12;
  bad["new_root"] = HexEncode(log_.Root(12));
  r = testing::Run({BinPath("beibu"), "audit", "verify-proof", "-"}, bad.dump());
  EXPECT_EQ(r.exit_code, kInvalid) << r.err;
  r = testing::Run({BinPath("beibu"), "audit", "verify-proof", "-"}, "{");
  EXPECT_EQ(r.exit_code, kUsage) << r.err;
}

TEST_F(AuditCliTest, CorruptedInclusionProofsAreInvalid) {
  const json good = log_.Inclusion(5, 13);
  ExpectValid(good);
  auto with = [&](const std::function<void(json&)>& change) {
    json d = good;
    change(d);
    return d;
  };
  ExpectInvalid(with([](json& d) { d["index"] = 4; }), "index - 1", "root mismatch");
  ExpectInvalid(with([](json& d) { d["index"] = 6; }), "index + 1", "root mismatch");
  ExpectInvalid(with([&](json& d) {
                  d["tree_size"] = 14;
                  d["root"] = HexEncode(log_.Root(14));
                }),
                "size + 1");
  ExpectInvalid(with([&](json& d) {
                  d["tree_size"] = 12;
                  d["root"] = HexEncode(log_.Root(12));
                }),
                "size - 1");
  ExpectInvalid(with([](json& d) { d["index"] = 13; }), "index = size", "not below tree size");
  ExpectInvalid(with([](json& d) { d["index"] = 100; }), "index > size");
  ExpectInvalid(with([](json& d) { d["tree_size"] = 0; }), "size 0");
  ExpectInvalid(with([&](json& d) { d["leaf_hash"] = HexEncode(log_.Leaf(6)); }), "other leaf");
  ExpectInvalid(with([&](json& d) { d["root"] = HexEncode(log_.Root(12)); }), "other root");
  ExpectInvalid(with([&](json& d) { std::swap(d["leaf_hash"], d["root"]); }), "leaf/root swapped");
  for (size_t i = 0; i < good["path"].size(); ++i) {
    const std::string k = std::to_string(i);
    ExpectInvalid(with([&](json& d) { d["path"][i] = FlipHex(d["path"][i], 63 - i); }),
                  "bit flipped in path " + k, "root mismatch");
    ExpectInvalid(with([&](json& d) { d["path"].erase(i); }), "path " + k + " removed",
                  "wrong proof length");
  }
  ExpectInvalid(with([](json& d) { d["path"].push_back(d["root"]); }), "hash added",
                "wrong proof length");
  ExpectInvalid(with([](json& d) { d["path"] = json::array(); }), "empty path",
                "wrong proof length");
  ExpectInvalid(with([](json& d) { std::swap(d["path"][0], d["path"][1]); }), "swapped");
  ExpectInvalid(with([](json& d) { d["leaf_hash"] = FlipHex(d["leaf_hash"], 0); }), "leaf bit");
  ExpectInvalid(with([](json& d) { d["root"] = FlipHex(d["root"], 31); }), "root bit");
}

TEST_F(AuditCliTest, CorruptedConsistencyProofsAreInvalid) {
  const json good = log_.Consistency(6, 13);
  ExpectValid(good);
  auto with = [&](const std::function<void(json&)>& change) {
    json d = good;
    change(d);
    return d;
  };
  ExpectInvalid(with([](json& d) { std::swap(d["old_root"], d["new_root"]); }), "roots swapped",
                "root mismatch");
  ExpectInvalid(with([&](json& d) {
                  d["old_size"] = 7;
                  d["old_root"] = HexEncode(log_.Root(7));
                }),
                "old size + 1");
  ExpectInvalid(with([&](json& d) {
                  d["old_size"] = 5;
                  d["old_root"] = HexEncode(log_.Root(5));
                }),
                "old size - 1");
  ExpectInvalid(with([&](json& d) {
                  d["new_size"] = 14;
                  d["new_root"] = HexEncode(log_.Root(14));
                }),
                "new size + 1");
  ExpectInvalid(with([&](json& d) {
                  d["new_size"] = 12;
                  d["new_root"] = HexEncode(log_.Root(12));
                }),
                "new size - 1");
  ExpectInvalid(with([](json& d) { d["old_size"] = 14; }), "old > new", "larger than new size");
  ExpectInvalid(with([](json& d) { d["old_size"] = 0; }), "from empty with a proof");
  ExpectInvalid(with([](json& d) { d["new_size"] = 6; }), "equal sizes with a proof");
  for (size_t i = 0; i < good["path"].size(); ++i) {
    const std::string k = std::to_string(i);
    ExpectInvalid(with([&](json& d) { d["path"][i] = FlipHex(d["path"][i], 2 * i); }),
                  "bit flipped in path " + k, "root mismatch");
    ExpectInvalid(with([&](json& d) { d["path"].erase(i); }), "path " + k + " removed");
  }
  ExpectInvalid(with([](json& d) { d["path"].push_back(d["new_root"]); }), "hash added");
  ExpectInvalid(with([](json& d) {
                  json p = d["path"];
                  p.erase(p.size() - 1);
                  d["path"] = p;
                }),
                "truncated");
  json same = log_.Consistency(9, 9);
  same["new_root"] = HexEncode(log_.Root(10));
  ExpectInvalid(same, "equal sizes, different roots", "root mismatch");
}

TEST_F(AuditCliTest, MalformedInputIsRefused) {
  const json inc = log_.Inclusion(2, 5);
  const json con = log_.Consistency(2, 5);
  auto with = [](json d, const std::function<void(json&)>& change) {
    change(d);
    return d;
  };
  // Not JSON, or not the shape.
  ExpectMalformedText("", "empty file", "not JSON");
  ExpectMalformedText("{", "truncated JSON", "not JSON");
  ExpectMalformedText(inc.dump() + "x", "trailing garbage", "not JSON");
  ExpectMalformedText(inc.dump() + inc.dump(), "two documents", "not JSON");
  ExpectMalformedText("[1,2]", "array", "top level must be an object");
  ExpectMalformedText("\"inclusion\"", "string", "top level must be an object");
  ExpectMalformedText("{\"type\":\"inclusion\",\"type\":\"inclusion\"}", "duplicate type",
                      "duplicate field");
  std::string dup = inc.dump();
  dup.insert(1, "\"index\":3,");
  ExpectMalformedText(dup, "duplicate index", "duplicate field \"index\"");
  ExpectMalformedText("{\"type\":\"inclusion\" // c\n}", "comment", "not JSON");
  ExpectMalformedText("{\"type\":\"inclusion\",\"path\":[[[\"00\"]]]}", "deep nesting");
  // type
  ExpectMalformed(with(inc, [](json& d) { d.erase("type"); }), "no type", "missing field \"type\"");
  ExpectMalformed(with(inc, [](json& d) { d["type"] = "Inclusion"; }), "type case");
  ExpectMalformed(with(inc, [](json& d) { d["type"] = "audit"; }), "unknown type");
  ExpectMalformed(with(inc, [](json& d) { d["type"] = 1; }), "type number");
  // Missing, extra and mistyped fields.
  for (const char* f : {"leaf_hash", "index", "tree_size", "root", "path"}) {
    ExpectMalformed(with(inc, [&](json& d) { d.erase(f); }), std::string("no ") + f,
                    "missing field");
  }
  for (const char* f : {"old_size", "new_size", "old_root", "new_root", "path"}) {
    ExpectMalformed(with(con, [&](json& d) { d.erase(f); }), std::string("no ") + f,
                    "missing field");
  }
  ExpectMalformed(with(inc, [](json& d) { d["comment"] = "x"; }), "extra field", "unknown field");
  ExpectMalformed(with(inc, [](json& d) { d["old_size"] = 1; }), "consistency field in inclusion",
                  "unknown field");
  ExpectMalformed(with(con, [](json& d) { d["index"] = 1; }), "inclusion field in consistency",
                  "unknown field");
  ExpectMalformed(with(inc, [](json& d) { d["index"] = "2"; }), "index as string");
  ExpectMalformed(with(inc, [](json& d) { d["index"] = 2.0; }), "index as float");
  ExpectMalformed(with(inc, [](json& d) { d["index"] = true; }), "index as bool");
  ExpectMalformed(with(inc, [](json& d) { d["index"] = nullptr; }), "index null");
  ExpectMalformed(with(inc, [](json& d) { d["index"] = -1; }), "negative index", "negative");
  ExpectMalformed(with(inc, [](json& d) { d["tree_size"] = -5; }), "negative size", "negative");
  ExpectMalformed(with(con, [](json& d) { d["old_size"] = -2; }), "negative old size", "negative");
  std::string huge = inc.dump();
  huge.replace(huge.find("\"index\":2"), 9, "\"index\":18446744073709551616");  // 2^64
  ExpectMalformedText(huge, "index 2^64");
  std::string neg_zero = inc.dump();
  neg_zero.replace(neg_zero.find("\"index\":2"), 9, "\"index\":-0");
  ExpectMalformedText(neg_zero, "index -0");
  ExpectMalformed(with(inc, [](json& d) { d["path"] = d["path"][0]; }), "path not array");
  ExpectMalformed(with(inc, [](json& d) { d["path"][0] = 7; }), "path element number",
                  "path[0]");
  ExpectMalformed(with(inc, [](json& d) { d["root"] = json::array(); }), "root array");
  // Hex: uppercase, odd, wrong length, not hex.
  auto upper = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  ExpectMalformed(with(inc, [&](json& d) { d["root"] = upper(d["root"]); }), "uppercase root",
                  "lowercase");
  ExpectMalformed(with(inc, [&](json& d) { d["path"][1] = upper(d["path"][1]); }),
                  "uppercase path", "lowercase");
  ExpectMalformed(with(inc, [](json& d) { d["leaf_hash"] = d["leaf_hash"].get<std::string>() + "0"; }),
                  "odd hex", "odd number");
  ExpectMalformed(with(inc, [](json& d) { d["leaf_hash"] = d["leaf_hash"].get<std::string>().substr(1); }),
                  "odd hex short", "odd number");
  ExpectMalformed(with(inc, [](json& d) { d["root"] = d["root"].get<std::string>().substr(2); }),
                  "31-byte root", "32 bytes");
  ExpectMalformed(with(inc, [](json& d) { d["path"][0] = d["path"][0].get<std::string>() + "00"; }),
                  "33-byte path hash", "32 bytes");
  ExpectMalformed(with(con, [](json& d) { d["old_root"] = ""; }), "empty hash", "32 bytes");
  ExpectMalformed(with(inc, [](json& d) {
                    std::string s = d["root"];
                    s[10] = 'g';
                    d["root"] = s;
                  }),
                  "not hex", "not hex");
  ExpectMalformed(with(inc, [](json& d) { d["root"] = " " + d["root"].get<std::string>(); }),
                  "space in hex");
  // Files that are not there or not files.
  RunResult r = testing::Run(
      {BinPath("beibu"), "audit", "verify-proof", (dir_ / "missing.json").string()});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;
  r = testing::Run({BinPath("beibu"), "audit", "verify-proof", dir_.path().string()});
  EXPECT_EQ(r.exit_code, kUsage) << r.err;
  ExpectMalformedText(std::string(2 << 20, ' '), "2 MiB file", "not a proof file");
}

TEST_F(AuditCliTest, HelpAndUsage) {
  RunResult r = testing::Run({BinPath("beibu"), "audit", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("verify-proof"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Merkle"), std::string::npos) << r.out;
  r = testing::Run({BinPath("beibu"), "audit", "verify-proof", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"type\":\"inclusion\",\"leaf_hash\":HEX"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"type\":\"consistency\",\"old_size\":N"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
  r = testing::Run({BinPath("beibu"), "audit"});
  EXPECT_EQ(r.exit_code, kUsage);
  r = testing::Run({BinPath("beibu"), "audit", "verify-proof"});
  EXPECT_EQ(r.exit_code, kUsage);
  r = testing::Run({BinPath("beibu"), "--help"});
  EXPECT_NE(r.out.find("audit"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace beibu
