#include "csv_fields.h"

#include <cctype>

namespace beibu::policy::internal {

std::vector<CsvField> SplitCsvRecord(std::string_view record) {
  if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
  std::vector<CsvField> fields;
  size_t pos = 0;
  while (true) {
    CsvField f;
    f.start = pos;
    if (pos < record.size() && record[pos] == '"') {
      f.quoted = true;
      size_t i = pos + 1;
      while (i < record.size()) {
        if (record[i] == '"') {
          if (i + 1 < record.size() && record[i + 1] == '"') {
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        ++i;
      }
      // Bytes between the closing quote and the next comma stay in the field
      // (lenient: real exports contain them).
      while (i < record.size() && record[i] != ',') ++i;
      pos = i;
    } else {
      while (pos < record.size() && record[pos] != ',') ++pos;
    }
    f.end = pos;
    fields.push_back(f);
    if (pos >= record.size()) break;
    ++pos;  // the comma
  }
  return fields;
}

std::string CsvValue(std::string_view raw) {
  if (raw.size() < 2 || raw.front() != '"') return std::string(raw);
  std::string out;
  const size_t close = raw.back() == '"' ? raw.size() - 1 : raw.size();
  for (size_t i = 1; i < close; ++i) {
    out.push_back(raw[i]);
    if (raw[i] == '"' && i + 1 < close && raw[i + 1] == '"') ++i;
  }
  return out;
}

std::string CsvQuote(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

size_t CsvQuoteState::Step(std::string_view text, size_t i) {
  const char c = text[i];
  if (in_quotes) {
    if (c == '"') {
      if (i + 1 < text.size() && text[i + 1] == '"') return i + 2;  // "" inside quotes
      in_quotes = false;
    }
    return i + 1;
  }
  if (c == ',' || c == '\n') {
    field_start = true;
  } else {
    if (c == '"' && field_start) in_quotes = true;
    field_start = false;
  }
  return i + 1;
}

size_t CsvRecordEnd(std::string_view text, size_t start, bool* open_quote) {
  CsvQuoteState q;
  size_t i = start;
  while (i < text.size() && (q.in_quotes || text[i] != '\n')) i = q.Step(text, i);
  if (open_quote != nullptr) *open_quote = q.in_quotes;
  return i;
}

std::vector<std::string> CsvHeader(std::string_view header_record) {
  header_record = header_record.substr(0, kMaxCsvHeaderBytes);
  std::vector<std::string> names;
  for (const CsvField& f : SplitCsvRecord(header_record)) {
    std::string v = CsvValue(header_record.substr(f.start, f.end - f.start));
    size_t b = 0, e = v.size();
    while (b < e && std::isspace(static_cast<unsigned char>(v[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(v[e - 1]))) --e;
    v = v.substr(b, e - b);
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    names.push_back(std::move(v));
  }
  return names;
}

}  // namespace beibu::policy::internal
