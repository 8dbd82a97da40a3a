// RFC 9162 §2.1 Merkle tree algorithms over stored subtree hashes: roots of
// any size, inclusion and consistency proofs (generation and verification).
// Pure code: no I/O. Storage supplies the hashes of *perfect* subtrees
// through NodeSource, so a root or a proof costs O(log n) lookups.
//
// Node addressing: node (level, index) is the root of the perfect subtree
// over leaves [index << level, (index + 1) << level). Level 0 nodes are leaf
// hashes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/merkle/hasher.h"

namespace beibu::merkle {

// Returns the hash of perfect node (level, index); the caller guarantees the
// node is complete in the tree being asked about.
using NodeSource = std::function<absl::StatusOr<Bytes>(uint32_t level, uint64_t index)>;

// The root of the tree of the first `size` leaves (EmptyRoot() for 0).
absl::StatusOr<Bytes> RootAt(const Hasher& h, const NodeSource& nodes, uint64_t size);

// RFC 9162 §2.1.3.1 PATH(index, D[0:size]). INVALID_ARGUMENT if index >= size.
absl::StatusOr<std::vector<Bytes>> InclusionProof(const Hasher& h, const NodeSource& nodes,
                                                  uint64_t index, uint64_t size);

// RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]). INVALID_ARGUMENT unless
// 0 < old_size <= new_size; empty for old_size == new_size.
absl::StatusOr<std::vector<Bytes>> ConsistencyProof(const Hasher& h, const NodeSource& nodes,
                                                    uint64_t old_size, uint64_t new_size);

// RFC 9162 §2.1.3.2. OK when valid. Checks sizes and hash lengths before
// hashing: INVALID_ARGUMENT for malformed input (index >= size, wrong hash
// length, wrong proof length), DATA_LOSS "root mismatch" when it does not verify.
absl::Status VerifyInclusion(const Hasher& h, uint64_t index, uint64_t size, ByteView leaf_hash,
                             std::span<const Bytes> proof, ByteView root);

// RFC 9162 §2.1.4.2. Same error conventions. old_size == new_size needs an
// empty proof and equal roots; old_size 0 is consistent with anything only
// with an empty proof.
absl::Status VerifyConsistency(const Hasher& h, uint64_t old_size, uint64_t new_size,
                               ByteView old_root, ByteView new_root,
                               std::span<const Bytes> proof);

// Maintains the right edge of a growing tree ("compact range"): Append()
// reports every perfect node it completes, so storage can record them.
class Appender {
 public:
  // Resumes a tree of `size` leaves from the perfect nodes on its right edge
  // (one per set bit of size, largest first), as Frontier() returns them.
  Appender(const Hasher& h, uint64_t size, std::vector<Bytes> frontier);
  explicit Appender(const Hasher& h) : Appender(h, 0, {}) {}

  // Adds a leaf hash; calls `on_node(level, index, hash)` for the leaf
  // (level 0) and for every perfect node it completes.
  void Append(ByteView leaf_hash,
              const std::function<void(uint32_t level, uint64_t index, ByteView hash)>& on_node);

  uint64_t size() const { return size_; }
  Bytes Root() const;
  const std::vector<Bytes>& Frontier() const { return frontier_; }

 private:
  const Hasher* h_;
  uint64_t size_;
  std::vector<Bytes> frontier_;  // perfect subtree roots, largest first
};

}  // namespace beibu::merkle
