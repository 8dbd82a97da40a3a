#include "exchange/payload_pipeline.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace beibu::edge {

IncrementalScanner::IncrementalScanner(const policy::Detector& detector, policy::Format format)
    : detector_(&detector), format_(format) {}

void IncrementalScanner::ScanText(std::string_view text) {
  if (text.empty()) return;
  std::vector<policy::Finding> findings;
  if (format_ == policy::Format::kCsv) {
    if (first_) {
      size_t eol = text.find('\n');
      csv_header_ = std::string(text.substr(0, eol == std::string_view::npos ? text.size() : eol));
      if (csv_header_.size() > kMaxCarry) csv_header_.clear();  // not a real header
      findings = detector_->Scan(text, format_);
    } else {
      std::string with_header = csv_header_;
      with_header.push_back('\n');
      with_header.append(text);
      findings = detector_->Scan(with_header, format_);
    }
  } else {
    findings = detector_->Scan(text, format_);
  }
  first_ = false;
  for (policy::Finding& f : findings) types_.insert(std::move(f.type));
}

void IncrementalScanner::Feed(std::string_view data) {
  if (data.empty()) return;
  if (format_ == policy::Format::kAuto) {
    format_ = policy::SniffFormat(data);
  }
  carry_.append(data);
  size_t eol = carry_.rfind('\n');
  if (eol == std::string::npos) {
    if (carry_.size() < kMaxCarry) return;
    ScanText(carry_);
    carry_.clear();
    return;
  }
  ScanText(std::string_view(carry_).substr(0, eol + 1));
  carry_.erase(0, eol + 1);
  if (carry_.size() >= kMaxCarry) {
    ScanText(carry_);
    carry_.clear();
  }
}

std::set<std::string> IncrementalScanner::Finish() {
  ScanText(carry_);
  carry_.clear();
  return types_;
}

StagedRawBuf::int_type StagedRawBuf::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  if (next_ >= size_ || !status_.ok()) return traits_type::eof();
  absl::StatusOr<std::string> seg = store_->ReadRawSegment(id_, next_);
  if (!seg.ok()) {
    status_ = seg.status();
    return traits_type::eof();
  }
  if (seg->empty()) {
    status_ = absl::DataLossError(
        absl::StrCat("transfer '", id_, "': empty staged segment at offset ", next_));
    return traits_type::eof();
  }
  buf_ = *std::move(seg);
  next_ += buf_.size();
  setg(buf_.data(), buf_.data(), buf_.data() + buf_.size());
  return traits_type::to_int_type(buf_[0]);
}

absl::StatusOr<SealedPayload> SealPayload(
    std::istream& in, uint64_t size, const envelope::TransferKeys& keys, v1::EnvelopeHeader header,
    const std::function<absl::Status(uint32_t part, v1::Envelope envelope)>& sink) {
  const size_t chunk_size = envelope::kDefaultChunkSize;
  header.set_size(size);
  absl::StatusOr<envelope::ChunkSealer> sealer =
      envelope::ChunkSealer::Create(keys, std::move(header), chunk_size);
  if (!sealer.ok()) return sealer.status();
  SealedPayload out;
  out.header_bytes = sealer->header_bytes();
  const uint32_t chunks = sealer->header().chunks();
  // Only as large as the largest chunk: a 1 KiB message must not pay for
  // zeroing a 1 MiB buffer.
  std::string buf(static_cast<size_t>(std::min<uint64_t>(size, chunk_size)), '\0');
  v1::Envelope slice;
  uint64_t remaining = size;
  for (uint32_t i = 0; i < chunks; ++i) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, chunk_size));
    in.read(buf.data(), static_cast<std::streamsize>(want));
    if (static_cast<size_t>(in.gcount()) != want) {
      return absl::DataLossError(absl::StrCat("payload ended after ",
                                              size - remaining + in.gcount(), " of ", size,
                                              " bytes while sealing"));
    }
    remaining -= want;
    bool last = i + 1 == chunks;
    absl::StatusOr<std::string> sealed =
        sealer->Seal(AsBytes(std::string_view(buf.data(), want)), last);
    if (!sealed.ok()) return sealed.status();
    if (slice.sealed_chunks_size() == 0) {
      slice.set_header(out.header_bytes);
      slice.set_first_chunk(i);
    }
    slice.add_sealed_chunks(*std::move(sealed));
    if (slice.sealed_chunks_size() == static_cast<int>(kChunksPerSlice) || last) {
      if (absl::Status s = sink(out.parts, std::move(slice)); !s.ok()) return s;
      ++out.parts;
      slice = v1::Envelope();
    }
  }
  return out;
}

}  // namespace beibu::edge
