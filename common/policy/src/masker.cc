// The streaming masker: detector findings and named fields replaced per
// profile, one record at a time (docs/masking.md).
#include "beibu/policy/mask.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <istream>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "csv_fields.h"
#include "nlohmann/json.hpp"

namespace beibu::policy {
namespace {

using internal::CsvField;
// ordered_json keeps the record's key order (nlohmann::json would sort keys).
using Json = nlohmann::ordered_json;

// What one record is masked with; MaskRecord and MaskStream share it so the
// stream can count replacements without widening the public API.
struct Ctx {
  const Detector& detector;
  const MaskProfile& profile;
  const std::string& key;
  const std::vector<std::string>& header;
  uint64_t replaced = 0;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The "type" a by_field operator sees: the field name upper-cased with
// non-alphanumerics as '_' ("phone no" -> "PHONE_NO"), so kReplaceWithType
// says "<PHONE_NO>" and an "email" column gets the e-mail rule of kMask.
std::string FieldType(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(std::isalnum(u) ? static_cast<char>(std::toupper(u)) : '_');
  }
  return out;
}

// Replaces, in `text`, every finding whose type the profile masks. Findings
// are sorted and non-overlapping (detector contract); `base` shifts them
// (for findings of a larger record) and those outside [0, text.size()) are
// ignored.
absl::StatusOr<std::string> ReplaceFindings(Ctx& ctx, std::string_view text,
                                            std::span<const Finding> findings, size_t base) {
  std::string out;
  size_t pos = 0;
  for (const Finding& f : findings) {
    if (f.start < base || f.end > base + text.size() || f.end <= f.start) continue;
    const size_t s = f.start - base, e = f.end - base;
    if (s < pos) continue;
    const auto it = ctx.profile.by_type.find(f.type);
    if (it == ctx.profile.by_type.end()) continue;
    absl::StatusOr<std::string> rep =
        ApplyMaskOp(it->second, text.substr(s, e - s), f.type, ctx.key);
    if (!rep.ok()) return rep.status();
    out.append(text.substr(pos, s - pos));
    out.append(*rep);
    pos = e;
    ++ctx.replaced;
  }
  out.append(text.substr(pos));
  return out;
}

absl::StatusOr<std::string> MaskText(Ctx& ctx, std::string_view record) {
  return ReplaceFindings(ctx, record, ctx.detector.Scan(record), 0);
}

absl::StatusOr<std::string> MaskCsv(Ctx& ctx, std::string_view record) {
  const std::vector<CsvField> fields = internal::SplitCsvRecord(record);
  std::vector<Finding> findings;
  bool scanned = false;
  size_t next = 0;  // the first finding not yet handed to a field
  std::string out;
  out.reserve(record.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    const CsvField& f = fields[i];
    const std::string_view raw = record.substr(f.start, f.end - f.start);
    const std::string* name = i < ctx.header.size() ? &ctx.header[i] : nullptr;
    const auto by_field = name ? ctx.profile.by_field.find(*name) : ctx.profile.by_field.end();
    if (by_field != ctx.profile.by_field.end()) {
      const std::string value = internal::CsvValue(raw);
      if (value.empty()) {  // nothing to hide; an empty cell stays as it was
        out.append(raw);
        continue;
      }
      absl::StatusOr<std::string> rep =
          ApplyMaskOp(by_field->second, value, FieldType(*name), ctx.key);
      if (!rep.ok()) return rep.status();
      out.append(internal::CsvQuote(*rep));
      ++ctx.replaced;
      continue;
    }
    if (!scanned) {
      findings = ctx.detector.ScanCsvRecord(record, ctx.header);
      scanned = true;
    }
    // Findings are sorted by start and fields come in order, so one cursor
    // hands each field only the findings that start inside it: the record
    // costs O(fields + findings), not O(fields x findings). (A finding that
    // starts before this field and was skipped by an earlier field straddled
    // a separator; ReplaceFindings would ignore it anyway.)
    while (next < findings.size() && findings[next].start < f.start) ++next;
    size_t last = next;
    while (last < findings.size() && findings[last].start < f.end) ++last;
    const std::span<const Finding> mine(findings.data() + next, last - next);
    next = last;
    // Findings are replaced in the raw field: recognizer shapes never include
    // '"', so a finding never straddles a "" escape or the field's quotes.
    bool any = false;
    for (const Finding& fd : mine) any = any || fd.end <= f.end;
    if (!any) {
      out.append(raw);
      continue;
    }
    const uint64_t before = ctx.replaced;
    absl::StatusOr<std::string> masked_raw = ReplaceFindings(ctx, raw, mine, f.start);
    if (!masked_raw.ok()) return masked_raw.status();
    if (ctx.replaced == before) {
      out.append(raw);  // untouched fields stay byte-identical
    } else if (f.quoted) {
      // Replacements never contain '"' (mask_char may not be '"'), so the
      // field's own quoting is still valid.
      out.append(*masked_raw);
    } else {
      out.append(internal::CsvQuote(*masked_raw));
    }
  }
  return out;
}

// How much of a JSON key MaskJsonString puts in front of a value: the
// detector looks no further back for context, so a longer key tail cannot
// change a finding in the value.
constexpr size_t kKeyContextBytes = kContextWindowBytes;

// The last kKeyContextBytes (or up to 3 more) bytes of `key`, cut where a
// UTF-8 character starts so a context word in the tail is never split.
std::string_view KeyTail(std::string_view key) {
  if (key.size() <= kKeyContextBytes) return key;
  size_t from = key.size() - kKeyContextBytes;
  for (int i = 0; i < 3 && from > 0 && (static_cast<unsigned char>(key[from]) & 0xC0) == 0x80; ++i)
    --from;
  return key.substr(from);
}

// Scans one JSON string with (the tail of) its key in front, so the detector's
// context window sees the key as in a JSON line, and replaces the findings.
// Only the tail: a long key under many array elements would otherwise be
// rescanned whole for each element.
absl::StatusOr<std::string> MaskJsonString(Ctx& ctx, const std::string& value,
                                           const std::string& key_name) {
  const std::string prefix =
      key_name.empty() ? "" : absl::StrCat("\"", std::string(KeyTail(key_name)), "\": ");
  const std::string text = prefix + value;
  const std::vector<Finding> findings = ctx.detector.Scan(text);
  return ReplaceFindings(ctx, std::string_view(text).substr(prefix.size()), findings,
                         prefix.size());
}

// Masks the object's keys: a key in which the detector finds an identifier of
// a masked type (`{"alice@example.com": ...}`) gets its findings replaced like
// a string value. When a masked key equals a key already in the object, it
// (or a later unmasked key that a masked one took) becomes "<key>#2", "#3", ...
// so no member is lost. Objects without such keys are left untouched.
absl::Status MaskJsonKeys(Ctx& ctx, Json& j) {
  // The members as the vector ordered_map is built on: ordered_map's own
  // operator[] and emplace look keys up linearly, which a rebuild must avoid.
  using Members = Json::object_t::Container;
  Members& members = j.get_ref<Json::object_t&>();
  std::vector<std::string> masked(members.size());
  bool any = false;
  for (size_t i = 0; i < members.size(); ++i) {
    const std::string& k = members[i].first;
    const uint64_t before = ctx.replaced;
    absl::StatusOr<std::string> rep = ReplaceFindings(ctx, k, ctx.detector.Scan(k), 0);
    if (!rep.ok()) return rep.status();
    if (ctx.replaced != before) {
      masked[i] = *std::move(rep);
      any = true;
    }
  }
  if (!any) return absl::OkStatus();
  Json::object_t rebuilt;
  Members& out = rebuilt;
  out.reserve(members.size());
  std::unordered_set<std::string> used;
  used.reserve(members.size());
  // The next suffix to try per colliding name, so 10,000 keys that all mask
  // to "<EMAIL>" cost linear, not quadratic, time.
  std::unordered_map<std::string, uint64_t> next_suffix;
  for (size_t i = 0; i < members.size(); ++i) {
    std::string name = masked[i].empty() ? members[i].first : masked[i];
    if (used.count(name) != 0) {
      uint64_t& n = next_suffix.try_emplace(name, 2).first->second;
      std::string candidate = absl::StrCat(name, "#", n++);
      while (used.count(candidate) != 0) candidate = absl::StrCat(name, "#", n++);
      name = std::move(candidate);
    }
    used.insert(name);
    out.emplace_back(std::move(name), std::move(members[i].second));
  }
  members.swap(out);
  return absl::OkStatus();
}

absl::Status WalkJson(Ctx& ctx, Json& j, const std::string& key_name, int depth) {
  // nlohmann's parser puts no limit on depth, but this walk and dump() recurse.
  if (depth > 512) return absl::InvalidArgumentError("JSON nested deeper than 512 levels");
  if (j.is_object()) {
    // Values first, with their original keys as context and for by_field;
    // then the keys themselves.
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string lower = Lower(it.key());
      const auto by_field = ctx.profile.by_field.find(lower);
      Json& v = it.value();
      if (by_field != ctx.profile.by_field.end() && !v.is_null()) {
        // Numbers go through as their JSON text (37 -> "30-39"); a container
        // is replaced whole, so nothing under a named key can leak.
        const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
        absl::StatusOr<std::string> rep =
            ApplyMaskOp(by_field->second, text, FieldType(lower), ctx.key);
        if (!rep.ok()) return rep.status();
        v = *rep;
        ++ctx.replaced;
        continue;
      }
      if (absl::Status s = WalkJson(ctx, v, it.key(), depth + 1); !s.ok()) return s;
    }
    if (absl::Status s = MaskJsonKeys(ctx, j); !s.ok()) return s;
  } else if (j.is_array()) {
    for (Json& v : j) {
      if (absl::Status s = WalkJson(ctx, v, key_name, depth + 1); !s.ok()) return s;
    }
  } else if (j.is_string()) {
    const uint64_t before = ctx.replaced;
    absl::StatusOr<std::string> rep =
        MaskJsonString(ctx, j.get_ref<const std::string&>(), key_name);
    if (!rep.ok()) return rep.status();
    if (ctx.replaced != before) j = *rep;
  } else if (j.is_number_integer() || j.is_number_unsigned()) {
    // A phone or ID number stored as a JSON number: a finding turns the value
    // into a (masked) string.
    const uint64_t before = ctx.replaced;
    absl::StatusOr<std::string> rep = MaskJsonString(ctx, j.dump(), key_name);
    if (!rep.ok()) return rep.status();
    if (ctx.replaced != before) j = *rep;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MaskJson(Ctx& ctx, std::string_view record) {
  Json j = Json::parse(record.begin(), record.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return absl::InvalidArgumentError(
        "malformed JSON (each line must be one complete JSON value in UTF-8)");
  if (absl::Status s = WalkJson(ctx, j, "", 0); !s.ok()) return s;
  try {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot serialize JSON: ", e.what()));
  }
}

absl::StatusOr<std::string> MaskOne(Ctx& ctx, std::string_view record, Format format) {
  // The record's line end is kept as it came ("\r\n", "\n", "\r" or none):
  // SplitCsvRecord would fold it into the last field and JSON's dump() would
  // drop it.
  const size_t body_end = record.find_last_not_of("\r\n") + 1;  // npos + 1 == 0
  const std::string_view eol = record.substr(body_end);
  record = record.substr(0, body_end);
  absl::StatusOr<std::string> out;
  switch (format) {
    case Format::kCsv:
      out = MaskCsv(ctx, record);
      break;
    case Format::kJsonLines: {
      bool blank = true;
      for (char c : record) blank = blank && (c == ' ' || c == '\t');
      out = blank ? std::string(record) : MaskJson(ctx, record);
      break;
    }
    case Format::kText:
    case Format::kAuto:
      out = MaskText(ctx, record);
      break;
  }
  if (out.ok()) out->append(eol);
  return out;
}

absl::Status ValidateProfile(const MaskProfile& profile, const std::string& key) {
  bool needs_key = false;
  const auto check = [&](const std::map<std::string, MaskOp>& ops, const char* what) {
    for (const auto& [name, op] : ops) {
      needs_key = needs_key || op.kind == MaskOp::Kind::kPseudonym;
      if (op.kind == MaskOp::Kind::kPseudonym) continue;  // checked below with the key
      // Run the operator once so a bad parameter fails now, not mid-stream.
      absl::StatusOr<std::string> r = ApplyMaskOp(op, "x", name, key);
      if (!r.ok())
        return absl::InvalidArgumentError(absl::StrCat("profile ", profile.id, ", ", what, " ",
                                                       name, ": ", r.status().message()));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = check(profile.by_type, "type"); !s.ok()) return s;
  if (absl::Status s = check(profile.by_field, "field"); !s.ok()) return s;
  if (needs_key) {
    MaskOp op;
    op.kind = MaskOp::Kind::kPseudonym;
    absl::StatusOr<std::string> r = ApplyMaskOp(op, "x", "", key);
    if (!r.ok())
      return absl::InvalidArgumentError(absl::StrCat(
          "profile ", profile.id, " pseudonymizes and needs a key: ", r.status().message()));
  }
  return absl::OkStatus();
}

// Reads '\n'-terminated lines through a fixed chunk, never holding more than
// the chunk plus the current record, and refusing a record over the limit
// before reading the rest of it.
class LineReader {
 public:
  static constexpr size_t kChunk = 64 << 10;
  explicit LineReader(std::istream& in) : buf_(in.rdbuf()), chunk_(kChunk) {}

  // Appends the next line (with its '\n' if any) to `record`. Returns false at
  // end of input with nothing appended. `*over` is set when `record` would
  // exceed `limit` bytes (the line is then not complete).
  bool Next(std::string& record, size_t limit, bool* over) {
    *over = false;
    bool any = false;
    while (true) {
      if (pos_ == len_ && !Fill()) return any;
      const char* start = chunk_.data() + pos_;
      const void* nl = std::memchr(start, '\n', len_ - pos_);
      const size_t take =
          nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) + 1 : len_ - pos_;
      if (record.size() + take > limit + (nl ? 1 : 0)) {
        *over = true;
        return true;
      }
      record.append(start, take);
      pos_ += take;
      bytes_ += take;
      any = true;
      if (nl) return true;
    }
  }
  uint64_t bytes() const { return bytes_; }
  // Why reading stopped early ("" at a clean end of input).
  const std::string& error() const { return error_; }

 private:
  // Takes what the stream has buffered (at least one byte, at most a chunk),
  // so records from a pipe are masked as they arrive instead of waiting for
  // a full chunk. libstdc++'s filebuf throws on a read error: caught here.
  bool Fill() {
    pos_ = len_ = 0;
    if (eof_) return false;
    if (buf_ == nullptr) {
      error_ = "the input stream has no buffer";
      eof_ = true;
      return false;
    }
    try {
      if (std::istream::traits_type::eq_int_type(buf_->sgetc(), std::istream::traits_type::eof())) {
        eof_ = true;
        return false;
      }
      const std::streamsize avail = buf_->in_avail();
      const auto want = static_cast<std::streamsize>(
          avail > 0 ? std::min(static_cast<size_t>(avail), kChunk) : kChunk);
      len_ = static_cast<size_t>(std::max<std::streamsize>(0, buf_->sgetn(chunk_.data(), want)));
    } catch (const std::exception& e) {
      error_ = e.what();
      eof_ = true;
      return false;
    }
    if (len_ == 0) eof_ = true;
    return len_ > 0;
  }

  std::streambuf* buf_;
  std::vector<char> chunk_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
  uint64_t bytes_ = 0;
  std::string error_;
};

// Whether `line` (the would-be CSV header) contains an identifier the profile
// masks: column names never do, so such a line is data.
bool HoldsMaskedFinding(const Detector& detector, const MaskProfile& profile,
                        std::string_view line) {
  for (const Finding& f : detector.Scan(line))
    if (profile.by_type.count(f.type) != 0) return true;
  return false;
}

}  // namespace

absl::StatusOr<Masker> Masker::Create(const Detector& detector, const MaskProfile& profile,
                                      std::string key) {
  if (absl::Status s = ValidateProfile(profile, key); !s.ok()) return s;
  return Masker(detector, profile, std::move(key));
}

void Masker::SetCsvHeader(std::string_view header_line) {
  // A UTF-8 byte order mark (Excel exports) would otherwise become part of the
  // first column's name, and a by_field rule for it would silently not apply.
  if (header_line.substr(0, 3) == "\xEF\xBB\xBF") header_line.remove_prefix(3);
  csv_header_ = internal::CsvHeader(header_line);
}

absl::StatusOr<std::string> Masker::MaskRecord(std::string_view record, Format format) const {
  Ctx ctx{*detector_, profile_, key_, csv_header_};
  if (format == Format::kAuto) format = SniffFormat(record);
  return MaskOne(ctx, record, format);
}

absl::StatusOr<MaskStats> Masker::MaskStream(std::istream& in, std::ostream& out, Format format,
                                             size_t max_record_bytes) {
  MaskStats stats;
  LineReader reader(in);
  std::string record;
  uint64_t record_no = 0;  // 1-based, the CSV header included
  uint64_t line_no = 0;    // line on which the current record starts
  bool first = true;
  while (true) {
    record.clear();
    const uint64_t start_line = line_no + 1;
    bool over = false;
    // A record cut short by a read error is not masked and written.
    if (!reader.Next(record, max_record_bytes, &over) || !reader.error().empty()) break;
    ++line_no;
    ++record_no;
    if (first && format == Format::kAuto && !over) {
      std::string_view line = record;
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
      if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // BOM
      format = SniffFormat(line);
    }
    // A CSV record continues while a quoted field is open (the quote rule of
    // SplitCsvRecord: a stray quote in `5" pipe` opens nothing).
    if (format == Format::kCsv && !over) {
      internal::CsvQuoteState quotes;
      quotes.Feed(record);
      while (quotes.in_quotes && !over && !record.empty() && record.back() == '\n') {
        const size_t from = record.size();
        if (!reader.Next(record, max_record_bytes, &over)) break;
        if (!reader.error().empty()) break;
        ++line_no;
        quotes.Feed(std::string_view(record).substr(from));
      }
    }
    if (!reader.error().empty()) break;  // reported below
    if (over)
      return absl::InvalidArgumentError(absl::StrCat(
          "record ", record_no, " (line ", start_line, ") is over ", max_record_bytes,
          " bytes; records must fit the limit: split the input into shorter records or raise "
          "the limit"));
    std::string_view body = record;
    std::string_view eol;
    if (!body.empty() && body.back() == '\n') {
      body.remove_suffix(1);
      eol = "\n";
      if (!body.empty() && body.back() == '\r') {
        body.remove_suffix(1);
        eol = "\r\n";
      }
    }
    Format record_format = format;
    if (first) {
      first = false;
      if (format == Format::kCsv) {
        if (!HoldsMaskedFinding(*detector_, profile_, body)) {
          SetCsvHeader(body);
          out << body << eol;
          continue;
        }
        // A file without a header line: its first record must not pass
        // through in clear. Masked as text (replacements never contain ',' or
        // '"', so the CSV stays as it was), and there are no column names.
        csv_header_.clear();
        record_format = Format::kText;
        stats.warnings.push_back(absl::StrCat(
            "the first CSV line holds identifiers, so it was masked as data and the input was "
            "read as having no header line",
            profile_.by_field.empty()
                ? ""
                : absl::StrCat("; the profile's by_field rules (", profile_.by_field.size(),
                               ") could not apply to any column"),
            ": add a header line naming the columns"));
      }
    }
    Ctx ctx{*detector_, profile_, key_, csv_header_};
    absl::StatusOr<std::string> masked = MaskOne(ctx, body, record_format);
    if (!masked.ok())
      return absl::Status(masked.status().code(),
                          absl::StrCat("record ", record_no, " (line ", start_line,
                                       "): ", masked.status().message()));
    out << *masked << eol;
    if (!out) return absl::UnavailableError("writing the masked output failed");
    ++stats.records;
    stats.replaced += ctx.replaced;
  }
  stats.bytes_in = reader.bytes();
  if (!reader.error().empty()) {
    try {
      in.setstate(std::ios::badbit);   // what a caller checking in.bad() expects
    } catch (const std::exception&) {  // the caller asked for exceptions on badbit
    }
    return absl::DataLossError(absl::StrCat("reading the input failed after ", reader.bytes(),
                                            " bytes: ", reader.error()));
  }
  if (!out) return absl::UnavailableError("writing the masked output failed");
  return stats;
}

}  // namespace beibu::policy
