#include "yaml_walk.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/eventhandler.h"

namespace beibu::policy::internal {
namespace {

// Policy files are small (the baseline's largest is a few KiB); the caps keep
// a hostile file from costing much memory or recursion in yaml-cpp.
constexpr size_t kMaxFileBytes = 4 << 20;
constexpr int kMaxFlowDepth = 32;      // nested [ ] / { }
constexpr int kMaxIndentColumns = 96;  // leading spaces and "- " of a line

int LineAt(std::string_view bytes, size_t offset) {
  return 1 + static_cast<int>(std::count(bytes.begin(), bytes.begin() + offset, '\n'));
}

// Refuses inputs nested deeper than any policy file needs, before yaml-cpp
// (which recurses once per level) sees them. Block nesting is measured by a
// line's leading run of spaces and sequence dashes, flow nesting by brackets
// outside quotes and comments.
std::optional<std::pair<int, std::string>> CheckNesting(std::string_view bytes) {
  int depth = 0;
  int line = 1;
  bool line_start = true;
  int lead = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\n') {
      ++line;
      line_start = true;
      lead = 0;
      comment = false;
      continue;
    }
    if (line_start) {
      if (c == ' ' || c == '-' || c == '\t' || c == '?' || c == ':') {
        if (++lead > kMaxIndentColumns) {
          return std::make_pair(line, absl::StrCat("nested deeper than ", kMaxIndentColumns,
                                                   " columns of indentation; policy files "
                                                   "need far less: flatten the structure"));
        }
        continue;
      }
      line_start = false;
    }
    if (comment) continue;
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '#' && (i == 0 || bytes[i - 1] == ' ' || bytes[i - 1] == '\t' ||
                     bytes[i - 1] == '\n' || bytes[i - 1] == '\r')) {
      // YAML starts a comment only at a '#' after whitespace; "a#[[[" is a
      // plain scalar followed by flow nesting that must still be counted.
      comment = true;
    } else if (c == '"' || c == '\'') {
      // Only a quote opening a scalar starts a quoted string; "it's" does not.
      if (i == 0 || std::string_view(" \t[{,:-").find(bytes[i - 1]) != std::string_view::npos)
        quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxFlowDepth) {
        return std::make_pair(
            line, absl::StrCat("flow collections nested deeper than ", kMaxFlowDepth, " levels"));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

// yaml-cpp 0.7 loops forever, allocating, when the root node of a document
// is followed by a ',' ("\"a\", b", "[a], b", ", x", "- a\n, b") or when a
// second document starts with one, and when an indented root mapping is
// followed by a less indented ','. Policy files are one block mapping, so
// the first line that is not blank, a comment or a directive must be a plain
// "key:" line starting in column 1 (nothing can then be less indented than
// the root), and document markers are refused before yaml-cpp sees them;
// inside such a mapping yaml-cpp reports a stray ',' as an error.
std::optional<std::pair<int, std::string>> CheckDocumentShape(std::string_view bytes) {
  bool seen_key = false;
  int line = 0;
  for (size_t pos = 0; pos < bytes.size();) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view text = bytes.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (text.substr(0, 3) == "---" || text.substr(0, 3) == "...") {
      return std::make_pair(line, std::string("document markers ('---', '...') are not allowed: a "
                                              "policy file holds exactly one mapping"));
    }
    if (seen_key) continue;
    const size_t first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || text[first] == '#' || text[first] == '%') continue;
    if (first != 0) {
      return std::make_pair(line, std::string("expected a mapping: the first key must start in "
                                              "column 1, without indentation"));
    }
    size_t i = first;
    const auto key_char = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    };
    const bool starts_key = (text[i] >= 'a' && text[i] <= 'z') ||
                            (text[i] >= 'A' && text[i] <= 'Z') || text[i] == '_';
    while (i < text.size() && key_char(text[i])) ++i;
    while (i < text.size() && text[i] == ' ') ++i;
    const bool colon = i < text.size() && text[i] == ':' &&
                       (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\r');
    if (!starts_key || !colon) {
      return std::make_pair(line, std::string("expected a mapping: the first line must be a "
                                              "plain 'key: value' line"));
    }
    seen_key = true;
  }
  return std::nullopt;
}

// Finds the first alias (*name) of a document. yaml-cpp shares an aliased
// node, so parsing stays small, but every reader that copies a value copies
// it once per alias: 5,000 aliases of a 200 KB anchor in a 221 KB file cost
// the loader 2 GB. Policy files have no use for aliases, so they are refused.
class AliasFinder : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> alias;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    if (!alias) alias = mark;
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

std::string NodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

}  // namespace

void YamlFile::Fail(int line, const std::string& reason) {
  if (!status_.ok()) return;
  status_ = absl::InvalidArgumentError(absl::StrCat(path_, ":", line, ": ", reason));
}

int YamlFile::Line(const YAML::Node& node) {
  if (!node.IsDefined()) return 1;
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 1;
}

std::optional<size_t> FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::nullopt;
}

YAML::Node ParseYaml(YamlFile& file, std::string_view bytes) {
  if (bytes.size() > kMaxFileBytes) {
    file.Fail(1, absl::StrCat("file is ", bytes.size(), " bytes, more than the limit of ",
                              kMaxFileBytes, ": policy files are small; split or trim it"));
    return YAML::Node();
  }
  if (std::optional<size_t> bad = FirstInvalidUtf8(bytes)) {
    file.Fail(LineAt(bytes, *bad),
              absl::StrCat("invalid UTF-8 at byte offset ", *bad, ": save the file as UTF-8"));
    return YAML::Node();
  }
  if (bytes.find('\0') != std::string_view::npos) {
    file.Fail(LineAt(bytes, bytes.find('\0')), "NUL byte: policy files are text");
    return YAML::Node();
  }
  if (auto deep = CheckNesting(bytes)) {
    file.Fail(deep->first, deep->second);
    return YAML::Node();
  }
  if (auto shape = CheckDocumentShape(bytes)) {
    file.Fail(shape->first, shape->second);
    return YAML::Node();
  }
  try {
    {
      std::istringstream in{std::string(bytes)};
      YAML::Parser parser(in);
      AliasFinder finder;
      while (!finder.alias && parser.HandleNextDocument(finder)) {
      }
      if (finder.alias) {
        file.Fail(finder.alias->line + 1,
                  "YAML aliases (*name) are not allowed in policy files: write the value out");
        return YAML::Node();
      }
    }
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(bytes));
    if (docs.empty() || docs[0].IsNull()) {
      file.Fail(1, "file is empty: expected a mapping of keys");
      return YAML::Node();
    }
    if (docs.size() > 1) {
      file.Fail(YamlFile::Line(docs[1]),
                "more than one YAML document ('---'): a policy file holds exactly one");
      return YAML::Node();
    }
    return docs[0];
  } catch (const YAML::Exception& e) {
    file.Fail(e.mark.is_null() ? 1 : e.mark.line + 1, absl::StrCat("YAML syntax error: ", e.msg));
  } catch (const std::exception& e) {
    file.Fail(1, absl::StrCat("cannot parse YAML: ", e.what()));
  } catch (...) {
    file.Fail(1, "cannot parse YAML");
  }
  return YAML::Node();
}

MapReader::MapReader(YamlFile& file, const YAML::Node& node, const std::string& what)
    : file_(file), what_(what), line_(YamlFile::Line(node)) {
  if (!file_.ok()) return;
  if (!node.IsMap()) {
    Fail(line_, absl::StrCat(what_, " must be a mapping of keys, not ", NodeKind(node)));
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      Fail(YamlFile::Line(key),
           absl::StrCat("a key of ", what_, " is ", NodeKind(key), ", not a plain name"));
      return;
    }
    if (Find(key.Scalar()) != nullptr) {
      Fail(YamlFile::Line(key), absl::StrCat("duplicate key \"", key.Scalar(), "\" in ", what_));
      return;
    }
    entries_.push_back(Entry{key.Scalar(), YamlFile::Line(key), it->second, false});
  }
}

MapReader::Entry* MapReader::Find(const std::string& key) {
  for (Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const MapReader::Entry* MapReader::Find(const std::string& key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

bool MapReader::Has(const std::string& key) const { return Find(key) != nullptr; }

int MapReader::LineOf(const std::string& key) const {
  const Entry* e = Find(key);
  if (e == nullptr) return line_;
  const int value_line = YamlFile::Line(e->value);
  // A null value has no useful position of its own.
  return e->value.IsNull() ? e->key_line : value_line;
}

YAML::Node MapReader::Node(const std::string& key) {
  Entry* e = Find(key);
  if (e == nullptr) return YAML::Node(YAML::NodeType::Undefined);
  e->used = true;
  return e->value;
}

std::string MapReader::String(const std::string& key, bool required) {
  if (!file_.ok()) return "";
  Entry* e = Find(key);
  if (e == nullptr) {
    if (required) Fail(line_, absl::StrCat(what_, " is missing required key \"", key, "\""));
    return "";
  }
  e->used = true;
  if (!e->value.IsScalar()) {
    Fail(LineOf(key), absl::StrCat("\"", key, "\" must be a string, not ", NodeKind(e->value)));
    return "";
  }
  std::string value = e->value.Scalar();
  if (required && value.empty()) {
    Fail(LineOf(key), absl::StrCat("\"", key, "\" must not be empty"));
  }
  return value;
}

std::optional<bool> MapReader::OptionalBool(const std::string& key) {
  if (!file_.ok()) return std::nullopt;
  Entry* e = Find(key);
  if (e == nullptr) return std::nullopt;
  e->used = true;
  if (e->value.IsScalar() && e->value.Tag() != "!") {
    if (e->value.Scalar() == "true") return true;
    if (e->value.Scalar() == "false") return false;
  }
  Fail(LineOf(key), absl::StrCat("\"", key, "\" must be true or false"));
  return std::nullopt;
}

bool MapReader::Bool(const std::string& key, bool fallback) {
  return OptionalBool(key).value_or(fallback);
}

std::optional<int64_t> MapReader::Int(const std::string& key, bool required, int64_t min,
                                      int64_t max) {
  if (!file_.ok()) return std::nullopt;
  Entry* e = Find(key);
  if (e == nullptr) {
    if (required) Fail(line_, absl::StrCat(what_, " is missing required key \"", key, "\""));
    return std::nullopt;
  }
  e->used = true;
  const std::string text = e->value.IsScalar() && e->value.Tag() != "!" ? e->value.Scalar() : "";
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    Fail(LineOf(key), absl::StrCat("\"", key, "\" must be a whole number (digits only)"));
    return std::nullopt;
  }
  if (value < min || value > max) {
    Fail(LineOf(key),
         absl::StrCat("\"", key, "\" is ", value, "; it must be between ", min, " and ", max,
                      value < 0 ? " (negative numbers mean nothing here)" : ""));
    return std::nullopt;
  }
  return value;
}

std::vector<YAML::Node> MapReader::Sequence(const std::string& key, bool required) {
  std::vector<YAML::Node> out;
  if (!file_.ok()) return out;
  Entry* e = Find(key);
  if (e == nullptr) {
    if (required) Fail(line_, absl::StrCat(what_, " is missing required key \"", key, "\""));
    return out;
  }
  e->used = true;
  if (!e->value.IsSequence()) {
    Fail(LineOf(key), absl::StrCat("\"", key, "\" must be a list, not ", NodeKind(e->value)));
    return out;
  }
  for (const YAML::Node& n : e->value) out.push_back(n);
  return out;
}

std::vector<Item> MapReader::StringList(const std::string& key) {
  std::vector<Item> out;
  for (const YAML::Node& n : Sequence(key, false)) {
    if (!n.IsScalar() || n.Scalar().empty()) {
      Fail(YamlFile::Line(n), absl::StrCat("every element of \"", key,
                                           "\" must be a non-empty string, not ", NodeKind(n)));
      return {};
    }
    out.push_back(Item{n.Scalar(), YamlFile::Line(n)});
  }
  return out;
}

std::vector<std::pair<Item, YAML::Node>> MapReader::Entries(const std::string& key) {
  std::vector<std::pair<Item, YAML::Node>> out;
  if (!file_.ok()) return out;
  Entry* e = Find(key);
  if (e == nullptr) return out;
  e->used = true;
  if (!e->value.IsMap()) {
    Fail(LineOf(key), absl::StrCat("\"", key, "\" must be a mapping, not ", NodeKind(e->value)));
    return out;
  }
  for (auto it = e->value.begin(); it != e->value.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      Fail(YamlFile::Line(it->first), absl::StrCat("a key of \"", key, "\" is not a plain name"));
      return {};
    }
    for (const auto& [seen, unused] : out) {
      if (seen.value == it->first.Scalar()) {
        Fail(YamlFile::Line(it->first),
             absl::StrCat("duplicate key \"", seen.value, "\" in \"", key, "\""));
        return {};
      }
    }
    out.emplace_back(Item{it->first.Scalar(), YamlFile::Line(it->first)}, it->second);
  }
  return out;
}

void MapReader::Finish() {
  if (!file_.ok()) return;
  for (const Entry& e : entries_) {
    if (!e.used) {
      Fail(e.key_line, absl::StrCat("unknown key \"", e.key, "\" in ", what_,
                                    " (docs/policy-database.md lists the keys)"));
      return;
    }
  }
}

}  // namespace beibu::policy::internal
