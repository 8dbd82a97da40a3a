// The edge's end-to-end key agreement (docs/envelope.md, docs/data-plane.md):
// its own epoch keys (generated, persisted in data_dir/epoch with mode 0600,
// renewed every `rotation`, private halves kept until they expire, then
// destroyed) and the verified epoch keys of the other edges, fetched from the
// hub.
//
// Sending costs no SM2 operation once the pair (own key, peer key) is known:
// the epoch PRK is cached (EpochSecretCache) and a transfer's keys are
// derived with HKDF-SM3 only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/envelope/epoch_secret_cache.h"
#include "beibu/envelope/transfer_keys.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/relay.pb.h"
#include "edge_identity.h"

namespace beibu::edge {

struct EpochKeyOptions {
  std::string dir;                                   // data_dir/epoch
  std::chrono::seconds rotation{24 * 3600};          // a new own key this often
  std::chrono::seconds lifetime{72 * 3600};          // not_after - not_before
  std::chrono::seconds refresh{30};                  // re-fetch peers' keys this often
};

class EpochKeys {
 public:
  // Loads the own keys in dir (generating the first one) and the peers'
  // keys cached there. Does not contact the hub.
  static absl::StatusOr<std::unique_ptr<EpochKeys>> Open(EpochKeyOptions options,
                                                        EdgeIdentity* identity);
  ~EpochKeys();

  // The own current key record (signed), to publish.
  v1::EpochKey current() const;

  // Sender side. Fills header->to_edge, sender_key_id and recipient_key_id
  // for the edge serving header->to_country and returns the transfer's keys.
  // UNAVAILABLE when no valid key of an edge of that country is known yet
  // (the hub was never reached): the caller refuses the send, retryable.
  absl::StatusOr<envelope::TransferKeys> PrepareSend(v1::EnvelopeHeader* header);

  // Recipient side: the keys of a received header (own share by
  // recipient_key_id, the sender's point by sender_key_id, fetching unknown
  // keys through `fetch`). NOT_FOUND naming the key id when the own share
  // is gone (expired) or the sender's key is unknown even after a fetch.
  absl::StatusOr<envelope::TransferKeys> KeysFor(const v1::EnvelopeHeader& header);

  // Called with the hub session: publishes the current own key (rotating
  // first when due) and refreshes the peers' keys (GetEpochKeys), verifying
  // each against the trust bundle and its edge certificate; invalid keys are
  // logged and skipped. Safe to call repeatedly.
  absl::Status SyncWithHub(rpc::TunnelClient& hub);

  // For tests and status: number of verified peer keys held.
  size_t peer_key_count() const;

 private:
  struct Impl;
  explicit EpochKeys(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::edge
