// The Merkle log store on RocksDB: roots and proofs against the RFC 9162
// definitions computed naively in memory, reopening, group commit under 64
// concurrent appenders, tampering with the stored data (detected, with the
// index named), and kill -9 in the middle of a burst of appends.
#include "beibu/audit/log_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/merkle/tree.h"
#include "temp_dir.h"

namespace beibu::audit {
namespace {

using merkle::Hasher;

// --- the RFC 9162 §2.1 definitions, naively, over leaf hashes ----------------

uint64_t Split(uint64_t n) { return std::bit_floor(n - 1); }  // largest power of 2 < n

Bytes Mth(const Hasher& h, const std::vector<Bytes>& leaves, uint64_t lo, uint64_t hi) {
  uint64_t n = hi - lo;
  if (n == 0) return h.EmptyRoot();
  if (n == 1) return leaves[lo];
  uint64_t k = Split(n);
  return h.HashChildren(Mth(h, leaves, lo, lo + k), Mth(h, leaves, lo + k, hi));
}

std::vector<Bytes> Path(const Hasher& h, const std::vector<Bytes>& leaves, uint64_t m, uint64_t lo,
                        uint64_t hi) {
  uint64_t n = hi - lo;
  if (n == 1) return {};
  uint64_t k = Split(n);
  std::vector<Bytes> p;
  if (m < k) {
    p = Path(h, leaves, m, lo, lo + k);
    p.push_back(Mth(h, leaves, lo + k, hi));
  } else {
    p = Path(h, leaves, m - k, lo + k, hi);
    p.push_back(Mth(h, leaves, lo, lo + k));
  }
  return p;
}

std::vector<Bytes> SubProof(const Hasher& h, const std::vector<Bytes>& leaves, uint64_t m,
                            uint64_t lo, uint64_t hi, bool b) {
  uint64_t n = hi - lo;
  if (m == n) return b ? std::vector<Bytes>{} : std::vector<Bytes>{Mth(h, leaves, lo, hi)};
  uint64_t k = Split(n);
  std::vector<Bytes> p;
  if (m <= k) {
    p = SubProof(h, leaves, m, lo, lo + k, b);
    p.push_back(Mth(h, leaves, lo + k, hi));
  } else {
    p = SubProof(h, leaves, m - k, lo + k, hi, false);
    p.push_back(Mth(h, leaves, lo, lo + k));
  }
  return p;
}

// --- helpers --------------------------------------------------------------------

std::string EntryText(uint64_t i) { return absl::StrCat("audit event #", i, " {who:x, what:y}"); }

std::unique_ptr<LogStore> OpenOrDie(const std::string& path, OpenOptions o = {}) {
  auto s = LogStore::Open(path, std::move(o));
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return nullptr;
  return std::move(*s);
}

// The log's RocksDB opened directly, as an attacker with disk access would.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    rocksdb::DBOptions o;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                        {log_format::kEntriesFamily, {}},
                                                        {log_format::kNodesFamily, {}}};
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, path, cfs, &handles_, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(raw);
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close().PermitUncheckedError();
  }
  rocksdb::ColumnFamilyHandle* meta() { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* entries() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* nodes() { return handles_[2]; }
  std::string Get(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    std::string v;
    rocksdb::Status s = db_->Get({}, cf, key, &v);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v;
  }
  void Put(rocksdb::ColumnFamilyHandle* cf, const std::string& key, const std::string& v) {
    ASSERT_TRUE(db_->Put({}, cf, key, v).ok());
  }
  void Delete(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    ASSERT_TRUE(db_->Delete({}, cf, key).ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// The stored record of an entry: its SM3 leaf hash, then the entry.
std::string LeafRecord(const std::string& entry) {
  Bytes leaf = merkle::Sm3Hasher().HashLeaf(AsBytes(entry));
  return std::string(AsChars(leaf)) + entry;
}

std::string StateValue(uint64_t size, ByteView root) {
  std::string s = log_format::EntryKey(size);
  s.append(AsChars(root));
  return s;
}

// A log of `n` entries EntryText(0..n-1) at dir/log; returns its leaf hashes.
std::vector<Bytes> MakeLog(const std::string& path, uint64_t n,
                           const Hasher& h = merkle::Sm3Hasher()) {
  OpenOptions o;
  o.hasher = &h;
  auto store = OpenOrDie(path, o);
  std::vector<Bytes> leaves;
  for (uint64_t i = 0; i < n; ++i) {
    std::string e = EntryText(i);
    auto idx = store->Append(AsBytes(e));
    EXPECT_TRUE(idx.ok()) << idx.status();
    EXPECT_EQ(*idx, i);
    leaves.push_back(h.HashLeaf(AsBytes(e)));
  }
  return leaves;
}

void ExpectDataLoss(const absl::Status& s, const std::string& fragment) {
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(std::string(s.message()).find(fragment), std::string::npos)
      << "message \"" << s.message() << "\" lacks \"" << fragment << "\"";
}

absl::Status OpenStatus(const std::string& path, bool verify = true) {
  OpenOptions o;
  o.verify_on_open = verify;
  return LogStore::Open(path, o).status();
}

// --- roots and proofs ---------------------------------------------------------------

void CheckAgainstReference(const Hasher& h) {
  testing::TempDir dir;
  OpenOptions o;
  o.hasher = &h;
  auto store = OpenOrDie((dir / "log").string(), o);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Root(0).value(), h.EmptyRoot());
  constexpr uint64_t kN = 70;
  std::vector<Bytes> leaves;
  for (uint64_t i = 0; i < kN; ++i) {
    std::string e = EntryText(i);
    ASSERT_EQ(store->Append(AsBytes(e)).value(), i);
    leaves.push_back(h.HashLeaf(AsBytes(e)));
    TreeHead head = store->Head();
    EXPECT_EQ(head.size, i + 1);
    EXPECT_EQ(head.root, Mth(h, leaves, 0, i + 1)) << "size " << i + 1;
  }
  // The same perfect nodes, in memory, fed to the merkle functions.
  std::map<std::pair<uint32_t, uint64_t>, Bytes> mem;
  merkle::Appender app(h);
  for (const Bytes& l : leaves) {
    app.Append(l, [&](uint32_t level, uint64_t index, ByteView hash) {
      mem[{level, index}] = Bytes(hash.begin(), hash.end());
    });
  }
  merkle::NodeSource mem_nodes = [&](uint32_t level, uint64_t index) -> absl::StatusOr<Bytes> {
    auto it = mem.find({level, index});
    if (it == mem.end()) return absl::NotFoundError("no node");
    return it->second;
  };
  for (uint64_t n = 0; n <= kN; ++n) {
    Bytes root = store->Root(n).value();
    ASSERT_EQ(root, Mth(h, leaves, 0, n)) << "size " << n;
    ASSERT_EQ(root, merkle::RootAt(h, mem_nodes, n).value());
    for (uint64_t m = 0; m < n; ++m) {
      auto proof = store->InclusionProof(m, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, Path(h, leaves, m, 0, n)) << "index " << m << " size " << n;
      ASSERT_EQ(*proof, merkle::InclusionProof(h, mem_nodes, m, n).value());
      ASSERT_TRUE(merkle::VerifyInclusion(h, m, n, store->LeafHash(m).value(), *proof, root).ok());
    }
    for (uint64_t m = 1; m <= n; ++m) {
      auto proof = store->ConsistencyProof(m, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, SubProof(h, leaves, m, 0, n, true)) << "old " << m << " new " << n;
      ASSERT_TRUE(merkle::VerifyConsistency(h, m, n, store->Root(m).value(), root, *proof).ok());
    }
  }
  for (uint64_t i = 0; i < kN; ++i) {
    EXPECT_EQ(AsChars(store->Entry(i).value()), EntryText(i));
    EXPECT_EQ(store->LeafHash(i).value(), leaves[i]);
  }
  EXPECT_TRUE(store->VerifyIntegrity().ok());
}

TEST(LogStoreTest, RootsAndProofsMatchTheReferenceSm3) {
  CheckAgainstReference(merkle::Sm3Hasher());
}

TEST(LogStoreTest, RootsAndProofsMatchTheReferenceSha256) {
  CheckAgainstReference(merkle::Sha256Hasher());
}

TEST(LogStoreTest, PublishedSha256VectorsFromRfc6962Implementations) {
  const std::vector<Bytes> data = {{},
                                   {0x00},
                                   {0x10},
                                   {0x20, 0x21},
                                   {0x30, 0x31},
                                   {0x40, 0x41, 0x42, 0x43},
                                   {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
                                   {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
                                    0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f}};
  const char* roots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  testing::TempDir dir;
  OpenOptions o;
  o.hasher = &merkle::Sha256Hasher();
  auto store = OpenOrDie((dir / "log").string(), o);
  ASSERT_TRUE(store);
  EXPECT_EQ(HexEncode(store->Root(0).value()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  for (const Bytes& d : data) ASSERT_TRUE(store->Append(d).ok());
  for (uint64_t n = 1; n <= 8; ++n) EXPECT_EQ(HexEncode(store->Root(n).value()), roots[n - 1]);
}

TEST(LogStoreTest, ReopenKeepsEverythingAndContinues) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  std::vector<Bytes> leaves = MakeLog(path, 37);
  const Hasher& h = merkle::Sm3Hasher();
  for (bool verify : {true, false}) {
    OpenOptions o;
    o.verify_on_open = verify;
    auto store = OpenOrDie(path, o);
    ASSERT_TRUE(store);
    ASSERT_EQ(store->size(), leaves.size());
    EXPECT_EQ(store->Head().root, Mth(h, leaves, 0, leaves.size()));
    for (uint64_t i = 0; i < leaves.size(); ++i) {
      EXPECT_EQ(AsChars(store->Entry(i).value()), EntryText(i));
    }
    for (int k = 0; k < 11; ++k) {
      std::string e = EntryText(leaves.size());
      ASSERT_EQ(store->Append(AsBytes(e)).value(), leaves.size());
      leaves.push_back(h.HashLeaf(AsBytes(e)));
      EXPECT_EQ(store->Head().root, Mth(h, leaves, 0, leaves.size()));
    }
    for (uint64_t n = 1; n <= leaves.size(); n += 5) {
      EXPECT_EQ(store->Root(n).value(), Mth(h, leaves, 0, n));
    }
  }
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 59u);
  EXPECT_TRUE(store->VerifyIntegrity().ok());
}

TEST(LogStoreTest, AppendBatchIsConsecutiveAndEmptyEntriesAreAllowed) {
  testing::TempDir dir;
  auto store = OpenOrDie((dir / "log").string());
  ASSERT_TRUE(store);
  ASSERT_EQ(store->Append(ByteView()).value(), 0u);
  std::vector<std::string> texts = {"a", "bb", "", "dddd"};
  std::vector<ByteView> views;
  for (auto& t : texts) views.push_back(AsBytes(t));
  ASSERT_EQ(store->AppendBatch(views).value(), 1u);
  ASSERT_EQ(store->AppendBatch({}).value(), 5u);
  EXPECT_EQ(store->size(), 5u);
  EXPECT_TRUE(store->Entry(0).value().empty());
  EXPECT_EQ(AsChars(store->Entry(4).value()), "dddd");
  EXPECT_EQ(store->LeafHash(0).value(), merkle::Sm3Hasher().HashLeaf({}));
  EXPECT_EQ(store->stats().batches, 2u);
  EXPECT_TRUE(store->VerifyIntegrity().ok());
}

TEST(LogStoreTest, BadArgumentsGetClearErrors) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  MakeLog(path, 5);
  OpenOptions o;
  o.max_entry_size = 16;
  auto store = OpenOrDie(path, o);
  ASSERT_TRUE(store);
  std::string big(17, 'x');
  EXPECT_TRUE(absl::IsInvalidArgument(store->Append(AsBytes(big)).status()));
  EXPECT_EQ(store->size(), 5u);  // nothing appended
  EXPECT_TRUE(absl::IsOutOfRange(store->Entry(5).status()));
  EXPECT_TRUE(absl::IsOutOfRange(store->LeafHash(5).status()));
  EXPECT_TRUE(absl::IsOutOfRange(store->Root(6).status()));
  EXPECT_TRUE(absl::IsOutOfRange(store->InclusionProof(0, 6).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->InclusionProof(5, 5).status()));
  EXPECT_TRUE(absl::IsOutOfRange(store->ConsistencyProof(1, 6).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->ConsistencyProof(0, 5).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->ConsistencyProof(4, 3).status()));
  EXPECT_TRUE(store->ConsistencyProof(5, 5).value().empty());
  // A second instance on the same directory is refused while this one lives.
  auto second = LogStore::Open(path);
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  store.reset();
  // The wrong tree hash is refused.
  OpenOptions sha;
  sha.hasher = &merkle::Sha256Hasher();
  auto wrong = LogStore::Open(path, sha);
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong.status())) << wrong.status();
  EXPECT_NE(std::string(wrong.status().message()).find("different tree hash"), std::string::npos);
}

TEST(LogStoreTest, AppendsReadNothingAndProofsCostLogarithmicReads) {
  testing::TempDir dir;
  auto store = OpenOrDie((dir / "log").string());
  ASSERT_TRUE(store);
  constexpr uint64_t kN = 3000;
  std::vector<std::string> texts;
  for (uint64_t i = 0; i < kN; ++i) texts.push_back(EntryText(i));
  std::vector<ByteView> views;
  for (auto& t : texts) views.push_back(AsBytes(t));
  for (uint64_t i = 0; i < kN; i += 1000) {
    ASSERT_TRUE(store->AppendBatch(std::span(views).subspan(i, 1000)).ok());
  }
  EXPECT_EQ(store->stats().node_reads, 0u);  // appends use the in-memory frontier
  // log2(3000) < 12: a root reads at most one node per level, a proof a
  // small multiple of that.
  const uint64_t bound = 3 * 12 + 4;
  for (uint64_t n : {uint64_t{1}, uint64_t{1023}, uint64_t{1025}, uint64_t{2047}, kN - 1}) {
    uint64_t before = store->stats().node_reads;
    ASSERT_TRUE(store->Root(n).ok());
    EXPECT_LE(store->stats().node_reads - before, 12u) << "root of " << n;
    for (uint64_t m : {uint64_t{0}, n / 2, n - 1}) {
      before = store->stats().node_reads;
      ASSERT_TRUE(store->InclusionProof(m, n).ok());
      EXPECT_LE(store->stats().node_reads - before, bound) << "inclusion " << m << " " << n;
    }
    for (uint64_t m : {uint64_t{1}, n / 2 + 1, n}) {
      before = store->stats().node_reads;
      ASSERT_TRUE(store->ConsistencyProof(m, n).ok());
      EXPECT_LE(store->stats().node_reads - before, bound) << "consistency " << m << " " << n;
    }
  }
}

// --- tampering ----------------------------------------------------------------------

TEST(LogStoreTamperTest, FlippingAnyByteOfAnEntryIsDetectedAndNamed) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  MakeLog(path, 50);
  for (uint64_t victim : {uint64_t{0}, uint64_t{17}, uint64_t{41}, uint64_t{49}}) {
    // The stored record: leaf hash || entry. Every byte of it, hash included.
    const std::string record = LeafRecord(EntryText(victim));
    for (size_t pos = 0; pos < record.size(); ++pos) {
      {
        RawDb raw(path);
        std::string v = raw.Get(raw.entries(), log_format::EntryKey(victim));
        ASSERT_EQ(v, record);
        v[pos] ^= static_cast<char>(1 + (pos % 255));
        raw.Put(raw.entries(), log_format::EntryKey(victim), v);
      }
      ExpectDataLoss(OpenStatus(path),
                     absl::StrCat("entry ", victim, " does not match its leaf hash"));
      if (pos == 0 || pos == 40) {
        // The O(log n) open cannot see it; the full check can.
        OpenOptions o;
        o.verify_on_open = false;
        auto store = OpenOrDie(path, o);
        ASSERT_TRUE(store);
        ExpectDataLoss(store->VerifyIntegrity(),
                       absl::StrCat("entry ", victim, " does not match its leaf hash"));
      }
      RawDb raw(path);
      raw.Put(raw.entries(), log_format::EntryKey(victim), record);
    }
    ASSERT_TRUE(OpenStatus(path).ok());
  }
}

TEST(LogStoreTamperTest, DeletedOrShortenedEntryAndDeletedNodeAreNamed) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  MakeLog(path, 50);
  {
    RawDb raw(path);
    raw.Delete(raw.entries(), log_format::EntryKey(17));
  }
  ExpectDataLoss(OpenStatus(path), "entry 17 missing");
  {
    // The O(log n) open does not read entry 17, but serving it does.
    OpenOptions o;
    o.verify_on_open = false;
    auto store = OpenOrDie(path, o);
    ASSERT_TRUE(store);
    ExpectDataLoss(store->Entry(17).status(), "entry 17 missing");
    ExpectDataLoss(store->InclusionProof(16, 50).status(), "entry 17 missing");
    ExpectDataLoss(store->VerifyIntegrity(), "entry 17 missing");
  }
  {
    RawDb raw(path);
    raw.Put(raw.entries(), log_format::EntryKey(17), LeafRecord(EntryText(17)).substr(0, 20));
  }
  ExpectDataLoss(OpenStatus(path), "entry 17 record malformed");
  std::string node;
  {
    RawDb raw(path);
    raw.Put(raw.entries(), log_format::EntryKey(17), LeafRecord(EntryText(17)));
    node = raw.Get(raw.nodes(), log_format::NodeKey(3, 2));
    raw.Delete(raw.nodes(), log_format::NodeKey(3, 2));
  }
  ExpectDataLoss(OpenStatus(path), "node (level 3, index 2) over entries [16, 24) missing");
  {
    RawDb raw(path);
    raw.Put(raw.nodes(), log_format::NodeKey(3, 2), node);
  }
  EXPECT_TRUE(OpenStatus(path).ok());
}

TEST(LogStoreTamperTest, EntryRewrittenWithItsLeafHashIsCaughtByTheNodeAbove) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  MakeLog(path, 50);
  {
    RawDb raw(path);
    raw.Put(raw.entries(), log_format::EntryKey(41), LeafRecord("audit event #41 {who:mallory}"));
  }
  ExpectDataLoss(OpenStatus(path), "node (level 1, index 20) over entries [40, 42) does not match");
}

TEST(LogStoreTamperTest, TruncatedLogIsDetected) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  MakeLog(path, 50);
  {
    RawDb raw(path);
    for (uint64_t i = 47; i < 50; ++i) raw.Delete(raw.entries(), log_format::EntryKey(i));
  }
  ExpectDataLoss(OpenStatus(path), "log truncated: size record says 50 but entries stop at 47");
  ExpectDataLoss(OpenStatus(path, /*verify=*/false),
                 "log truncated: size record says 50 but entries stop at 47");
}

TEST(LogStoreTamperTest, RewoundSizeRecordIsDetected) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  std::vector<Bytes> leaves = MakeLog(path, 50);
  Bytes root47 = Mth(merkle::Sm3Hasher(), leaves, 0, 47);
  {
    RawDb raw(path);
    raw.Put(raw.meta(), log_format::kStateKey, StateValue(47, root47));
  }
  ExpectDataLoss(OpenStatus(path), "size record rewound: it says 47 but entry 47 exists");
  ExpectDataLoss(OpenStatus(path, /*verify=*/false), "size record rewound: it says 47");
}

TEST(LogStoreTamperTest, AlteredStateRootIsDetected) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  std::vector<Bytes> leaves = MakeLog(path, 50);
  Bytes bad = Mth(merkle::Sm3Hasher(), leaves, 0, 50);
  bad[5] ^= 0x40;
  {
    RawDb raw(path);
    raw.Put(raw.meta(), log_format::kStateKey, StateValue(50, bad));
  }
  ExpectDataLoss(OpenStatus(path), "does not match the root");
  ExpectDataLoss(OpenStatus(path, /*verify=*/false), "does not match the root");
}

TEST(LogStoreTamperTest, ConsistentTruncationIsCaughtByTheSignedCheckpoint) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  std::vector<Bytes> leaves = MakeLog(path, 50);
  const Hasher& h = merkle::Sm3Hasher();
  TreeHead checkpoint{50, Mth(h, leaves, 0, 50)};
  {
    // Cut the log back to 47 entries, removing everything that shows it.
    RawDb raw(path);
    for (uint64_t i = 47; i < 50; ++i) raw.Delete(raw.entries(), log_format::EntryKey(i));
    raw.Delete(raw.nodes(), log_format::NodeKey(1, 23));
    raw.Delete(raw.nodes(), log_format::NodeKey(1, 24));
    raw.Delete(raw.nodes(), log_format::NodeKey(2, 11));
    raw.Delete(raw.nodes(), log_format::NodeKey(3, 5));
    raw.Put(raw.meta(), log_format::kStateKey, StateValue(47, Mth(h, leaves, 0, 47)));
  }
  // Self-consistent, so only the checkpoint shows it.
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->VerifyIntegrity().ok());
  ExpectDataLoss(store->CheckAgainst(checkpoint.size, checkpoint.root),
                 "has 47 entries but its last signed checkpoint covers 50");
  EXPECT_TRUE(store->CheckAgainst(40, Mth(h, leaves, 0, 40)).ok());
  store.reset();
  OpenOptions o;
  o.expected = checkpoint;
  ExpectDataLoss(LogStore::Open(path, o).status(), "entries [47, 50) are missing");
}

TEST(LogStoreTamperTest, FullyRewrittenLogIsCaughtByTheSignedCheckpoint) {
  testing::TempDir dir;
  std::string honest = (dir / "honest").string();
  std::string forged = (dir / "forged").string();
  MakeLog(honest, 30);
  TreeHead checkpoint = OpenOrDie(honest)->Head();
  {
    // The same log with entry 12 changed, every node and the state rebuilt.
    auto store = OpenOrDie(forged);
    for (uint64_t i = 0; i < 35; ++i) {
      std::string e = i == 12 ? std::string("audit event #12 {who:mallory}") : EntryText(i);
      ASSERT_TRUE(store->Append(AsBytes(e)).ok());
    }
    EXPECT_TRUE(store->VerifyIntegrity().ok());
    ExpectDataLoss(store->CheckAgainst(checkpoint.size, checkpoint.root),
                   "does not match its last signed checkpoint");
  }
  OpenOptions o;
  o.expected = checkpoint;
  ExpectDataLoss(LogStore::Open(forged, o).status(), "the log was rewritten");
  EXPECT_TRUE(LogStore::Open(honest, o).ok());
  auto store = OpenOrDie(honest);
  Bytes short_root(31, 0);
  EXPECT_TRUE(absl::IsInvalidArgument(store->CheckAgainst(30, short_root)));
  EXPECT_TRUE(store->CheckAgainst(0, merkle::Sm3Hasher().EmptyRoot()).ok());
}

// --- concurrency --------------------------------------------------------------------

TEST(LogStoreConcurrencyTest, SixtyFourAppendersGetEveryIndexOnceWhileReadersProve) {
  testing::TempDir dir;
  auto store = OpenOrDie((dir / "log").string());
  ASSERT_TRUE(store);
  const Hasher& h = merkle::Sm3Hasher();
  constexpr int kThreads = 64;
  constexpr int kPerThread = 60;
  std::vector<std::vector<std::pair<uint64_t, std::string>>> got(kThreads);
  std::atomic<bool> stop{false};
  std::atomic<int> reader_failures{0}, reader_checks{0};
  std::thread reader([&] {
    uint64_t x = 1;
    while (!stop.load()) {
      TreeHead head = store->Head();
      if (head.size == 0) continue;
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      uint64_t m = (x >> 33) % head.size;
      auto proof = store->InclusionProof(m, head.size);
      auto leaf = store->LeafHash(m);
      if (!proof.ok() || !leaf.ok() ||
          !merkle::VerifyInclusion(h, m, head.size, *leaf, *proof, head.root).ok()) {
        reader_failures++;
      }
      uint64_t old = 1 + (x >> 40) % head.size;
      auto cons = store->ConsistencyProof(old, head.size);
      auto old_root = store->Root(old);
      if (!cons.ok() || !old_root.ok() ||
          !merkle::VerifyConsistency(h, old, head.size, *old_root, head.root, *cons).ok()) {
        reader_failures++;
      }
      reader_checks++;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      if (t % 16 == 15) {
        // Some threads append three at a time: consecutive indexes.
        for (int k = 0; k < kPerThread; k += 3) {
          std::vector<std::string> es;
          for (int j = 0; j < 3; ++j) es.push_back(absl::StrCat("thread ", t, " event ", k + j));
          std::vector<ByteView> views = {AsBytes(es[0]), AsBytes(es[1]), AsBytes(es[2])};
          auto first = store->AppendBatch(views);
          if (!first.ok()) {
            ADD_FAILURE() << first.status();
            return;
          }
          for (int j = 0; j < 3; ++j) got[t].emplace_back(*first + j, std::move(es[j]));
        }
        return;
      }
      for (int k = 0; k < kPerThread; ++k) {
        std::string e = absl::StrCat("thread ", t, " event ", k);
        auto idx = store->Append(AsBytes(e));
        if (!idx.ok()) {
          ADD_FAILURE() << idx.status();
          return;
        }
        got[t].emplace_back(*idx, std::move(e));
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  reader.join();
  EXPECT_EQ(reader_failures.load(), 0);
  EXPECT_GT(reader_checks.load(), 0);

  constexpr uint64_t kTotal = kThreads * kPerThread;
  ASSERT_EQ(store->size(), kTotal);
  std::vector<std::string> by_index(kTotal);
  std::set<uint64_t> seen;
  for (auto& v : got) {
    uint64_t last = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      auto& [idx, e] = v[k];
      ASSERT_LT(idx, kTotal);
      ASSERT_TRUE(seen.insert(idx).second) << "index " << idx << " given twice";
      if (k > 0) {
        EXPECT_GT(idx, last) << "one thread's appends keep their order";
      }
      last = idx;
      by_index[idx] = e;
    }
  }
  ASSERT_EQ(seen.size(), kTotal);
  std::vector<Bytes> leaves;
  for (uint64_t i = 0; i < kTotal; ++i) {
    ASSERT_EQ(AsChars(store->Entry(i).value()), by_index[i]);
    leaves.push_back(h.HashLeaf(AsBytes(by_index[i])));
  }
  EXPECT_EQ(store->Head().root, Mth(h, leaves, 0, kTotal));
  EXPECT_TRUE(store->VerifyIntegrity().ok());
  LogStats st = store->stats();
  EXPECT_EQ(st.appends, kTotal);
  EXPECT_LT(st.batches, kTotal) << "concurrent appends share synced writes";
  std::printf("64 appenders: %llu appends in %llu synced batches (%.1f per batch)\n",
              static_cast<unsigned long long>(st.appends),
              static_cast<unsigned long long>(st.batches),
              static_cast<double>(st.appends) / static_cast<double>(st.batches));
}

// --- kill -9 ------------------------------------------------------------------------

// What the child reports through the pipe, one write() each (atomic: < PIPE_BUF).
struct Report {
  uint64_t kind;  // 1: append acknowledged, 2: tree head
  uint64_t a;     // index | size
  uint64_t b;     // thread * 2^32 + sequence | unused
  uint8_t root[32];
};

std::string BurstEntry(uint64_t round, uint64_t thread, uint64_t seq) {
  std::string e = absl::StrCat("round ", round, " thread ", thread, " seq ", seq, " ");
  e.resize(120, static_cast<char>('a' + (seq % 26)));
  return e;
}

[[noreturn]] void ChildAppends(const std::string& path, int fd, uint64_t round) {
  auto opened = LogStore::Open(path);
  if (!opened.ok()) _exit(10);
  std::unique_ptr<LogStore> store = std::move(*opened);
  std::vector<std::thread> threads;
  constexpr int kThreads = 8;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t seq = 0; seq < 1000000; ++seq) {
        std::string e = BurstEntry(round, t, seq);
        auto idx = store->Append(AsBytes(e));
        if (!idx.ok()) _exit(11);
        Report r{};
        r.kind = 1;
        r.a = *idx;
        r.b = (uint64_t(t) << 32) | seq;
        if (write(fd, &r, sizeof r) != sizeof r) _exit(12);
      }
    });
  }
  threads.emplace_back([&] {
    for (;;) {
      TreeHead head = store->Head();
      Report r{};
      r.kind = 2;
      r.a = head.size;
      std::memcpy(r.root, head.root.data(), 32);
      if (write(fd, &r, sizeof r) != sizeof r) _exit(13);
      usleep(3000);
    }
  });
  for (auto& th : threads) th.join();
  _exit(0);
}

// The child is this test binary executed afresh (fork alone would copy a
// process whose RocksDB background threads do not survive the fork): when
// BEIBU_LOG_CRASH_CHILD="path|fd|round" is set, a global test environment
// runs the burst before any test and never returns.
constexpr char kChildEnv[] = "BEIBU_LOG_CRASH_CHILD";

class CrashChildEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* spec = std::getenv(kChildEnv);
    if (spec == nullptr) return;
    std::string s(spec);
    size_t a = s.find('|'), b = s.rfind('|');
    if (a == std::string::npos || b == a) _exit(20);
    ChildAppends(s.substr(0, a), std::atoi(s.substr(a + 1, b - a - 1).c_str()),
                 std::strtoull(s.substr(b + 1).c_str(), nullptr, 10));
  }
};

[[maybe_unused]] ::testing::Environment* const kCrashChild =
    ::testing::AddGlobalTestEnvironment(new CrashChildEnvironment);

// Starts the child burst for `round` writing reports to `fd`.
pid_t SpawnChild(const std::string& path, int fd, int other_fd, uint64_t round) {
  // Everything execve needs is built before fork: only async-signal-safe
  // calls are allowed in the child of a multithreaded process.
  std::string var = absl::StrCat(kChildEnv, "=", path, "|", fd, "|", round);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(var.data());
  env.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    close(other_fd);
    execve(exe, argv, env.data());
    _exit(127);
  }
  return pid;
}

TEST(LogStoreCrashTest, KillDuringABurstLosesNoAcknowledgedAppend) {
  testing::TempDir dir;
  std::string path = (dir / "log").string();
  const Hasher& h = merkle::Sm3Hasher();
  std::map<uint64_t, std::string> acknowledged;  // index -> entry
  std::vector<std::pair<uint64_t, Bytes>> heads;
  for (uint64_t round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = SpawnChild(path, fds[1], fds[0], round);
    ASSERT_GE(pid, 0);
    close(fds[1]);
    struct ChildGuard {  // a failed ASSERT must not leave the child running
      pid_t pid;
      int fd;
      ~ChildGuard() {
        if (fd >= 0) close(fd);
        if (pid > 0) {
          kill(pid, SIGKILL);
          waitpid(pid, nullptr, 0);
        }
      }
    } guard{pid, fds[0]};
    std::string buf;
    char chunk[4096];
    size_t acks_this_round = 0;
    bool killed = false;
    const size_t kill_after = 400 + 300 * round;
    for (;;) {
      ssize_t n = read(fds[0], chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      size_t off = 0;
      for (; off + sizeof(Report) <= buf.size(); off += sizeof(Report)) {
        Report r;
        std::memcpy(&r, buf.data() + off, sizeof r);
        if (r.kind == 1) {
          std::string e = BurstEntry(round, r.b >> 32, r.b & 0xffffffffu);
          ASSERT_TRUE(acknowledged.emplace(r.a, e).second) << "index " << r.a << " twice";
          ++acks_this_round;
        } else {
          heads.emplace_back(r.a, Bytes(r.root, r.root + 32));
        }
      }
      buf.erase(0, off);
      if (!killed && acks_this_round >= kill_after) {
        ASSERT_EQ(kill(pid, SIGKILL), 0);  // mid-burst: appends are in flight
        killed = true;
      }
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    guard.pid = -1;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited on its own with " << status;

    // Reopen (full verification) and check everything acknowledged.
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    TreeHead now = store->Head();
    for (auto& [idx, e] : acknowledged) {
      ASSERT_LT(idx, now.size) << "acknowledged entry " << idx << " lost";
      auto got = store->Entry(idx);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(AsChars(*got), e) << "entry " << idx;
    }
    ASSERT_FALSE(heads.empty());
    for (auto& [size, root] : heads) {
      ASSERT_LE(size, now.size);
      ASSERT_TRUE(store->CheckAgainst(size, root).ok()) << "pre-crash head " << size;
      if (size == 0) continue;
      auto proof = store->ConsistencyProof(size, now.size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(merkle::VerifyConsistency(h, size, now.size, root, now.root, *proof).ok())
          << "no consistency from pre-crash head " << size;
    }
    std::printf("round %llu: %zu acknowledged before kill -9, log has %llu after restart\n",
                static_cast<unsigned long long>(round), acks_this_round,
                static_cast<unsigned long long>(now.size));
  }
}

}  // namespace
}  // namespace beibu::audit
