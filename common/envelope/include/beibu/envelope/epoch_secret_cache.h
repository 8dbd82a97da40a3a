// Caches epoch PRKs so that a transfer between edges that already know each
// other's epoch keys costs no SM2 operation.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm2.h"

namespace beibu::envelope {

// Thread-safe, bounded: beyond `capacity` pairs the oldest entry is evicted
// (epoch keys are renewed, so old pairs stop being used).
class EpochSecretCache {
 public:
  explicit EpochSecretCache(size_t capacity = 1024);

  // The PRK for (own_key_id, peer_key_id), derived with DeriveEpochPrk on a
  // miss. INVALID_ARGUMENT if peer_key_id is not EpochKeyId(peer_point) (so a
  // wrong point can never be cached under a trusted id) or the point is bad.
  // own_share must be the share whose key id is own_key_id.
  absl::StatusOr<Bytes> GetOrDerive(const std::string& own_key_id, const std::string& peer_key_id,
                                    const crypto::Sm2KeyShare& own_share, ByteView peer_point);

  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  using Key = std::pair<std::string, std::string>;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::map<Key, Bytes> prks_ ABSL_GUARDED_BY(mu_);
  std::deque<Key> order_ ABSL_GUARDED_BY(mu_);  // insertion order, oldest first
};

}  // namespace beibu::envelope
