// The edge's end-to-end key agreement (docs/envelope.md, docs/data-plane.md):
// its own epoch keys (generated, persisted in data_dir/epoch with mode 0600,
// renewed every `rotation`, private halves kept until they expire, then
// destroyed) and the verified epoch keys of the other edges, fetched from the
// hub.
//
// Sending costs no SM2 operation once the pair (own key, peer key) is known:
// the epoch PRK is cached (EpochSecretCache) and a transfer's keys are
// derived with HKDF-SM3 only.
//
// On disk (dir = data_dir/epoch, mode 0700):
//   own/<key_id>.pem    the private share (PKCS#8, 0600), deleted at not_after
//   own/<key_id>.key    its signed v1.EpochKey record
//   peers/<key_id>.key  a verified peer record with its edge_certificate,
//                       re-verified at load, forgotten at not_after
// Peer keys are kept until their not_after (as own shares are): a sender uses
// a key at most `rotation` old, so a transfer has lifetime - rotation (48 h
// by default) to reach its destination before it can no longer be opened.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "beibu/envelope/epoch_secret_cache.h"
#include "beibu/envelope/transfer_keys.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/relay.pb.h"
#include "edge_identity.h"
#include "exchange/key_source.h"

namespace beibu::edge {

struct EpochKeyOptions {
  std::string dir;                           // data_dir/epoch
  std::chrono::seconds rotation{24 * 3600};  // a new own key this often
  std::chrono::seconds lifetime{72 * 3600};  // not_after - not_before
  std::chrono::seconds refresh{30};          // re-fetch peers' keys this often
  // The clock (tests move it); absl::Now when unset.
  std::function<absl::Time()> now;
};

// How far in the future a peer key's not_before may lie (clock skew between
// edges): such a key is accepted and used.
inline constexpr absl::Duration kEpochKeyClockSkew = absl::Minutes(5);

class EpochKeys final : public TransferKeySource {
 public:
  // Loads the own keys in dir (generating the first one) and the peers'
  // keys cached there. Does not contact the hub.
  static absl::StatusOr<std::unique_ptr<EpochKeys>> Open(EpochKeyOptions options,
                                                         EdgeIdentity* identity);
  ~EpochKeys() override;

  // The own current key record (signed), to publish, with this edge's
  // certificate in edge_certificate.
  v1::EpochKey current() const;

  // Sender side. Fills header->to_edge, sender_key_id and recipient_key_id
  // for the edge serving header->to_country and returns the transfer's keys.
  // UNAVAILABLE when no valid key of an edge of that country is known yet
  // (the hub was never reached): the caller refuses the send, retryable.
  // When several edges serve one country (certificate C), the key with the
  // latest not_before wins: a country's newest key marks its live edge.
  absl::StatusOr<envelope::TransferKeys> PrepareSend(v1::EnvelopeHeader* header) override;

  // Recipient side: the keys of a received header (own share by
  // recipient_key_id, the sender's point by sender_key_id, fetching unknown
  // keys: SyncWithHub, then retry). NOT_FOUND naming the key id when the own share
  // is gone (expired) or the sender's key is unknown even after a fetch.
  absl::StatusOr<envelope::TransferKeys> KeysFor(const v1::EnvelopeHeader& header) override;

  // Called with the hub session: publishes the current own key (rotating
  // first when due) and refreshes the peers' keys (GetEpochKeys), verifying
  // each against the trust bundle and its edge certificate; invalid keys are
  // logged and skipped. Safe to call repeatedly.
  absl::Status SyncWithHub(rpc::TunnelClient& hub);

  // Generates a new own key when the current one is older than `rotation`
  // (or none is valid), and destroys own shares and forgets peer keys whose
  // not_after passed, and peer keys whose certificate is now revoked.
  // SyncWithHub calls it first; exposed for tests and callers without a hub.
  absl::Status RotateIfDue();

  // Verifies a peer's published key (trust bundle, certificate identity =
  // key.edge_id with role edge, not revoked, then the key's signature and
  // validity, not_before up to kEpochKeyClockSkew ahead) and keeps it, in
  // memory and in dir/peers. The error says why a key was refused
  // (UNAUTHENTICATED / PERMISSION_DENIED / INVALID_ARGUMENT /
  // FAILED_PRECONDITION). This edge's own keys are ignored (OK).
  absl::Status AddPeerKey(const v1::EpochKey& key);

  // How often the relay link should call SyncWithHub (options.refresh).
  std::chrono::seconds refresh() const;
  // Called (outside any lock of this class, at most every 200 ms) when
  // PrepareSend finds no key for a destination country, so that the relay
  // link refreshes the peers' keys at once. Null to clear.
  void SetOnMissingPeer(std::function<void()> callback);

  // For tests and status: number of verified peer keys held.
  size_t peer_key_count() const;
  // Own key records still held (not expired), oldest first.
  std::vector<v1::EpochKey> own_keys() const;

 private:
  struct Impl;
  explicit EpochKeys(std::unique_ptr<Impl> impl);
  absl::StatusOr<envelope::TransferKeys> PrepareSendLocked(v1::EnvelopeHeader* header);
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::edge
