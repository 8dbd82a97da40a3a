// Destination-side checks of a relayed envelope slice, before anything is
// stored (docs/envelope.md): the header is addressed to this edge, the slice
// continues the transfer exactly where the stored chunks end, and every chunk
// opens (tag, order, sizes). Pure: no store, no keys lookup, no I/O; the relay
// link supplies the keys and the stored position. Plaintext is discarded.
//
//   absl::StatusOr<v1::EnvelopeHeader> h = ParseSliceHeader(env, "edge-cn");
//   absl::StatusOr<TransferKeys> keys = epoch_keys->KeysFor(*h);
//   absl::StatusOr<SliceCheck> c = VerifySlice(*keys, env, position);
//
// What a hub cannot do undetected, and the error each gives:
//   altered header or chunk          UNAUTHENTICATED "chunk i: ..." (tag)
//   header of another edge           PERMISSION_DENIED "addressed to edge ..."
//   dropped / reordered slice        OUT_OF_RANGE "slice starts at chunk a but
//                                    chunk b is the next expected ..."
//   chunks moved within a slice      UNAUTHENTICATED (each tag binds its index)
//   a chunk cut short                INVALID_ARGUMENT / UNAUTHENTICATED
//   slice beyond the header's count  INVALID_ARGUMENT "runs past ..."
//   last chunk dropped               the slice verifies (a prefix is
//                                    authentic) but never completes the
//                                    delivery: it stays out of the inbox and
//                                    the source gets no NOTICE_DELIVERED. The
//                                    format cannot tell a truncated final
//                                    slice from a slice followed by more.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/envelope/transfer_keys.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::edge {

// Where a delivery stands: chunks 0..next_chunk-1 are verified (stored), and
// they held opened_bytes plaintext bytes (DeliveryRecord.chunks_stored /
// bytes_stored).
struct SlicePosition {
  uint32_t next_chunk = 0;
  uint64_t opened_bytes = 0;
  bool operator==(const SlicePosition&) const = default;
};

struct SliceCheck {
  // True when every chunk of the slice is already stored (a hub resending
  // after a lost acknowledgement): skip it, it is not an attack.
  bool duplicate = false;
  SlicePosition next;      // the position after this slice
  bool completes = false;  // the slice ends with the transfer's last chunk
};

// Parses a slice's header and checks it is one this edge should open:
// INVALID_ARGUMENT if the envelope carries a notice or no header, or the
// header does not parse; PERMISSION_DENIED if it is addressed to another edge.
absl::StatusOr<v1::EnvelopeHeader> ParseSliceHeader(const v1::Envelope& envelope,
                                                    const std::string& self_edge_id);

// Verifies every chunk of `envelope` (a slice of the transfer whose header it
// carries) with `keys`, resuming at `at`. Errors as in the file comment.
absl::StatusOr<SliceCheck> VerifySlice(const envelope::TransferKeys& keys,
                                       const v1::Envelope& envelope, SlicePosition at);

}  // namespace beibu::edge
