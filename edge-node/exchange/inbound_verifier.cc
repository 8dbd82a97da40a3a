#include "exchange/inbound_verifier.h"

#include "absl/strings/str_cat.h"
#include "beibu/envelope/seal.h"

namespace beibu::edge {

absl::StatusOr<v1::EnvelopeHeader> ParseSliceHeader(const v1::Envelope& envelope,
                                                    const std::string& self_edge_id) {
  if (envelope.has_notice() || envelope.header().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("relay item ", envelope.relay_sequence(),
                     " is not an envelope slice (no header or a notice)"));
  }
  v1::EnvelopeHeader header;
  if (!header.ParseFromString(envelope.header())) {
    return absl::InvalidArgumentError(
        absl::StrCat("relay item ", envelope.relay_sequence(),
                     ": the envelope header does not parse as an EnvelopeHeader"));
  }
  if (header.to_edge() != self_edge_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("transfer ", header.transfer_id(), " is addressed to edge '", header.to_edge(),
                     "', not to this edge (", self_edge_id, "): misrouted by the hub"));
  }
  return header;
}

absl::StatusOr<SliceCheck> VerifySlice(const envelope::TransferKeys& keys,
                                       const v1::Envelope& envelope, SlicePosition at) {
  const uint64_t n = envelope.sealed_chunks_size();
  const uint64_t first = envelope.first_chunk();
  if (n == 0) return absl::InvalidArgumentError("envelope slice carries no chunk");
  SliceCheck check;
  if (first + n <= at.next_chunk) {
    check.duplicate = true;
    check.next = at;
    return check;
  }
  if (first != at.next_chunk) {
    return absl::OutOfRangeError(absl::StrCat(
        "slice starts at chunk ", first, " but chunk ", at.next_chunk,
        " is the next expected: a slice was dropped, reordered or overlaps one stored"));
  }
  absl::StatusOr<envelope::ChunkOpener> opener =
      envelope::ChunkOpener::Create(keys, envelope.header(), at.next_chunk, at.opened_bytes);
  if (!opener.ok()) return opener.status();
  if (first + n > opener->header().chunks()) {
    return absl::InvalidArgumentError(absl::StrCat("slice of chunks ", first, "..", first + n - 1,
                                                   " runs past the header's ",
                                                   opener->header().chunks(), " chunks"));
  }
  for (uint64_t i = 0; i < n; ++i) {
    // Opening checks the tag, the index and the sizes; the plaintext is
    // dropped here (the recipient opens the stored chunks again on read).
    absl::StatusOr<Bytes> plain =
        opener->Open(static_cast<uint32_t>(first + i), AsBytes(envelope.sealed_chunks(i)));
    if (!plain.ok()) return plain.status();
  }
  check.next = {opener->next_index(), opener->opened_bytes()};
  check.completes = check.next.next_chunk == opener->header().chunks();
  if (check.completes) {
    if (absl::Status s = opener->Finish(); !s.ok()) return s;
  }
  return check;
}

}  // namespace beibu::edge
