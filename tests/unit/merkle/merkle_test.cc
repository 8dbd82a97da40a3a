// common/merkle against a naive recursive RFC 9162 §2.1 reference, the
// SHA-256 vectors published with RFC 6962 implementations (Certificate
// Transparency / transparency-dev), and a catalogue of corrupted proofs.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <bit>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"

namespace beibu::merkle {
namespace {

using absl::StatusCode;

Bytes Hex(std::string_view hex) {
  absl::StatusOr<Bytes> b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : Bytes{};
}

std::vector<std::string> HexAll(const std::vector<Bytes>& v) {
  std::vector<std::string> out;
  for (const Bytes& b : v) out.push_back(HexEncode(b));
  return out;
}

// --- Raw hashes, independent of merkle::Hasher -------------------------------

Bytes RawSha256(ByteView data) {
  Bytes out(32);
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  return out;
}

Bytes RawSm3(ByteView data) {
  crypto::Sm3Digest d = crypto::Sm3::Hash(data);
  return Bytes(d.begin(), d.end());
}

using RawHash = Bytes (*)(ByteView);

// --- The naive reference: RFC 9162 §2.1 word for word ------------------------
//
// MTH, PATH and PROOF/SUBPROOF exactly as the RFC defines them, over the leaf
// data itself, with the prefixes written out here (not taken from Hasher).
// MTH(D[a:b]) is memoised: it is the same recursion, only not recomputed.
class Reference {
 public:
  Reference(RawHash hash, std::vector<Bytes> data) : hash_(hash), data_(std::move(data)) {}

  // MTH(D[begin:end]).
  const Bytes& Mth(uint64_t begin, uint64_t end) {
    auto key = std::make_pair(begin, end);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    Bytes h;
    const uint64_t n = end - begin;
    if (n == 0) {
      h = hash_({});
    } else if (n == 1) {
      Bytes in = {0x00};
      in.insert(in.end(), data_[begin].begin(), data_[begin].end());
      h = hash_(in);
    } else {
      const uint64_t k = LargestPowerOfTwoBelow(n);
      Bytes in = {0x01};
      Bytes l = Mth(begin, begin + k);
      const Bytes& r = Mth(begin + k, end);
      in.insert(in.end(), l.begin(), l.end());
      in.insert(in.end(), r.begin(), r.end());
      h = hash_(in);
    }
    return memo_.emplace(key, std::move(h)).first->second;
  }

  Bytes Root(uint64_t n) { return Mth(0, n); }
  Bytes LeafHash(uint64_t i) { return Mth(i, i + 1); }

  // PATH(m, D[0:n]).
  std::vector<Bytes> Path(uint64_t m, uint64_t n) { return PathIn(m, 0, n); }

  // PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true).
  std::vector<Bytes> Proof(uint64_t m, uint64_t n) { return SubProof(m, 0, n, true); }

  // The largest power of two smaller than n (n > 1).
  static uint64_t LargestPowerOfTwoBelow(uint64_t n) { return std::bit_floor(n - 1); }

 private:
  // PATH(m, D[begin:end]); m relative to begin.
  std::vector<Bytes> PathIn(uint64_t m, uint64_t begin, uint64_t end) {
    const uint64_t n = end - begin;
    if (n == 1) return {};
    const uint64_t k = LargestPowerOfTwoBelow(n);
    std::vector<Bytes> r;
    if (m < k) {
      r = PathIn(m, begin, begin + k);
      r.push_back(Mth(begin + k, end));
    } else {
      r = PathIn(m - k, begin + k, end);
      r.push_back(Mth(begin, begin + k));
    }
    return r;
  }

  // SUBPROOF(m, D[begin:end], b).
  std::vector<Bytes> SubProof(uint64_t m, uint64_t begin, uint64_t end, bool b) {
    const uint64_t n = end - begin;
    if (m == n) {
      if (b) return {};
      return {Mth(begin, end)};
    }
    const uint64_t k = LargestPowerOfTwoBelow(n);
    std::vector<Bytes> r;
    if (m <= k) {
      r = SubProof(m, begin, begin + k, b);
      r.push_back(Mth(begin + k, end));
    } else {
      r = SubProof(m - k, begin + k, end, false);
      r.push_back(Mth(begin, begin + k));
    }
    return r;
  }

  RawHash hash_;
  std::vector<Bytes> data_;
  std::map<std::pair<uint64_t, uint64_t>, Bytes> memo_;
};

// --- An in-memory log: an Appender recording every node it completes ---------

class MemTree {
 public:
  explicit MemTree(const Hasher& h) : h_(h), appender_(h) { frontiers_.push_back({}); }

  void Append(ByteView leaf_hash) {
    appender_.Append(leaf_hash, [this](uint32_t level, uint64_t index, ByteView hash) {
      if (levels_.size() <= level) levels_.resize(level + 1);
      // Nodes of a level complete in index order.
      ASSERT_EQ(index, levels_[level].size()) << "level " << level;
      levels_[level].emplace_back(hash.begin(), hash.end());
    });
    frontiers_.push_back(appender_.Frontier());
  }

  // Nodes as storage would serve them for the tree of `size` leaves; asking
  // for a node that is not complete in that tree is an error (the contract).
  NodeSource Source(uint64_t size) const {
    return [this, size](uint32_t level, uint64_t index) -> absl::StatusOr<Bytes> {
      ++lookups_;
      if (level >= 64 || level >= levels_.size() || index >= levels_[level].size() ||
          ((index + 1) << level) > size) {
        ADD_FAILURE() << "node (" << level << ", " << index << ") is not complete in size "
                      << size;
        return absl::FailedPreconditionError("incomplete node");
      }
      return levels_[level][index];
    };
  }

  uint64_t size() const { return appender_.size(); }
  const Appender& appender() const { return appender_; }
  const std::vector<Bytes>& FrontierAt(uint64_t size) const { return frontiers_[size]; }
  const std::vector<std::vector<Bytes>>& levels() const { return levels_; }
  uint64_t lookups() const { return lookups_; }

 private:
  const Hasher& h_;
  Appender appender_;
  std::vector<std::vector<Bytes>> levels_;
  std::vector<std::vector<Bytes>> frontiers_;  // frontier after each size
  mutable uint64_t lookups_ = 0;
};

// Leaf data of varied lengths.
std::vector<Bytes> MakeData(size_t n) {
  std::vector<Bytes> data;
  for (size_t i = 0; i < n; ++i) {
    std::string s = "audit entry " + std::to_string(i) + std::string(i % 7, '#');
    data.push_back(ToBytes(s));
  }
  return data;
}

// A log of `n` leaves with its reference.
struct Fixture {
  Fixture(const Hasher& h, RawHash raw, size_t n) : tree(h), ref(raw, MakeData(n)) {
    for (size_t i = 0; i < n; ++i) tree.Append(ref.LeafHash(i));
  }
  MemTree tree;
  Reference ref;
};

// --- Hashers ------------------------------------------------------------------

TEST(HasherTest, Sm3PrefixesAndEmptyRoot) {
  const Hasher& h = Sm3Hasher();
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(HexEncode(h.EmptyRoot()),
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
  Bytes a = RawSm3(ToBytes("a")), b = RawSm3(ToBytes("b"));
  Bytes leaf_in = {0x00, 'x', 'y'};
  EXPECT_EQ(h.HashLeaf(ToBytes("xy")), RawSm3(leaf_in));
  Bytes node_in = {0x01};
  node_in.insert(node_in.end(), a.begin(), a.end());
  node_in.insert(node_in.end(), b.begin(), b.end());
  EXPECT_EQ(h.HashChildren(a, b), RawSm3(node_in));
  // Long leaves take the incremental path; the result must be the same.
  Bytes big(10000, 0x5a);
  Bytes big_in = {0x00};
  big_in.insert(big_in.end(), big.begin(), big.end());
  EXPECT_EQ(h.HashLeaf(big), RawSm3(big_in));
  EXPECT_EQ(h.HashLeaf({}), RawSm3(Bytes{0x00}));
}

TEST(HasherTest, Sha256PrefixesAndEmptyRoot) {
  const Hasher& h = Sha256Hasher();
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(HexEncode(h.EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Bytes big(10000, 0x5a);
  Bytes big_in = {0x00};
  big_in.insert(big_in.end(), big.begin(), big.end());
  EXPECT_EQ(h.HashLeaf(big), RawSha256(big_in));
}

// --- Published SHA-256 vectors (RFC 6962 implementations) --------------------
//
// The leaves, roots and proofs of the Certificate Transparency C++/Go
// merkle tree tests, kept in transparency-dev/merkle's testonly package.

const std::vector<std::string> kVectorLeaves = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f"};

const std::vector<std::string> kVectorRoots = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

struct InclusionVector {
  uint64_t index;  // 0-based (the published tables count leaves from 1)
  uint64_t size;
  std::vector<std::string> proof;
};

const std::vector<InclusionVector> kInclusionVectors = {
    {0, 1, {}},
    {0, 8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

struct ConsistencyVector {
  uint64_t old_size;
  uint64_t new_size;
  std::vector<std::string> proof;
};

const std::vector<ConsistencyVector> kConsistencyVectors = {
    {1, 1, {}},
    {1, 8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

class Sha256VectorTest : public ::testing::Test {
 protected:
  Sha256VectorTest() : tree_(Sha256Hasher()), ref_(RawSha256, LeafData()) {
    for (const std::string& hex : kVectorLeaves) tree_.Append(Sha256Hasher().HashLeaf(Hex(hex)));
  }
  static std::vector<Bytes> LeafData() {
    std::vector<Bytes> d;
    for (const std::string& hex : kVectorLeaves) d.push_back(Hex(hex));
    return d;
  }
  const Hasher& h_ = Sha256Hasher();
  MemTree tree_;
  Reference ref_;
};

TEST_F(Sha256VectorTest, Roots) {
  EXPECT_EQ(HexEncode(*RootAt(h_, tree_.Source(0), 0)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(ref_.Root(0)), HexEncode(h_.EmptyRoot()));
  // Two leaf hashes are published on their own too.
  EXPECT_EQ(HexEncode(h_.HashLeaf({})),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(HexEncode(h_.HashLeaf(Bytes{0x00})),
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
  Appender app(h_);
  for (uint64_t n = 1; n <= kVectorRoots.size(); ++n) {
    app.Append(h_.HashLeaf(Hex(kVectorLeaves[n - 1])), nullptr);
    absl::StatusOr<Bytes> root = RootAt(h_, tree_.Source(n), n);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(HexEncode(*root), kVectorRoots[n - 1]) << "size " << n;
    EXPECT_EQ(HexEncode(ref_.Root(n)), kVectorRoots[n - 1]) << "reference, size " << n;
    EXPECT_EQ(HexEncode(app.Root()), kVectorRoots[n - 1]) << "appender, size " << n;
  }
}

TEST_F(Sha256VectorTest, InclusionProofs) {
  for (const InclusionVector& v : kInclusionVectors) {
    SCOPED_TRACE("index " + std::to_string(v.index) + " size " + std::to_string(v.size));
    absl::StatusOr<std::vector<Bytes>> proof =
        InclusionProof(h_, tree_.Source(v.size), v.index, v.size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(HexAll(*proof), v.proof);
    EXPECT_EQ(HexAll(ref_.Path(v.index, v.size)), v.proof);
    EXPECT_TRUE(VerifyInclusion(h_, v.index, v.size, ref_.LeafHash(v.index), *proof,
                                Hex(kVectorRoots[v.size - 1]))
                    .ok());
  }
}

TEST_F(Sha256VectorTest, ConsistencyProofs) {
  for (const ConsistencyVector& v : kConsistencyVectors) {
    SCOPED_TRACE("old " + std::to_string(v.old_size) + " new " + std::to_string(v.new_size));
    absl::StatusOr<std::vector<Bytes>> proof =
        ConsistencyProof(h_, tree_.Source(v.new_size), v.old_size, v.new_size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(HexAll(*proof), v.proof);
    EXPECT_EQ(HexAll(ref_.Proof(v.old_size, v.new_size)), v.proof);
    EXPECT_TRUE(VerifyConsistency(h_, v.old_size, v.new_size, Hex(kVectorRoots[v.old_size - 1]),
                                  Hex(kVectorRoots[v.new_size - 1]), *proof)
                    .ok());
  }
}

// RFC 9162 §2.1.5's example: the consistency proof between the trees of 3
// and 7 leaves is [c, d, g, l].
TEST(RfcExampleTest, ConsistencyThreeToSeven) {
  const Hasher& h = Sm3Hasher();
  Fixture f(h, RawSm3, 7);
  Bytes c = f.ref.Mth(2, 3), d = f.ref.Mth(3, 4), g = f.ref.Mth(0, 2), l = f.ref.Mth(4, 7);
  absl::StatusOr<std::vector<Bytes>> proof = ConsistencyProof(h, f.tree.Source(7), 3, 7);
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(*proof, (std::vector<Bytes>{c, d, g, l}));
  // And the inclusion proof for d0 in the tree of 7 is [b, h, l].
  Bytes b = f.ref.Mth(1, 2), hh = f.ref.Mth(2, 4);
  absl::StatusOr<std::vector<Bytes>> incl = InclusionProof(h, f.tree.Source(7), 0, 7);
  ASSERT_TRUE(incl.ok());
  EXPECT_EQ(*incl, (std::vector<Bytes>{b, hh, l}));
}

// --- Agreement with the reference, exhaustively ------------------------------

void CheckAllInclusion(const Hasher& h, RawHash raw, uint64_t max_size) {
  Fixture f(h, raw, max_size);
  uint64_t checked = 0;
  for (uint64_t n = 1; n <= max_size; ++n) {
    const NodeSource source = f.tree.Source(n);
    absl::StatusOr<Bytes> root = RootAt(h, source, n);
    ASSERT_TRUE(root.ok()) << root.status();
    const Bytes& want_root = f.ref.Root(n);
    ASSERT_EQ(*root, want_root) << "root of size " << n;
    for (uint64_t i = 0; i < n; ++i) {
      absl::StatusOr<std::vector<Bytes>> proof = InclusionProof(h, source, i, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, f.ref.Path(i, n)) << "index " << i << " size " << n;
      absl::Status s = VerifyInclusion(h, i, n, f.ref.LeafHash(i), *proof, want_root);
      ASSERT_TRUE(s.ok()) << "index " << i << " size " << n << ": " << s;
      ++checked;
    }
  }
  EXPECT_EQ(checked, max_size * (max_size + 1) / 2);
}

void CheckAllConsistency(const Hasher& h, RawHash raw, uint64_t max_size) {
  Fixture f(h, raw, max_size);
  for (uint64_t n = 1; n <= max_size; ++n) {
    const NodeSource source = f.tree.Source(n);
    for (uint64_t m = 1; m <= n; ++m) {
      absl::StatusOr<std::vector<Bytes>> proof = ConsistencyProof(h, source, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, f.ref.Proof(m, n)) << "old " << m << " new " << n;
      absl::Status s = VerifyConsistency(h, m, n, f.ref.Root(m), f.ref.Root(n), *proof);
      ASSERT_TRUE(s.ok()) << "old " << m << " new " << n << ": " << s;
    }
    // From the empty tree: only the empty proof.
    ASSERT_TRUE(VerifyConsistency(h, 0, n, h.EmptyRoot(), f.ref.Root(n), {}).ok());
  }
}

TEST(AgreementTest, Sm3EveryInclusionProofUpTo555) { CheckAllInclusion(Sm3Hasher(), RawSm3, 555); }
TEST(AgreementTest, Sm3EveryConsistencyPairUpTo100) {
  CheckAllConsistency(Sm3Hasher(), RawSm3, 100);
}
TEST(AgreementTest, Sha256EveryInclusionProofUpTo555) {
  CheckAllInclusion(Sha256Hasher(), RawSha256, 555);
}
TEST(AgreementTest, Sha256EveryConsistencyPairUpTo100) {
  CheckAllConsistency(Sha256Hasher(), RawSha256, 100);
}

// A proof costs O(log n) node lookups.
TEST(AgreementTest, LookupsAreLogarithmic) {
  const Hasher& h = Sm3Hasher();
  Fixture f(h, RawSm3, 555);
  for (uint64_t n : {1u, 2u, 100u, 511u, 512u, 513u, 555u}) {
    for (uint64_t i : {uint64_t{0}, n / 2, n - 1}) {
      uint64_t before = f.tree.lookups();
      ASSERT_TRUE(InclusionProof(h, f.tree.Source(n), i, n).ok());
      EXPECT_LE(f.tree.lookups() - before, 2u * std::bit_width(n)) << i << " " << n;
      before = f.tree.lookups();
      ASSERT_TRUE(ConsistencyProof(h, f.tree.Source(n), i + 1, n).ok());
      EXPECT_LE(f.tree.lookups() - before, 2u * std::bit_width(n) + 1) << i << " " << n;
      before = f.tree.lookups();
      ASSERT_TRUE(RootAt(h, f.tree.Source(n), n).ok());
      EXPECT_LE(f.tree.lookups() - before, static_cast<uint64_t>(std::popcount(n)));
    }
  }
}

// --- Appender -------------------------------------------------------------------

TEST(AppenderTest, RootAfterEveryAppendAndNodes) {
  const Hasher& h = Sm3Hasher();
  Fixture f(h, RawSm3, 300);
  Appender app(h);
  EXPECT_EQ(app.Root(), h.EmptyRoot());
  for (uint64_t n = 1; n <= 300; ++n) {
    app.Append(f.ref.LeafHash(n - 1), nullptr);
    ASSERT_EQ(app.size(), n);
    ASSERT_EQ(app.Root(), f.ref.Root(n)) << n;
    ASSERT_EQ(app.Frontier().size(), static_cast<size_t>(std::popcount(n)));
  }
  // Every recorded node is the MTH of its perfect range.
  const auto& levels = f.tree.levels();
  for (size_t level = 0; level < levels.size(); ++level) {
    for (uint64_t i = 0; i < levels[level].size(); ++i) {
      ASSERT_EQ(levels[level][i], f.ref.Mth(i << level, (i + 1) << level)) << level << " " << i;
    }
    EXPECT_EQ(levels[level].size(), 300u >> level);
  }
}

// Resuming from the frontier at any size continues exactly as the original.
TEST(AppenderTest, ResumeFromEveryFrontier) {
  const Hasher& h = Sm3Hasher();
  constexpr uint64_t kMax = 200;
  Fixture f(h, RawSm3, kMax);
  using Node = std::tuple<uint32_t, uint64_t, Bytes>;
  std::vector<std::vector<Node>> original(kMax);  // nodes reported by append #i
  {
    Appender app(h);
    for (uint64_t i = 0; i < kMax; ++i) {
      app.Append(f.ref.LeafHash(i), [&](uint32_t l, uint64_t x, ByteView hash) {
        original[i].emplace_back(l, x, Bytes(hash.begin(), hash.end()));
      });
    }
  }
  for (uint64_t start = 0; start <= kMax; ++start) {
    Appender app(h, start, f.tree.FrontierAt(start));
    ASSERT_EQ(app.size(), start);
    ASSERT_EQ(app.Root(), f.ref.Root(start)) << start;
    for (uint64_t i = start; i < kMax; ++i) {
      std::vector<Node> got;
      app.Append(f.ref.LeafHash(i), [&](uint32_t l, uint64_t x, ByteView hash) {
        got.emplace_back(l, x, Bytes(hash.begin(), hash.end()));
      });
      ASSERT_EQ(got, original[i]) << "resumed at " << start << ", append " << i;
      ASSERT_EQ(app.Root(), f.ref.Root(i + 1));
    }
  }
}

TEST(AppenderDeathTest, RefusesAMismatchedFrontier) {
  const Hasher& h = Sm3Hasher();
  EXPECT_DEATH(Appender(h, 3, {h.EmptyRoot()}), "frontier");
  EXPECT_DEATH(Appender(h, 1, {Bytes(31)}), "frontier node is 31 bytes");
  EXPECT_DEATH(
      {
        Appender app(h);
        app.Append(Bytes(5), nullptr);
      },
      "leaf hash is 5 bytes");
}

// --- Huge trees: all leaves equal, so every perfect node of a level is the same --

class UniformTree {
 public:
  explicit UniformTree(const Hasher& h) : h_(h) {
    levels_.push_back(h.HashLeaf(ToBytes("same")));
    for (int l = 1; l < 64; ++l) levels_.push_back(h.HashChildren(levels_.back(), levels_.back()));
  }
  NodeSource Source(uint64_t size) const {
    return [this, size](uint32_t level, uint64_t index) -> absl::StatusOr<Bytes> {
      EXPECT_LT(level, 64u);
      EXPECT_LT(index, size >> level) << "node not complete";
      return levels_[level];
    };
  }
  const Bytes& Level(int l) const { return levels_[l]; }
  std::vector<Bytes> Frontier(uint64_t size) const {
    std::vector<Bytes> f;
    for (int l = 63; l >= 0; --l) {
      if ((size >> l) & 1) f.push_back(levels_[l]);
    }
    return f;
  }

 private:
  const Hasher& h_;
  std::vector<Bytes> levels_;
};

TEST(HugeTreeTest, ProofsNearTwoToTheSixtyFour) {
  const Hasher& h = Sm3Hasher();
  UniformTree t(h);
  const uint64_t kMax = UINT64_MAX;
  std::mt19937_64 rng(9162);
  std::vector<uint64_t> sizes = {kMax, kMax - 1, uint64_t{1} << 63, (uint64_t{1} << 63) + 1,
                                 (uint64_t{1} << 63) - 1, 1000000, 3};
  for (int i = 0; i < 20; ++i) sizes.push_back(rng() | 1);
  for (uint64_t n : sizes) {
    absl::StatusOr<Bytes> root = RootAt(h, t.Source(n), n);
    ASSERT_TRUE(root.ok());
    // The appender resumed at n - 1 agrees.
    Appender app(h, n - 1, t.Frontier(n - 1));
    app.Append(t.Level(0), nullptr);
    ASSERT_EQ(app.Root(), *root) << n;
    for (uint64_t i : {uint64_t{0}, n / 3, n - 2, n - 1, rng() % n}) {
      if (i >= n) continue;
      absl::StatusOr<std::vector<Bytes>> proof = InclusionProof(h, t.Source(n), i, n);
      ASSERT_TRUE(proof.ok());
      EXPECT_LE(proof->size(), 64u);
      EXPECT_TRUE(VerifyInclusion(h, i, n, t.Level(0), *proof, *root).ok()) << i << " " << n;
      const uint64_t m = i + 1;
      absl::StatusOr<std::vector<Bytes>> cons = ConsistencyProof(h, t.Source(n), m, n);
      ASSERT_TRUE(cons.ok());
      absl::StatusOr<Bytes> old_root = RootAt(h, t.Source(m), m);
      EXPECT_TRUE(VerifyConsistency(h, m, n, *old_root, *root, *cons).ok()) << m << " " << n;
    }
  }
  // A proof of the right length but wrong content at the extreme sizes.
  std::vector<Bytes> junk(64, Bytes(32, 0xab));
  absl::Status s = VerifyInclusion(h, 0, (uint64_t{1} << 63) + 1, t.Level(0), junk, t.Level(1));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  s = VerifyInclusion(h, kMax - 1, kMax, t.Level(0), std::span(junk).first(63), t.Level(1));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
}

// --- Edge cases ---------------------------------------------------------------

TEST(EdgeCaseTest, SizesZeroAndOne) {
  const Hasher& h = Sm3Hasher();
  Fixture f(h, RawSm3, 1);
  const Bytes leaf = f.ref.LeafHash(0);
  // Size 0: the empty root, no inclusion proofs, no consistency proof to generate.
  EXPECT_EQ(*RootAt(h, f.tree.Source(0), 0), h.EmptyRoot());
  EXPECT_EQ(InclusionProof(h, f.tree.Source(0), 0, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(h, 0, 0, leaf, {}, h.EmptyRoot()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(h, f.tree.Source(1), 0, 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(h, f.tree.Source(0), 0, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(VerifyConsistency(h, 0, 0, h.EmptyRoot(), h.EmptyRoot(), {}).ok());
  EXPECT_TRUE(VerifyConsistency(h, 0, 1, h.EmptyRoot(), leaf, {}).ok());
  EXPECT_EQ(VerifyConsistency(h, 0, 1, h.EmptyRoot(), leaf, std::vector<Bytes>{leaf}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyConsistency(h, 0, 1, leaf, leaf, {}).code(), StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(h, 0, 0, leaf, leaf, {}).code(), StatusCode::kDataLoss);

  // Size 1: the root is the leaf hash, the proofs are empty.
  EXPECT_EQ(*RootAt(h, f.tree.Source(1), 1), leaf);
  EXPECT_TRUE(InclusionProof(h, f.tree.Source(1), 0, 1)->empty());
  EXPECT_TRUE(VerifyInclusion(h, 0, 1, leaf, {}, leaf).ok());
  EXPECT_EQ(VerifyInclusion(h, 0, 1, leaf, std::vector<Bytes>{leaf}, leaf).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(h, 0, 1, leaf, {}, h.EmptyRoot()).code(), StatusCode::kDataLoss);
  EXPECT_EQ(VerifyInclusion(h, 1, 1, leaf, {}, leaf).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ConsistencyProof(h, f.tree.Source(1), 1, 1)->empty());
  EXPECT_TRUE(VerifyConsistency(h, 1, 1, leaf, leaf, {}).ok());
}

TEST(EdgeCaseTest, IndexAtOrBeyondSize) {
  const Hasher& h = Sm3Hasher();
  Fixture f(h, RawSm3, 20);
  for (uint64_t n = 1; n <= 20; ++n) {
    for (uint64_t i : {n, n + 1, uint64_t{1} << 40, UINT64_MAX}) {
      EXPECT_EQ(InclusionProof(h, f.tree.Source(n), i, n).status().code(),
                StatusCode::kInvalidArgument);
      EXPECT_EQ(VerifyInclusion(h, i, n, f.ref.LeafHash(0), {}, f.ref.Root(n)).code(),
                StatusCode::kInvalidArgument);
    }
    EXPECT_EQ(ConsistencyProof(h, f.tree.Source(n), n + 1, n).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(VerifyConsistency(h, n + 1, n, f.ref.Root(n), f.ref.Root(n), {}).code(),
              StatusCode::kInvalidArgument);
  }
}

TEST(EdgeCaseTest, StorageErrorsPropagate) {
  const Hasher& h = Sm3Hasher();
  NodeSource failing = [](uint32_t, uint64_t) -> absl::StatusOr<Bytes> {
    return absl::UnavailableError("disk on fire");
  };
  EXPECT_EQ(RootAt(h, failing, 5).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(InclusionProof(h, failing, 2, 5).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(ConsistencyProof(h, failing, 3, 5).status().code(), StatusCode::kUnavailable);
  NodeSource short_nodes = [](uint32_t, uint64_t) -> absl::StatusOr<Bytes> { return Bytes(31); };
  EXPECT_EQ(RootAt(h, short_nodes, 5).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(InclusionProof(h, short_nodes, 2, 5).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ConsistencyProof(h, short_nodes, 3, 5).status().code(), StatusCode::kDataLoss);
}

// --- Corruption: every kind is rejected ---------------------------------------

// Counts the hashing a verifier does, to show malformed input is refused
// before any.
class CountingHasher : public Hasher {
 public:
  explicit CountingHasher(const Hasher& h) : h_(h) {}
  size_t size() const override { return h_.size(); }
  Bytes HashLeaf(ByteView d) const override {
    ++calls;
    return h_.HashLeaf(d);
  }
  Bytes HashChildren(ByteView l, ByteView r) const override {
    ++calls;
    return h_.HashChildren(l, r);
  }
  Bytes EmptyRoot() const override { return h_.EmptyRoot(); }
  mutable int calls = 0;

 private:
  const Hasher& h_;
};

// Every way of damaging `proof` we test: a bit flipped in each hash, each
// element removed, an element added at each end, the last one dropped
// (truncated), two neighbours swapped.
std::vector<std::pair<std::string, std::vector<Bytes>>> DamagedProofs(
    const std::vector<Bytes>& proof, const Bytes& extra) {
  std::vector<std::pair<std::string, std::vector<Bytes>>> out;
  for (size_t i = 0; i < proof.size(); ++i) {
    for (size_t bit : {size_t{0}, size_t{255}, size_t{i * 37 % 256}}) {
      std::vector<Bytes> p = proof;
      p[i][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      out.emplace_back("bit " + std::to_string(bit) + " of hash " + std::to_string(i), p);
    }
    std::vector<Bytes> removed = proof;
    removed.erase(removed.begin() + static_cast<ptrdiff_t>(i));
    out.emplace_back("hash " + std::to_string(i) + " removed", removed);
    if (i + 1 < proof.size() && proof[i] != proof[i + 1]) {
      std::vector<Bytes> swapped = proof;
      std::swap(swapped[i], swapped[i + 1]);
      out.emplace_back("hashes " + std::to_string(i) + " and " + std::to_string(i + 1) + " swapped",
                       swapped);
    }
  }
  std::vector<Bytes> appended = proof;
  appended.push_back(extra);
  out.emplace_back("hash appended", appended);
  std::vector<Bytes> prepended = proof;
  prepended.insert(prepended.begin(), extra);
  out.emplace_back("hash prepended", prepended);
  if (!proof.empty()) {
    out.emplace_back("truncated",
                     std::vector<Bytes>(proof.begin(), proof.end() - 1));
  }
  return out;
}

Bytes FlipBit(Bytes b, size_t bit) {
  b[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return b;
}

TEST(CorruptionTest, InclusionProofs) {
  const Hasher& h = Sm3Hasher();
  constexpr uint64_t kMax = 70;
  Fixture f(h, RawSm3, kMax + 1);
  uint64_t rejected = 0;
  for (uint64_t n = 1; n <= kMax; ++n) {
    const Bytes root = f.ref.Root(n);
    for (uint64_t i = 0; i < n; ++i) {
      SCOPED_TRACE("index " + std::to_string(i) + " size " + std::to_string(n));
      const std::vector<Bytes> proof = f.ref.Path(i, n);
      const Bytes leaf = f.ref.LeafHash(i);
      ASSERT_TRUE(VerifyInclusion(h, i, n, leaf, proof, root).ok());
      auto expect_rejected = [&](const std::string& what, uint64_t ci, uint64_t cn,
                                 ByteView cleaf, const std::vector<Bytes>& cproof,
                                 ByteView croot) {
        absl::Status s = VerifyInclusion(h, ci, cn, cleaf, cproof, croot);
        EXPECT_FALSE(s.ok()) << what;
        EXPECT_TRUE(s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kDataLoss)
            << what << ": " << s;
        ++rejected;
      };
      for (auto& [what, damaged] : DamagedProofs(proof, f.ref.LeafHash(kMax))) {
        expect_rejected(what, i, n, leaf, damaged, root);
      }
      // Index off by one, against this tree's root.
      if (i + 1 < n) expect_rejected("index + 1", i + 1, n, leaf, proof, root);
      if (i > 0) expect_rejected("index - 1", i - 1, n, leaf, proof, root);
      // Size off by one, against the root of the claimed size (an inclusion
      // proof binds the size only through the root: the checkpoint signs both).
      // Skipped where the claimed statement happens to be true with this proof.
      if (f.ref.Path(i, n + 1) != proof) {
        expect_rejected("size + 1", i, n + 1, leaf, proof, f.ref.Root(n + 1));
      }
      if (i < n - 1 && f.ref.Path(i, n - 1) != proof) {
        expect_rejected("size - 1", i, n - 1, leaf, proof, f.ref.Root(n - 1));
      }
      // Another leaf, a flipped bit in the leaf or root.
      expect_rejected("other leaf", i, n, f.ref.LeafHash(kMax), proof, root);
      expect_rejected("leaf bit flipped", i, n, FlipBit(leaf, 77), proof, root);
      expect_rejected("root bit flipped", i, n, leaf, proof, FlipBit(root, 3));
      if (n > 1) expect_rejected("leaf and root swapped", i, n, root, proof, leaf);
    }
  }
  EXPECT_GT(rejected, 20000u);
}

TEST(CorruptionTest, ConsistencyProofs) {
  const Hasher& h = Sm3Hasher();
  constexpr uint64_t kMax = 50;
  Fixture f(h, RawSm3, kMax + 1);
  for (uint64_t n = 1; n <= kMax; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      SCOPED_TRACE("old " + std::to_string(m) + " new " + std::to_string(n));
      const std::vector<Bytes> proof = f.ref.Proof(m, n);
      const Bytes r1 = f.ref.Root(m), r2 = f.ref.Root(n);
      ASSERT_TRUE(VerifyConsistency(h, m, n, r1, r2, proof).ok());
      auto expect_rejected = [&](const std::string& what, uint64_t cm, uint64_t cn, ByteView c1,
                                 ByteView c2, const std::vector<Bytes>& cproof) {
        absl::Status s = VerifyConsistency(h, cm, cn, c1, c2, cproof);
        EXPECT_FALSE(s.ok()) << what;
        EXPECT_TRUE(s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kDataLoss)
            << what << ": " << s;
      };
      for (auto& [what, damaged] : DamagedProofs(proof, f.ref.LeafHash(kMax))) {
        expect_rejected(what, m, n, r1, r2, damaged);
      }
      if (m != n) expect_rejected("roots swapped", m, n, r2, r1, proof);
      expect_rejected("old root bit flipped", m, n, FlipBit(r1, 100), r2, proof);
      expect_rejected("new root bit flipped", m, n, r1, FlipBit(r2, 200), proof);
      expect_rejected("old root of another tree", m, n, f.ref.Mth(1, m + 1), r2, proof);
      // Sizes off by one with the roots of the claimed sizes.
      auto claim = [&](const std::string& what, uint64_t cm, uint64_t cn) {
        if (cm > cn || cn > kMax + 1) return;
        if (cm > 0 && f.ref.Proof(cm, cn) == proof) return;  // true with this very proof
        if (cm == 0 && proof.empty()) return;
        expect_rejected(what, cm, cn, f.ref.Root(cm), f.ref.Root(cn), proof);
      };
      claim("old size + 1", m + 1, n);
      claim("old size - 1", m - 1, n);
      claim("new size + 1", m, n + 1);
      claim("new size - 1", m, n - 1);
    }
  }
}

TEST(CorruptionTest, WrongHashLengthsAreRefusedBeforeHashing) {
  CountingHasher h(Sm3Hasher());
  Fixture f(Sm3Hasher(), RawSm3, 13);
  const std::vector<Bytes> proof = f.ref.Path(5, 13);
  const std::vector<Bytes> cproof = f.ref.Proof(5, 13);
  const Bytes leaf = f.ref.LeafHash(5), root = f.ref.Root(13), old_root = f.ref.Root(5);
  ASSERT_TRUE(VerifyInclusion(h, 5, 13, leaf, proof, root).ok());
  ASSERT_GT(h.calls, 0);
  auto expect_malformed = [&](const absl::Status& s, const std::string& what) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << what << ": " << s;
    EXPECT_EQ(h.calls, 0) << what << " was hashed";
  };
  for (size_t len : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
    const std::string l = std::to_string(len);
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Bytes> p = proof;
      p[i].resize(len);
      h.calls = 0;
      expect_malformed(VerifyInclusion(h, 5, 13, leaf, p, root), "proof hash of " + l);
    }
    for (size_t i = 0; i < cproof.size(); ++i) {
      std::vector<Bytes> p = cproof;
      p[i].resize(len);
      h.calls = 0;
      expect_malformed(VerifyConsistency(h, 5, 13, old_root, root, p), "consistency hash " + l);
    }
    Bytes bad(len, 0x11);
    h.calls = 0;
    expect_malformed(VerifyInclusion(h, 5, 13, bad, proof, root), "leaf of " + l);
    h.calls = 0;
    expect_malformed(VerifyInclusion(h, 5, 13, leaf, proof, bad), "root of " + l);
    h.calls = 0;
    expect_malformed(VerifyConsistency(h, 5, 13, bad, root, cproof), "old root of " + l);
    h.calls = 0;
    expect_malformed(VerifyConsistency(h, 5, 13, old_root, bad, cproof), "new root of " + l);
    h.calls = 0;
    expect_malformed(VerifyConsistency(h, 0, 13, bad, root, {}), "empty old root of " + l);
  }
  // Wrong proof lengths and sizes are refused before hashing too.
  std::vector<Bytes> longer = proof;
  longer.push_back(root);
  h.calls = 0;
  expect_malformed(VerifyInclusion(h, 5, 13, leaf, longer, root), "long proof");
  h.calls = 0;
  expect_malformed(VerifyInclusion(h, 5, 13, leaf, std::span(proof).first(proof.size() - 1), root),
                   "short proof");
  h.calls = 0;
  expect_malformed(VerifyInclusion(h, 13, 13, leaf, proof, root), "index = size");
  h.calls = 0;
  expect_malformed(VerifyConsistency(h, 5, 13, old_root, root, {}), "empty consistency proof");
  h.calls = 0;
  expect_malformed(VerifyConsistency(h, 14, 13, old_root, root, cproof), "old > new");
}

TEST(CorruptionTest, MismatchIsDataLossWithAReason) {
  const Hasher& h = Sm3Hasher();
  Fixture f(h, RawSm3, 10);
  absl::Status s = VerifyInclusion(h, 3, 10, f.ref.LeafHash(4), f.ref.Path(3, 10), f.ref.Root(10));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("root mismatch"), absl::string_view::npos) << s;
  s = VerifyConsistency(h, 3, 10, f.ref.Root(4), f.ref.Root(10), f.ref.Proof(3, 10));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("root mismatch"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace beibu::merkle
