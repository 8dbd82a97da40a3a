// Reads typed settings from a YAML file with errors that name the file, the
// line and the key, and refuses keys it does not know (a typo in a config
// file must not pass silently).
//
//   auto r = YamlReader::Load("hub.yaml");
//   std::string listen = r->String("listen", "127.0.0.1:7400");
//   if (absl::Status s = r->Finish(); !s.ok()) ...   // unknown keys, bad types
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace beibu::config {

class YamlReader {
 public:
  static absl::StatusOr<YamlReader> Load(const std::string& path);
  static absl::StatusOr<YamlReader> Parse(const std::string& text, const std::string& name);

  // Each getter records the first problem; Finish() reports it.
  std::string String(const std::string& key, const std::string& fallback);
  std::string RequiredString(const std::string& key);
  int64_t Int(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  // A number (integer or decimal) in [min, max]; NaN and infinities are refused.
  double Double(const std::string& key, double fallback, double min, double max);
  bool Bool(const std::string& key, bool fallback);
  std::vector<std::string> StringList(const std::string& key);
  // "host:port" with a port in 0..65535 (0 picks a free one).
  std::string Address(const std::string& key, const std::string& fallback);
  // The names in the mapping at `key`, in file order (none when absent; a
  // problem when it is not a mapping). Each is known from then on: Finish()
  // does not call `key.<name>` unknown, but still checks the settings inside
  // a listed mapping that the caller never asked for. Read what is inside
  // with dotted keys ("key.<name>.setting"), so names must not contain dots.
  std::vector<std::string> Keys(const std::string& key);
  // A mapping of free-form names (they may contain dots, e.g. certificate
  // ids) to strings; the whole mapping is known. Empty when absent.
  std::map<std::string, std::string> StringMap(const std::string& key);
  // Records a problem found by the caller (e.g. settings that go together).
  void Problem(const std::string& problem);
  // The same, at the line of `key` in the file: "<file>:<line>: <problem>".
  void ProblemAt(const std::string& key, const std::string& problem);

  // INVALID_ARGUMENT "<file>:<line>: <problem>" for the first problem seen,
  // including keys the program never asked for.
  absl::Status Finish() const;

 private:
  YamlReader(YAML::Node root, std::string name) : root_(std::move(root)), name_(std::move(name)) {}
  // Marks `key` as asked for unless `mark` is false.
  YAML::Node Lookup(const std::string& key, bool mark = true);
  void Fail(const YAML::Node& at, const std::string& problem);

  YAML::Node root_;
  std::string name_;
  std::set<std::string> used_;
  std::set<std::string> listed_;  // names returned by Keys()
  absl::Status first_error_;
};

}  // namespace beibu::config
