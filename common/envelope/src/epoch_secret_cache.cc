#include "beibu/envelope/epoch_secret_cache.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "beibu/envelope/epoch_key.h"
#include "beibu/envelope/transfer_keys.h"

namespace beibu::envelope {

EpochSecretCache::EpochSecretCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

absl::StatusOr<Bytes> EpochSecretCache::GetOrDerive(const std::string& own_key_id,
                                                    const std::string& peer_key_id,
                                                    const crypto::Sm2KeyShare& own_share,
                                                    ByteView peer_point) {
  Key key(own_key_id, peer_key_id);
  {
    absl::MutexLock lock(&mu_);
    if (auto it = prks_.find(key); it != prks_.end()) return it->second;
  }
  if (EpochKeyId(peer_point) != peer_key_id) {
    return absl::InvalidArgumentError(absl::StrCat("peer epoch point does not match key id ",
                                                   peer_key_id, "; refusing to cache it"));
  }
  // Derived outside the lock: the SM2 operation must not serialize other
  // transfers. Two racing misses both derive the same value; one insert wins.
  absl::StatusOr<Bytes> prk = DeriveEpochPrk(own_share, peer_point);
  if (!prk.ok()) return prk.status();
  absl::MutexLock lock(&mu_);
  if (prks_.emplace(key, *prk).second) {
    order_.push_back(key);
    while (order_.size() > capacity_) {
      prks_.erase(order_.front());
      order_.pop_front();
    }
  }
  return prk;
}

size_t EpochSecretCache::size() const {
  absl::MutexLock lock(&mu_);
  return prks_.size();
}

}  // namespace beibu::envelope
