// RFC 4180 field splitting for one CSV record, shared by the detector (column
// names as context) and the masker (replacing named columns). Internal.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace beibu::policy::internal {

struct CsvField {
  size_t start = 0;  // raw field bytes in the record, quotes included
  size_t end = 0;
  bool quoted = false;
};

// Never fails: an unbalanced quote makes the last field run to the end. A
// trailing "\r" (CRLF files) is not part of the last field.
std::vector<CsvField> SplitCsvRecord(std::string_view record);
// The value of a raw field: outer quotes removed, "" -> ".
std::string CsvValue(std::string_view raw_field);
// `value` as a field: quoted (with "" escaping) iff it contains , " \r or \n.
std::string CsvQuote(std::string_view value);
// The quote rule of SplitCsvRecord, incrementally: a '"' opens a quoted
// field only as the field's first byte, "" inside is an escaped quote, the
// next lone '"' closes. A stray quote in an unquoted field ("5\" pipe") opens
// nothing, so it cannot glue the following lines into one record.
struct CsvQuoteState {
  bool in_quotes = false;
  bool field_start = true;
  // Consumes text[i] (and text[i + 1] for an escaped quote); returns the
  // index after what it consumed.
  size_t Step(std::string_view text, size_t i);
  // Feeds whole lines (ending with '\n' or the input) so that a "" pair never
  // straddles two calls.
  void Feed(std::string_view text) {
    for (size_t i = 0; i < text.size();) i = Step(text, i);
  }
};

// End of the record starting at `start`: the '\n' that closes it, or
// text.size(). A newline inside a quoted field does not end a record.
// *open_quote (optional) says whether the text ended inside a quoted field.
size_t CsvRecordEnd(std::string_view text, size_t start, bool* open_quote = nullptr);
// Column names are read from the first 64 KiB of a header record; columns
// beyond have no name (no context). Bounds the memory and the per-record
// cost of a hostile header of millions of columns.
inline constexpr size_t kMaxCsvHeaderBytes = 64 << 10;
// Lower-cased, trimmed column names of a header record.
std::vector<std::string> CsvHeader(std::string_view header_record);

}  // namespace beibu::policy::internal
