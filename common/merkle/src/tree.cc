// RFC 9162 §2.1 over stored perfect subtrees; see docs/merkle.md.
//
// The RFC tree of `size` leaves is the complete binary tree over the next
// power of two, with every node whose leaf range lies wholly at or beyond
// `size` removed, and every node left with a single (left) child replaced by
// that child. A node's hash is therefore MTH of its range clipped to `size`:
// a stored perfect node when the range is complete, otherwise an "ephemeral"
// node on the right edge, rebuilt from the perfect nodes covering it.
#include "beibu/merkle/tree.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace beibu::merkle {
namespace {

// Asks storage for perfect node (level, index) and checks its length.
absl::StatusOr<Bytes> Fetch(const Hasher& h, const NodeSource& nodes, uint32_t level,
                            uint64_t index) {
  absl::StatusOr<Bytes> node = nodes(level, index);
  if (!node.ok()) return node.status();
  if (node->size() != h.size()) {
    return absl::DataLossError(absl::StrCat("stored node (level ", level, ", index ", index,
                                            ") is ", node->size(), " bytes, want ", h.size()));
  }
  return node;
}

// MTH(D[begin:end]) for 0 <= begin < end where begin is a multiple of the
// largest power of two <= end - begin (true of every range the RFC tree
// makes: whole trees from 0 and right-edge ranges starting at a sibling).
// The range splits into one perfect node per set bit of end - begin, largest
// first; folding them from the right gives the RFC shape.
absl::StatusOr<Bytes> RangeRoot(const Hasher& h, const NodeSource& nodes, uint64_t begin,
                                uint64_t end) {
  const uint64_t n = end - begin;
  std::vector<Bytes> parts;
  parts.reserve(static_cast<size_t>(std::popcount(n)));
  uint64_t pos = begin;
  for (int level = std::bit_width(n) - 1; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((n & width) == 0) continue;
    absl::StatusOr<Bytes> node = Fetch(h, nodes, static_cast<uint32_t>(level), pos >> level);
    if (!node.ok()) return node.status();
    parts.push_back(*std::move(node));
    pos += width;
  }
  Bytes acc = std::move(parts.back());
  for (size_t i = parts.size() - 1; i-- > 0;) acc = h.HashChildren(parts[i], acc);
  return acc;
}

// The siblings on the way from node (level, pos >> level) to the root of the
// tree of `size` leaves, lowest first: RFC 9162 PATH generalised to start at
// a perfect node, which is also the tail of a consistency proof. At each
// level the sibling is absent (its range starts at or beyond `size`), a
// complete perfect node, or the ephemeral right-edge node over
// [sibling start, size).
absl::Status AppendPath(const Hasher& h, const NodeSource& nodes, uint32_t level, uint64_t pos,
                        uint64_t size, std::vector<Bytes>& out) {
  const int top = std::bit_width(size - 1);  // height of the tree of `size` leaves
  for (int l = static_cast<int>(level); l < top; ++l) {
    const uint64_t sibling = (pos >> l) ^ 1;
    const uint64_t start = sibling << l;
    if (start >= size) continue;
    absl::StatusOr<Bytes> node = size - start >= (uint64_t{1} << l)
                                     ? Fetch(h, nodes, static_cast<uint32_t>(l), sibling)
                                     : RangeRoot(h, nodes, start, size);
    if (!node.ok()) return node.status();
    out.push_back(*std::move(node));
  }
  return absl::OkStatus();
}

// The shape of an inclusion proof for `index` in a tree of `size` > index
// leaves: `inner` siblings below the level where the paths to `index` and to
// the last leaf meet (left or right, as the bits of index say), then
// `border` left siblings, one per set bit of index above that level.
struct ProofShape {
  int inner;
  int border;
};
ProofShape InclusionShape(uint64_t index, uint64_t size) {
  const int inner = std::bit_width(index ^ (size - 1));
  return {inner, std::popcount(inner >= 64 ? 0 : index >> inner)};
}

absl::Status CheckLength(const Hasher& h, ByteView hash, const std::string& what) {
  if (hash.size() != h.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", hash.size(), " bytes, want ", h.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckProofHashes(const Hasher& h, std::span<const Bytes> proof) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (absl::Status s = CheckLength(h, proof[i], absl::StrCat("proof hash ", i)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status WrongProofLength(size_t got, size_t want) {
  return absl::InvalidArgumentError(
      absl::StrCat("wrong proof length: ", got, " hashes, want ", want));
}

absl::Status RootMismatch(const std::string& detail) {
  return absl::DataLossError(absl::StrCat("root mismatch: ", detail));
}

bool Equal(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Hashes `seed` up through `proof`, bit i of `index` saying whether proof[i]
// is a left (1) or right (0) sibling.
Bytes ChainInner(const Hasher& h, Bytes seed, std::span<const Bytes> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    seed = ((index >> i) & 1) ? h.HashChildren(proof[i], seed) : h.HashChildren(seed, proof[i]);
  }
  return seed;
}

// Like ChainInner, but only through the left siblings: what the path gives
// for the tree that ends at `index` (the right siblings are not in it).
Bytes ChainInnerRight(const Hasher& h, Bytes seed, std::span<const Bytes> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if ((index >> i) & 1) seed = h.HashChildren(proof[i], seed);
  }
  return seed;
}

// Hashes `seed` up through left siblings only.
Bytes ChainBorderRight(const Hasher& h, Bytes seed, std::span<const Bytes> proof) {
  for (const Bytes& p : proof) seed = h.HashChildren(p, seed);
  return seed;
}

[[noreturn]] void Fatal(const std::string& what) {
  std::fprintf(stderr, "fatal: merkle::Appender: %s\n", what.c_str());
  std::abort();
}

}  // namespace

absl::StatusOr<Bytes> RootAt(const Hasher& h, const NodeSource& nodes, uint64_t size) {
  if (size == 0) return h.EmptyRoot();
  return RangeRoot(h, nodes, 0, size);
}

absl::StatusOr<std::vector<Bytes>> InclusionProof(const Hasher& h, const NodeSource& nodes,
                                                  uint64_t index, uint64_t size) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is not below tree size ", size));
  }
  std::vector<Bytes> proof;
  ProofShape shape = InclusionShape(index, size);
  proof.reserve(static_cast<size_t>(shape.inner + shape.border));
  if (absl::Status s = AppendPath(h, nodes, 0, index, size, proof); !s.ok()) return s;
  return proof;
}

absl::StatusOr<std::vector<Bytes>> ConsistencyProof(const Hasher& h, const NodeSource& nodes,
                                                    uint64_t old_size, uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a consistency proof needs 0 < old size <= new size (old ", old_size, ", new ", new_size,
        ")"));
  }
  std::vector<Bytes> proof;
  if (old_size == new_size) return proof;
  // The largest perfect subtree ending at old_size: its hash starts the
  // proof (unless it is the whole old tree, which the verifier holds as the
  // old root), followed by its path in the new tree.
  const uint32_t level = static_cast<uint32_t>(std::countr_zero(old_size));
  const uint64_t index = (old_size - 1) >> level;
  if (index != 0) {
    absl::StatusOr<Bytes> node = Fetch(h, nodes, level, index);
    if (!node.ok()) return node.status();
    proof.push_back(*std::move(node));
  }
  if (absl::Status s = AppendPath(h, nodes, level, index << level, new_size, proof); !s.ok()) {
    return s;
  }
  return proof;
}

absl::Status VerifyInclusion(const Hasher& h, uint64_t index, uint64_t size, ByteView leaf_hash,
                             std::span<const Bytes> proof, ByteView root) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is not below tree size ", size));
  }
  if (absl::Status s = CheckLength(h, leaf_hash, "leaf hash"); !s.ok()) return s;
  if (absl::Status s = CheckLength(h, root, "root"); !s.ok()) return s;
  if (absl::Status s = CheckProofHashes(h, proof); !s.ok()) return s;
  const ProofShape shape = InclusionShape(index, size);
  const size_t want = static_cast<size_t>(shape.inner + shape.border);
  if (proof.size() != want) return WrongProofLength(proof.size(), want);

  Bytes r = ChainInner(h, Bytes(leaf_hash.begin(), leaf_hash.end()), proof.first(shape.inner),
                       index);
  r = ChainBorderRight(h, std::move(r), proof.subspan(shape.inner));
  if (!Equal(r, root)) {
    return RootMismatch(absl::StrCat("the proof does not lead from leaf ", index,
                                     " to the root of the tree of size ", size));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(const Hasher& h, uint64_t old_size, uint64_t new_size,
                               ByteView old_root, ByteView new_root,
                               std::span<const Bytes> proof) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("old size ", old_size, " is larger than new size ", new_size));
  }
  if (absl::Status s = CheckLength(h, old_root, "old root"); !s.ok()) return s;
  if (absl::Status s = CheckLength(h, new_root, "new root"); !s.ok()) return s;
  if (absl::Status s = CheckProofHashes(h, proof); !s.ok()) return s;

  if (old_size == new_size || old_size == 0) {
    if (!proof.empty()) return WrongProofLength(proof.size(), 0);
    if (old_size == 0 && !Equal(old_root, h.EmptyRoot())) {
      return RootMismatch("the old root is not the root of the empty tree");
    }
    if (old_size == new_size && !Equal(old_root, new_root)) {
      return RootMismatch(absl::StrCat("two different roots for tree size ", old_size));
    }
    return absl::OkStatus();
  }

  // 0 < old_size < new_size. The proof is the hash of the largest perfect
  // subtree ending at old_size (left out when that subtree is the whole old
  // tree: its hash is old_root) followed by that subtree's inclusion path in
  // the new tree, which lacks the `shift` levels below the subtree.
  ProofShape shape = InclusionShape(old_size - 1, new_size);
  const int shift = std::countr_zero(old_size);
  const int inner = shape.inner - shift;  // > 0 as old_size < new_size
  const bool whole = old_size == (uint64_t{1} << shift);
  const size_t start = whole ? 0 : 1;
  const size_t want = start + static_cast<size_t>(inner + shape.border);
  if (proof.size() != want) return WrongProofLength(proof.size(), want);

  const Bytes seed = whole ? Bytes(old_root.begin(), old_root.end()) : proof[0];
  std::span<const Bytes> path = proof.subspan(start);
  const uint64_t mask = (old_size - 1) >> shift;

  Bytes r1 = ChainInnerRight(h, seed, path.first(static_cast<size_t>(inner)), mask);
  r1 = ChainBorderRight(h, std::move(r1), path.subspan(static_cast<size_t>(inner)));
  if (!Equal(r1, old_root)) {
    return RootMismatch(
        absl::StrCat("the proof does not lead to the old root (tree size ", old_size, ")"));
  }
  Bytes r2 = ChainInner(h, seed, path.first(static_cast<size_t>(inner)), mask);
  r2 = ChainBorderRight(h, std::move(r2), path.subspan(static_cast<size_t>(inner)));
  if (!Equal(r2, new_root)) {
    return RootMismatch(
        absl::StrCat("the proof does not lead to the new root (tree size ", new_size, ")"));
  }
  return absl::OkStatus();
}

Appender::Appender(const Hasher& h, uint64_t size, std::vector<Bytes> frontier)
    : h_(&h), size_(size), frontier_(std::move(frontier)) {
  // A frontier that does not match `size` would silently build a wrong tree;
  // callers resuming from storage must check it (see docs/merkle.md).
  if (frontier_.size() != static_cast<size_t>(std::popcount(size_))) {
    Fatal(absl::StrCat("a tree of size ", size_, " has ", std::popcount(size_),
                       " frontier nodes, got ", frontier_.size()));
  }
  for (const Bytes& node : frontier_) {
    if (node.size() != h.size()) {
      Fatal(absl::StrCat("frontier node is ", node.size(), " bytes, want ", h.size()));
    }
  }
}

void Appender::Append(
    ByteView leaf_hash,
    const std::function<void(uint32_t level, uint64_t index, ByteView hash)>& on_node) {
  if (leaf_hash.size() != h_->size()) {
    Fatal(absl::StrCat("leaf hash is ", leaf_hash.size(), " bytes, want ", h_->size()));
  }
  if (size_ == UINT64_MAX) Fatal("the tree is full");
  const uint64_t index = size_;
  Bytes node(leaf_hash.begin(), leaf_hash.end());
  if (on_node) on_node(0, index, node);
  // Each trailing 1 bit of the index completes one more perfect node, with
  // the frontier's smallest node as its left child.
  uint32_t level = 0;
  while ((index >> level) & 1) {
    node = h_->HashChildren(frontier_.back(), node);
    frontier_.pop_back();
    ++level;
    if (on_node) on_node(level, index >> level, node);
  }
  frontier_.push_back(std::move(node));
  ++size_;
}

Bytes Appender::Root() const {
  if (frontier_.empty()) return h_->EmptyRoot();
  Bytes acc = frontier_.back();
  for (size_t i = frontier_.size() - 1; i-- > 0;) acc = h_->HashChildren(frontier_[i], acc);
  return acc;
}

}  // namespace beibu::merkle
