// A deterministic, seeded generator of labelled detection corpora for the
// policy detector (issue 4): CSV lines under a header, JSON lines, and free
// text in English, Chinese, Vietnamese, Thai, Malay and Indonesian.
//
// Every labelled identifier is built from the published rules
// (/work/shared/COMPLIANCE.md "Identifier formats" and the comments of
// beibu/policy/validators.h) by code written here, never by calling the
// validators, so the corpus can catch validator and detector bugs alike.
//
// Decoys (wrong checksums, impossible dates, order numbers, timestamps,
// phone-like numbers that are not CN mobiles, amounts, tracking numbers,
// digits glued into longer runs, version strings, IP-like strings, passport
// shapes and ICD-10 code shapes without context, e-mails with invalid domains) are written into the
// same text and must not be reported.
//
// Ambiguous shapes: a 12-digit number can satisfy both MY_MYKAD and VN_CCCD,
// a 16-digit one both BANK_CARD (Luhn) and ID_NIK, an 18-digit one CN
// RESIDENT_ID, BANK_CARD and CN_USCC. The detector resolves such overlaps by
// score, and context words change scores (detector.h step 5-6), so the
// "right" label of an ambiguous value would depend on the words around it.
// This corpus therefore only labels values that exactly one type's rules
// accept: each generated value is re-drawn while a (deliberately loose)
// check of any other type of the same shape accepts it. Precision and recall
// measured on it are about recognition, not about the tie-break.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "beibu/policy/detector.h"

namespace beibu::policy::corpus {

// One expected finding: `type` as in Detector::Types(), byte span [start, end)
// in Corpus::text.
struct Label {
  std::string type;
  size_t start = 0;
  size_t end = 0;
  // True for a PASSPORT in the CSV passport_no column and a HEALTH_ICD10 in
  // the primary_dx column: only found when the detector knows the CSV header
  // (Format::kCsv / ScanCsvRecord), not in kText.
  bool needs_column_context = false;
};

// A decoy written into the text; `kind` names what it imitates.
struct Decoy {
  std::string kind;
  size_t start = 0;
  size_t end = 0;
};

// One line of the corpus (no trailing newline), with its format.
struct Record {
  Format format = Format::kText;
  size_t start = 0;           // byte offset of the line in Corpus::text
  size_t end = 0;             // exclusive, before the '\n'
  std::vector<Label> labels;  // offsets in Corpus::text
  std::vector<Decoy> decoys;  // offsets in Corpus::text
};

struct Corpus {
  std::string text;  // lines joined by '\n', with a trailing '\n'
  // The CSV header line (without '\n') and its lower-case column names; a CSV
  // document starts with it, a mixed one repeats it before every CSV block.
  std::string csv_header;
  std::vector<std::string> csv_columns;
  std::vector<Record> records;  // header lines are not records
};

struct CorpusOptions {
  uint64_t seed = 1;
  size_t records = 1000;      // records to write ...
  size_t min_bytes = 0;       // ... or more, until the text has at least this size
  size_t block_records = 50;  // mixed corpora: records per format block
  // Share of records that carry identifiers. The others are business records
  // of the same format (logistics events: tracking numbers, timestamps,
  // amounts, HS codes, ports, order ids, multilingual notes) with no labels,
  // only decoys: real traffic is mostly such records. 1.0 (the default) draws
  // nothing extra, so a corpus is byte-identical to one made without it.
  double identifier_record_fraction = 1.0;
};

// A document of one format: kCsv (header line first), kJsonLines or kText.
Corpus GenerateDocument(Format format, const CorpusOptions& options);

// Blocks of `block_records` CSV (each block led by the header line), JSON and
// free-text records in turn, all in one text.
Corpus GenerateMixed(const CorpusOptions& options);

}  // namespace beibu::policy::corpus
