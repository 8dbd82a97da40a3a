// Desensitization: masking operators applied to detector findings and to
// named fields, by profile (profiles.yaml). Streams records with constant
// memory: `beibu mask --profile P FILE|-`.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/policy/database.h"
#include "beibu/policy/detector.h"

namespace beibu::policy {

// Applies one operator to one value. `type` is the finding type (used by
// kReplaceWithType); `key` is the pseudonym key (kPseudonym; must be at least
// 16 bytes, else INVALID_ARGUMENT). kGeneralizeDate/kGeneralizeNumber on a
// value that is not a date/number fall back to "[REDACTED]". kMask refuses a
// mask_char for which IsValidMaskChar is false. kPseudonym first brings the
// value to one spelling per type (separators dropped from identifier numbers,
// "+86" dropped from CN_MOBILE, EMAIL lower-cased; docs/masking.md), so
// variant spellings of one identifier get one token.
absl::StatusOr<std::string> ApplyMaskOp(const MaskOp& op, std::string_view value,
                                        std::string_view type, std::string_view key);

// The mask_char rule shared by ApplyMaskOp and the profile loader: printable
// ASCII (0x21-0x7E) other than '"', ',' and '\\'. Space, controls and
// non-ASCII bytes are refused.
bool IsValidMaskChar(char c);

struct MaskStats {
  uint64_t records = 0;
  uint64_t bytes_in = 0;
  uint64_t replaced = 0;  // values replaced
  // Things the caller should tell the user (the CLI prints each to stderr),
  // e.g. that a CSV input had no header line, so by_field rules did not apply.
  std::vector<std::string> warnings;
};

// A Masker holds per-stream state: SetCsvHeader and MaskStream change the
// column names used for the CSV records that follow. Use one instance per
// stream (and do not share one between threads while a stream runs);
// MaskRecord is const: it reads that state and never changes it.
class Masker {
 public:
  // `key` is required (>= 16 bytes) only when the profile uses kPseudonym.
  static absl::StatusOr<Masker> Create(const Detector& detector, const MaskProfile& profile,
                                       std::string key);

  // Masks one record: every finding whose type the profile names is replaced.
  // In kCsv/kJsonLines format, fields named in by_field are replaced whole
  // (CSV needs SetCsvHeader first; JSON keys are matched at any depth). JSON
  // object keys holding an identifier are masked too (docs/masking.md).
  absl::StatusOr<std::string> MaskRecord(std::string_view record, Format format) const;

  // Names the columns for kCsv records (the header line, as in the file).
  void SetCsvHeader(std::string_view header_line);

  // Reads `in` record by record (a CSV record may span lines inside quotes;
  // the first CSV record is the header and passes through, unless it holds an
  // identifier of a type the profile masks: then the input has no header, the
  // record is masked as text, by_field rules cannot apply and
  // MaskStats::warnings says so), writes masked
  // records to `out`. kAuto looks at the first record: '{' -> JSON lines, a
  // header-looking line with commas -> CSV, else text. A record above
  // max_record_bytes is INVALID_ARGUMENT naming its record number; malformed
  // JSON likewise. Memory is bounded by the longest record.
  absl::StatusOr<MaskStats> MaskStream(std::istream& in, std::ostream& out, Format format,
                                       size_t max_record_bytes = 16 << 20);

 private:
  Masker(const Detector& detector, const MaskProfile& profile, std::string key)
      : detector_(&detector), profile_(profile), key_(std::move(key)) {}
  const Detector* detector_;
  MaskProfile profile_;
  std::string key_;
  std::vector<std::string> csv_header_;  // lower-case column names
};

}  // namespace beibu::policy
