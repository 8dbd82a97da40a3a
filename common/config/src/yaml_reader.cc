#include "beibu/config/yaml_reader.h"

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"

#include <cctype>
#include <cmath>

namespace beibu::config {

absl::StatusOr<YamlReader> YamlReader::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

absl::StatusOr<YamlReader> YamlReader::Parse(const std::string& text, const std::string& name) {
  try {
    YAML::Node root = YAML::Load(text);
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": expected a mapping of settings"));
    }
    return YamlReader(root, name);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
}

// Keys may be dotted ("transport.tls_cert") to reach nested mappings.
YAML::Node YamlReader::Lookup(const std::string& key, bool mark) {
  if (mark) used_.insert(key);
  // yaml-cpp nodes are references: reset() re-points one, while operator=
  // would overwrite the node it refers to; const indexing never inserts.
  YAML::Node cur;
  cur.reset(root_);
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& const_cur = cur;
    YAML::Node next = const_cur[part];
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    if (dot == std::string::npos) return next;
    cur.reset(next);
    start = dot + 1;
  }
}

void YamlReader::Fail(const YAML::Node& at, const std::string& problem) {
  if (!first_error_.ok()) return;
  first_error_ = absl::InvalidArgumentError(
      absl::StrCat(name_, ":", at.IsDefined() ? at.Mark().line + 1 : 0, ": ", problem));
}

std::string YamlReader::String(const std::string& key, const std::string& fallback) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  if (!n.IsScalar()) {
    Fail(n, absl::StrCat(key, " must be a string"));
    return fallback;
  }
  return n.as<std::string>();
}

std::string YamlReader::RequiredString(const std::string& key) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull() || (n.IsScalar() && n.as<std::string>().empty())) {
    Fail(root_, absl::StrCat("missing required setting '", key, "'"));
    return "";
  }
  return String(key, "");
}

int64_t YamlReader::Int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  try {
    int64_t v = n.as<int64_t>();
    if (v < min || v > max) {
      Fail(n, absl::StrCat(key, " = ", v, " is out of range [", min, ", ", max, "]"));
      return fallback;
    }
    return v;
  } catch (const YAML::Exception&) {
    Fail(n, absl::StrCat(key, " must be an integer"));
    return fallback;
  }
}

double YamlReader::Double(const std::string& key, double fallback, double min, double max) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  double v = 0;
  try {
    v = n.as<double>();
  } catch (const YAML::Exception&) {
    Fail(n, absl::StrCat(key, " must be a number"));
    return fallback;
  }
  if (!std::isfinite(v)) {
    Fail(n, absl::StrCat(key, " must be a finite number"));
    return fallback;
  }
  if (v < min || v > max) {
    Fail(n, absl::StrCat(key, " = ", v, " is out of range [", min, ", ", max, "]"));
    return fallback;
  }
  return v;
}

bool YamlReader::Bool(const std::string& key, bool fallback) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    Fail(n, absl::StrCat(key, " must be true or false"));
    return fallback;
  }
}

std::vector<std::string> YamlReader::StringList(const std::string& key) {
  YAML::Node n = Lookup(key);
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    Fail(n, absl::StrCat(key, " must be a list"));
    return out;
  }
  for (const YAML::Node& item : n) {
    if (!item.IsScalar()) {
      Fail(item, absl::StrCat(key, " must be a list of strings"));
      return {};
    }
    out.push_back(item.as<std::string>());
  }
  return out;
}

std::string YamlReader::Address(const std::string& key, const std::string& fallback) {
  std::string v = String(key, fallback);
  size_t colon = v.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon > 0 && colon + 1 < v.size()) {
    port = 0;
    for (size_t i = colon + 1; i < v.size() && port >= 0; ++i) {
      port = std::isdigit(static_cast<unsigned char>(v[i])) ? port * 10 + (v[i] - '0') : -1;
      if (port > 65535) port = -1;
    }
  }
  if (port < 0) {
    Fail(Lookup(key), absl::StrCat(key, " = '", v, "' must be host:port, e.g. 127.0.0.1:7400"));
  }
  return v;
}

std::vector<std::string> YamlReader::Keys(const std::string& key) {
  YAML::Node n = Lookup(key, /*mark=*/false);
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) {
    used_.insert(key);  // "key:" with nothing below it is an empty mapping
    return out;
  }
  if (!n.IsMap()) {
    used_.insert(key);
    Fail(n, absl::StrCat(key, " must be a mapping of names to settings"));
    return out;
  }
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) continue;  // Finish() reports it
    std::string name = kv.first.as<std::string>();
    listed_.insert(absl::StrCat(key, ".", name));
    out.push_back(std::move(name));
  }
  return out;
}

std::map<std::string, std::string> YamlReader::StringMap(const std::string& key) {
  YAML::Node n = Lookup(key);
  std::map<std::string, std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) {
    Fail(n, absl::StrCat(key, " must be a mapping of names to strings"));
    return out;
  }
  for (const auto& kv : n) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
      Fail(kv.first, absl::StrCat(key, " must map plain names to plain strings"));
      return {};
    }
    out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return out;
}

void YamlReader::ProblemAt(const std::string& key, const std::string& problem) {
  YAML::Node n = Lookup(key, /*mark=*/false);
  Fail(n.IsDefined() ? n : root_, problem);
}

void YamlReader::Problem(const std::string& problem) {
  if (first_error_.ok())
    first_error_ = absl::InvalidArgumentError(absl::StrCat(name_, ": ", problem));
}

absl::Status YamlReader::Finish() const {
  if (!first_error_.ok()) return first_error_;
  // Every key present in the file must have been asked for.
  std::function<absl::Status(const YAML::Node&, const std::string&)> check =
      [&](const YAML::Node& node, const std::string& prefix) -> absl::Status {
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        return absl::InvalidArgumentError(absl::StrCat(name_, ":", kv.first.Mark().line + 1,
                                                       ": setting names must be plain words"));
      }
      std::string name = kv.first.as<std::string>();
      if (name.find('.') != std::string::npos) {
        // "tls.cert: x" at the top level would otherwise look like tls: {cert: x}.
        return absl::InvalidArgumentError(
            absl::StrCat(name_, ":", kv.first.Mark().line + 1, ": write '", name,
                         "' nested (for example tls:, then cert: indented below it)"));
      }
      std::string key = prefix + name;
      if (kv.second.IsMap() && !used_.count(key)) {
        if (absl::Status s = check(kv.second, key + "."); !s.ok()) return s;
      } else if (!used_.count(key) && !listed_.count(key)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name_, ":", kv.first.Mark().line + 1, ": unknown setting '", key, "'"));
      }
    }
    return absl::OkStatus();
  };
  return check(root_, "");
}

}  // namespace beibu::config
