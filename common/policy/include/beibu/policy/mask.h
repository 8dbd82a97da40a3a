// Desensitization: masking operators applied to detector findings and to
// named fields, by profile (profiles.yaml). Streams records with constant
// memory: `beibu mask --profile P FILE|-`.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "beibu/policy/database.h"
#include "beibu/policy/detector.h"

namespace beibu::policy {

// Applies one operator to one value. `type` is the finding type (used by
// kReplaceWithType); `key` is the pseudonym key (kPseudonym; must be at least
// 16 bytes, else INVALID_ARGUMENT). kGeneralizeDate/kGeneralizeNumber on a
// value that is not a date/number fall back to "[REDACTED]".
absl::StatusOr<std::string> ApplyMaskOp(const MaskOp& op, std::string_view value,
                                        std::string_view type, std::string_view key);

struct MaskStats {
  uint64_t records = 0;
  uint64_t bytes_in = 0;
  uint64_t replaced = 0;  // values replaced
};

class Masker {
 public:
  // `key` is required (>= 16 bytes) only when the profile uses kPseudonym.
  static absl::StatusOr<Masker> Create(const Detector& detector, const MaskProfile& profile,
                                       std::string key);

  // Masks one record: every finding whose type the profile names is replaced.
  // In kCsv/kJsonLines format, fields named in by_field are replaced whole
  // (CSV needs SetCsvHeader first; JSON keys are matched at any depth).
  absl::StatusOr<std::string> MaskRecord(std::string_view record, Format format) const;

  // Names the columns for kCsv records (the header line, as in the file).
  void SetCsvHeader(std::string_view header_line);

  // Reads `in` record by record (a CSV record may span lines inside quotes;
  // the first CSV line is the header and passes through), writes masked
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
