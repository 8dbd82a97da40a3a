// Where the Exchange service gets a transfer's end-to-end keys. EpochKeys is
// the implementation; tests may use fixed shares.
#pragma once

#include "absl/status/statusor.h"
#include "beibu/envelope/transfer_keys.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::edge {

class TransferKeySource {
 public:
  virtual ~TransferKeySource() = default;
  // Sender side: fills header->to_edge, sender_key_id and recipient_key_id for
  // the edge serving header->to_country and returns the transfer's keys.
  // UNAVAILABLE when no key of an edge of that country is known yet.
  virtual absl::StatusOr<envelope::TransferKeys> PrepareSend(v1::EnvelopeHeader* header) = 0;
  // Recipient side: the keys of a received header. NOT_FOUND naming the key
  // id when the own share is gone or the sender's key is unknown.
  virtual absl::StatusOr<envelope::TransferKeys> KeysFor(const v1::EnvelopeHeader& header) = 0;
};

}  // namespace beibu::edge
