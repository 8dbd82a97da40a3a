// `beibu audit ...`: the audit log from the outside. Today: `verify-proof`,
// the offline check of an inclusion or consistency proof that anyone can run
// without a node or a trust bundle (docs/merkle.md). The regulator commands
// (query, tail, export) join this group as further Add*() functions.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "beibu/crypto/bytes.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"
#include "commands.h"

namespace beibu::cli {
namespace {

using nlohmann::json;

// A proof file is a few KiB at most (64 hashes of 64 hex digits); anything
// far bigger is not one.
constexpr size_t kMaxProofFileSize = size_t{1} << 20;

// --- Errors and exit codes ---------------------------------------------------
//
// UNAUTHENTICATED: the check ran and failed (exit 1). INVALID_ARGUMENT and the
// other user-input codes: malformed input or bad arguments (exit 2). Anything
// else: a runtime failure such as a read error (exit 3).

// --- Input -------------------------------------------------------------------

// The whole of `path` ("-" = standard input), at most `limit` bytes.
absl::StatusOr<std::string> ReadWhole(const std::string& path, size_t limit) {
  const bool is_stdin = path == "-";
  const std::string name = is_stdin ? "standard input" : "'" + path + "'";
  int fd = STDIN_FILENO;
  if (!is_stdin) {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      std::string msg = absl::StrCat("cannot open ", name, ": ", std::strerror(err));
      if (err == ENOENT) return absl::NotFoundError(msg);
      if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
      return absl::InvalidArgumentError(msg);
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(name, " is a directory; give a proof file"));
    }
  }
  std::string data;
  absl::Status status;
  char buf[16384];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      status =
          absl::DataLossError(absl::StrCat("error reading ", name, ": ", std::strerror(errno)));
      break;
    }
    if (r == 0) break;
    data.append(buf, static_cast<size_t>(r));
    if (data.size() > limit) {
      status = absl::InvalidArgumentError(
          absl::StrCat(name, " is larger than ", limit >> 10, " KiB: not a proof file"));
      break;
    }
  }
  if (!is_stdin) close(fd);
  if (!status.ok()) return status;
  return data;
}

// --- The proof JSON ----------------------------------------------------------

absl::Status Malformed(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed proof: ", what));
}

// Thrown from the parser callback to stop at the first duplicate key or at
// nesting deeper than the format has.
struct Refused {
  std::string why;
};

// Parses `text` as JSON, refusing duplicate keys (a second parser could pick
// the other value) and nesting deeper than object > array > string.
absl::StatusOr<json> ParseStrict(const std::string& text) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  json::parser_callback_t cb = [&keys](int depth, json::parse_event_t event, json& parsed) {
    if (depth > 2) throw Refused{"nested deeper than the format allows"};
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
          throw Refused{absl::StrCat("duplicate field \"", parsed.get<std::string>(), "\"")};
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text, cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Refused& r) {
    return Malformed(r.why);
  } catch (const json::exception& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, ...".
    std::string what = e.what();
    if (size_t p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return Malformed(absl::StrCat("not JSON: ", what));
  }
}

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
      return "a negative number";
    case json::value_t::number_unsigned:
      return "a number";
    case json::value_t::number_float:
      return "a non-integer or too large number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "something else";
  }
}

// Checks that `obj` has exactly the fields `want`.
absl::Status CheckFields(const json& obj, const std::vector<std::string>& want,
                         const std::string& type) {
  for (const std::string& f : want) {
    if (!obj.contains(f)) {
      return Malformed(absl::StrCat("missing field \"", f, "\" (", type, " proofs have ",
                                    absl::StrJoin(want, ", "), ")"));
    }
  }
  for (const auto& [key, value] : obj.items()) {
    if (std::find(want.begin(), want.end(), key) == want.end()) {
      return Malformed(absl::StrCat("unknown field \"", key, "\" in ", type, " proofs (they have ",
                                    absl::StrJoin(want, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// A size or index: a JSON integer >= 0 that fits in 64 bits.
absl::StatusOr<uint64_t> GetCount(const json& obj, const std::string& field) {
  const json& v = obj.at(field);
  if (!v.is_number_unsigned()) {
    return Malformed(absl::StrCat(
        "field \"", field, "\" must be a non-negative integer below 2^64, not ", TypeName(v)));
  }
  return v.get<uint64_t>();
}

// An SM3 hash: exactly 64 lowercase hex digits.
absl::StatusOr<Bytes> ParseHash(const json& v, const std::string& where) {
  if (!v.is_string()) {
    return Malformed(
        absl::StrCat(where, " must be a string of 64 lowercase hex digits, not ", TypeName(v)));
  }
  const std::string& s = v.get_ref<const std::string&>();
  for (char c : s) {
    if (c >= 'A' && c <= 'F') {
      return Malformed(absl::StrCat(where, " has uppercase hex; write it in lowercase"));
    }
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Malformed(absl::StrCat(where, " is not hex (contains a character outside 0-9a-f)"));
    }
  }
  if (s.size() % 2 != 0) {
    return Malformed(absl::StrCat(where, " has an odd number of hex digits (", s.size(), ")"));
  }
  if (s.size() != 2 * merkle::Sm3Hasher().size()) {
    return Malformed(absl::StrCat(where, " is ", s.size() / 2,
                                  " bytes; an SM3 hash is 32 bytes (64 hex digits)"));
  }
  absl::StatusOr<Bytes> b = HexDecode(s);
  if (!b.ok()) return Malformed(absl::StrCat(where, ": ", std::string(b.status().message())));
  return b;
}

absl::StatusOr<Bytes> GetHash(const json& obj, const std::string& field) {
  return ParseHash(obj.at(field), absl::StrCat("field \"", field, "\""));
}

absl::StatusOr<std::vector<Bytes>> GetPath(const json& obj) {
  const json& v = obj.at("path");
  if (!v.is_array()) {
    return Malformed(absl::StrCat("field \"path\" must be an array of hashes, not ", TypeName(v)));
  }
  std::vector<Bytes> path;
  for (size_t i = 0; i < v.size(); ++i) {
    absl::StatusOr<Bytes> h = ParseHash(v[i], absl::StrCat("path[", i, "]"));
    if (!h.ok()) return h.status();
    path.push_back(*std::move(h));
  }
  return path;
}

// A verifier's answer as this command reports it: any failure of a
// well-formed proof is "invalid" (exit 1) with the verifier's reason.
absl::Status Verdict(const absl::Status& s) {
  if (s.ok()) return s;
  return absl::UnauthenticatedError(absl::StrCat("invalid: ", std::string(s.message())));
}

absl::Status VerifyInclusionJson(const json& doc) {
  if (absl::Status s = CheckFields(doc, {"type", "leaf_hash", "index", "tree_size", "root", "path"},
                                   "inclusion");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<Bytes> leaf = GetHash(doc, "leaf_hash");
  if (!leaf.ok()) return leaf.status();
  absl::StatusOr<uint64_t> index = GetCount(doc, "index");
  if (!index.ok()) return index.status();
  absl::StatusOr<uint64_t> size = GetCount(doc, "tree_size");
  if (!size.ok()) return size.status();
  absl::StatusOr<Bytes> root = GetHash(doc, "root");
  if (!root.ok()) return root.status();
  absl::StatusOr<std::vector<Bytes>> path = GetPath(doc);
  if (!path.ok()) return path.status();
  return Verdict(merkle::VerifyInclusion(merkle::Sm3Hasher(), *index, *size, *leaf, *path, *root));
}

absl::Status VerifyConsistencyJson(const json& doc) {
  if (absl::Status s = CheckFields(
          doc, {"type", "old_size", "new_size", "old_root", "new_root", "path"}, "consistency");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<uint64_t> old_size = GetCount(doc, "old_size");
  if (!old_size.ok()) return old_size.status();
  absl::StatusOr<uint64_t> new_size = GetCount(doc, "new_size");
  if (!new_size.ok()) return new_size.status();
  absl::StatusOr<Bytes> old_root = GetHash(doc, "old_root");
  if (!old_root.ok()) return old_root.status();
  absl::StatusOr<Bytes> new_root = GetHash(doc, "new_root");
  if (!new_root.ok()) return new_root.status();
  absl::StatusOr<std::vector<Bytes>> path = GetPath(doc);
  if (!path.ok()) return path.status();
  return Verdict(merkle::VerifyConsistency(merkle::Sm3Hasher(), *old_size, *new_size, *old_root,
                                           *new_root, *path));
}

absl::Status RunVerifyProof(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWhole(path, kMaxProofFileSize);
  if (!text.ok()) return text.status();
  absl::StatusOr<json> doc = ParseStrict(*text);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return Malformed(absl::StrCat("the top level must be an object, not ", TypeName(*doc)));
  }
  auto type = doc->find("type");
  if (type == doc->end()) return Malformed("missing field \"type\" (inclusion or consistency)");
  if (!type->is_string()) {
    return Malformed(absl::StrCat("field \"type\" must be a string, not ", TypeName(*type)));
  }
  absl::Status s;
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "inclusion") {
    s = VerifyInclusionJson(*doc);
  } else if (t == "consistency") {
    s = VerifyConsistencyJson(*doc);
  } else {
    return Malformed(
        absl::StrCat("field \"type\" is \"", t, "\"; it must be \"inclusion\" or \"consistency\""));
  }
  if (!s.ok()) return s;
  std::fputs("valid\n", stdout);
  if (std::fflush(stdout) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot write standard output: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// --- Command-line wiring -----------------------------------------------------

constexpr char kVerifyProofFooter[] =
    R"(The proof is one JSON object, hashes as 64 lowercase hex digits (SM3):
  {"type":"inclusion","leaf_hash":HEX,"index":N,"tree_size":N,"root":HEX,"path":[HEX,...]}
  {"type":"consistency","old_size":N,"new_size":N,"old_root":HEX,"new_root":HEX,"path":[HEX,...]}
leaf_hash is SM3(0x00 || entry); N are integers >= 0; no other fields are allowed.
An inclusion proof shows that the entry with leaf_hash is number `index` (from 0) of
the log whose first tree_size entries have root `root`. A consistency proof shows that
the log of old_size entries with old_root is a prefix of the one of new_size entries
with new_root (RFC 9162 section 2.1). This command checks only the proof: a root means
something together with its tree size, as a checkpoint signed by the node gives both.
Exit status: 0 valid (prints "valid"); 1 invalid (reason on stderr); 2 malformed JSON,
missing, extra or mistyped fields, uppercase or wrong-length hex, negative numbers,
unreadable FILE; 3 I/O failure.)";

void AddVerifyProof(CLI::App& audit, int* exit_code) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = audit.add_subcommand(
      "verify-proof", "Check a Merkle inclusion or consistency proof offline; print \"valid\"");
  cmd->add_option("FILE", *path, "Proof JSON file; - for standard input")->required();
  cmd->footer(kVerifyProofFooter);
  cmd->callback(
      [path, exit_code] { FinishCommand("audit verify-proof", RunVerifyProof(*path), exit_code); });
}

}  // namespace

void AddAuditCommands(CLI::App& app, int* exit_code) {
  CLI::App* audit = app.add_subcommand(
      "audit",
      "The tamper-evident audit log: check its Merkle proofs offline; regulators query, "
      "tail and export it");
  audit->require_subcommand(1);
  audit->footer(
      "Every node keeps an append-only Merkle log of audit events and notarized documents\n"
      "(RFC 9162 trees with SM3; see docs/merkle.md). `verify-proof` needs no node and no\n"
      "keys: anyone holding a proof and the roots it names can check it.\n"
      "Exit status: 0 ok, 1 check failed, 2 bad arguments or input, 3 I/O failure.");
  AddVerifyProof(*audit, exit_code);
  AddAuditQueryCommands(*audit, exit_code);
}

}  // namespace beibu::cli
