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
// True when `text` holds no open quoted field, i.e. a newline after it ends
// the record (a quoted field may contain newlines).
bool CsvRecordComplete(std::string_view text);
// Lower-cased, trimmed column names of a header record.
std::vector<std::string> CsvHeader(std::string_view header_record);

}  // namespace beibu::policy::internal
