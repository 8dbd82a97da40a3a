// The payload side of the accept path, in constant memory whatever the
// payload size: scanning on record boundaries, reading staged SendStream
// bytes back as a std::istream, and sealing an istream into envelope slices.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <set>
#include <streambuf>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "beibu/envelope/seal.h"
#include "beibu/policy/detector.h"
#include "exchange/exchange_store.h"

namespace beibu::edge {

// Scans a payload fed in pieces, cutting on line ends so that a record split
// between two pieces is scanned whole (a line longer than kMaxCarry is
// scanned in pieces). CSV pieces after the first are scanned with the header
// line in front, so column names still count as context.
class IncrementalScanner {
 public:
  static constexpr size_t kMaxCarry = size_t{1} << 20;
  // kAuto: the format is sniffed from the first piece.
  IncrementalScanner(const policy::Detector& detector, policy::Format format);
  void Feed(std::string_view data);
  // Scans what is left; returns the finding types seen (each once).
  std::set<std::string> Finish();
  // The format in use (kAuto until the first non-empty piece).
  policy::Format format() const { return format_; }

 private:
  void ScanText(std::string_view text);
  const policy::Detector* detector_;
  policy::Format format_;
  bool first_ = true;
  std::string carry_;
  std::string csv_header_;
  std::set<std::string> types_;
};

// Reads the bytes a SendStream staged (ExchangeStore::StageRaw) in order, one
// segment in memory at a time. A read error ends the stream early; status()
// says why.
class StagedRawBuf : public std::streambuf {
 public:
  StagedRawBuf(const ExchangeStore* store, std::string transfer_id, uint64_t size)
      : store_(store), id_(std::move(transfer_id)), size_(size) {}
  const absl::Status& status() const { return status_; }

 protected:
  int_type underflow() override;

 private:
  const ExchangeStore* store_;
  std::string id_;
  uint64_t size_;
  uint64_t next_ = 0;
  std::string buf_;
  absl::Status status_;
};

// Seals `size` bytes read from `in` with `keys` into slices of at most
// kChunksPerSlice chunks of kDefaultChunkSize; `sink(part, envelope)` takes
// each slice in order (first_chunk set). `header.size` is set here. Returns
// the header bytes (the AAD) and the number of slices.
struct SealedPayload {
  std::string header_bytes;
  uint32_t parts = 0;
};
inline constexpr uint32_t kChunksPerSlice = 4;
absl::StatusOr<SealedPayload> SealPayload(
    std::istream& in, uint64_t size, const envelope::TransferKeys& keys, v1::EnvelopeHeader header,
    const std::function<absl::Status(uint32_t part, v1::Envelope envelope)>& sink);

}  // namespace beibu::edge
