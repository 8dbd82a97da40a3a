// A strict reader over yaml-cpp nodes for the policy database loader: every
// accessor checks the node's type, records which keys were read so that
// Finish() can refuse unknown ones, and turns every problem into one
// "<relative path>:<line>: <reason>" error. The first error of a file sticks
// and later calls become no-ops, so the loader can read a whole structure and
// check ok() once instead of after every key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "yaml-cpp/yaml.h"

namespace beibu::policy::internal {

// One policy file being read: its relative path and its first error.
class YamlFile {
 public:
  explicit YamlFile(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

  // Records INVALID_ARGUMENT "<path>:<line>: <reason>" unless an error is
  // already recorded.
  void Fail(int line, const std::string& reason);

  // 1-based line of a node (1 when yaml-cpp has no position for it).
  static int Line(const YAML::Node& node);

 private:
  std::string path_;
  absl::Status status_;
};

// Parses `bytes` as exactly one YAML document. Checks UTF-8, size and
// nesting depth first (yaml-cpp recurses per nesting level), and turns every
// yaml-cpp exception into an error on `file`. Returns a null node on error.
YAML::Node ParseYaml(YamlFile& file, std::string_view bytes);

// Byte offset of the first invalid UTF-8 sequence, or nullopt if `s` is valid.
std::optional<size_t> FirstInvalidUtf8(std::string_view s);

// A scalar value read from a list, with the line it sits on.
struct Item {
  std::string value;
  int line = 0;
};

// The keys of one YAML mapping. Constructing it on a node that is not a
// mapping records "<what> must be a mapping".
class MapReader {
 public:
  MapReader(YamlFile& file, const YAML::Node& node, const std::string& what);

  int line() const { return line_; }
  bool Has(const std::string& key) const;
  // Line of the key's value (the mapping's line when the key is absent).
  int LineOf(const std::string& key) const;

  // A scalar. Required: absent or empty is an error. Optional: absent -> "".
  std::string String(const std::string& key, bool required);
  // "true" / "false"; absent -> `fallback`.
  bool Bool(const std::string& key, bool fallback);
  std::optional<bool> OptionalBool(const std::string& key);
  // A decimal integer in [min, max]; absent -> nullopt (an error if required).
  std::optional<int64_t> Int(const std::string& key, bool required, int64_t min, int64_t max);
  // A sequence of non-empty scalars; absent -> empty.
  std::vector<Item> StringList(const std::string& key);
  // A sequence; absent -> empty (an error if required). Elements unchecked.
  std::vector<YAML::Node> Sequence(const std::string& key, bool required);
  // A mapping's entries in document order (keys are scalars); absent -> empty.
  std::vector<std::pair<Item, YAML::Node>> Entries(const std::string& key);
  // The raw value node (null node when absent); marks the key as read.
  YAML::Node Node(const std::string& key);

  // Records an error for the first key (in document order) never read.
  void Finish();

 private:
  struct Entry {
    std::string key;
    int key_line = 0;
    YAML::Node value;
    bool used = false;
  };
  Entry* Find(const std::string& key);
  const Entry* Find(const std::string& key) const;
  void Fail(int line, const std::string& reason) { file_.Fail(line, reason); }

  YamlFile& file_;
  std::string what_;
  int line_ = 1;
  std::vector<Entry> entries_;
};

}  // namespace beibu::policy::internal
