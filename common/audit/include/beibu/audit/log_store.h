// An append-only, tamper-evident Merkle log (RFC 9162 §2.1, SM3 by default)
// stored in RocksDB: Beibu's audit and evidence log on every node.
//
// What is stored (docs/audit-log.md, "Storage format", has the byte layout):
//   * every entry, by index, prefixed with its leaf hash;
//   * the hash of every *perfect* subtree node (level, index) above the
//     leaves; and
//   * the tree state: (size, root), written in the same atomic batch as the
//     entries and nodes it covers.
// So an append reads nothing (the right edge of the tree, the "frontier", is
// kept in memory and is implied by the stored nodes and the size), and the
// root of any past size or any inclusion/consistency proof costs O(log n)
// node reads.
//
// Durability and group commit: Append() returns only once the entry, the
// nodes it completes and the new tree state are synced to disk (RocksDB WAL,
// fdatasync). Concurrent Append() callers share one synced write: each
// caller adds its entry, leaf hash and the nodes it completes to the open
// batch; the first caller to find no write in progress becomes the leader,
// takes the open batch, writes it as one WriteBatch with sync=true, publishes
// the new size and wakes the followers whose entries it carried; the first
// caller that joined the next batch meanwhile is handed the leadership. An
// entry is visible to readers (size(), Entry(), proofs) only once durable,
// so nothing ever served or acknowledged can be lost by kill -9 or power
// loss.
//
// Integrity: Open() recomputes every leaf hash and every stored node from the
// entries and the root from those, and compares them with the stored nodes
// and the stored tree state; a flipped byte, a deleted entry or node, a
// truncated log or a rewound size fails with DATA_LOSS naming the first bad
// index. A log rewritten consistently from the entries up (nodes and state
// too) can only be caught against something signed: the node passes its last
// signed checkpoint as OpenOptions::expected (or calls CheckAgainst() right
// after Open) and refuses to serve when it fails.
//
// Thread-safe: any number of threads may append and read at once. The store
// must outlive every call into it (do not destroy it while calls are in
// flight). One process opens a log at a time (RocksDB's lock).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace beibu::audit {

// The on-disk layout, for tools and tamper tests (docs/audit-log.md).
namespace log_format {
// BE64(index) -> leaf hash || entry bytes (the leaf hash is node (0, index))
inline constexpr char kEntriesFamily[] = "entries";
// u8 level || BE64(index) -> hash of perfect node (level, index), level >= 1
inline constexpr char kNodesFamily[] = "nodes";
// In the default column family:
inline constexpr char kFormatKey[] = "log/format";  // -> kFormatValue
inline constexpr char kFormatValue[] = "beibu-merkle-log-v1";
inline constexpr char kEmptyRootKey[] = "log/empty_root";  // -> hasher.EmptyRoot()
inline constexpr char kStateKey[] = "log/state";           // -> BE64(size) || root
std::string EntryKey(uint64_t index);
std::string NodeKey(uint32_t level, uint64_t index);
}  // namespace log_format

// A tree head: the size of the log and its root.
struct TreeHead {
  uint64_t size = 0;
  Bytes root;
};

struct OpenOptions {
  // The tree hash. Must outlive the store and match the one the log was
  // created with (checked: FAILED_PRECONDITION otherwise).
  const merkle::Hasher* hasher = &merkle::Sm3Hasher();
  // Recompute every leaf, node and the root from the entries on Open (O(n)
  // reads and hashes: about 4.5 s per million 256-byte entries on the
  // 2-vCPU reference machine).
  // When false, Open checks only the stored frontier against the stored
  // root and that the entries end exactly at the stored size (O(log n));
  // VerifyIntegrity() does the full check later. Beibu's daemons keep this on.
  bool verify_on_open = true;
  // Sync every append (the durability promise). false only for bulk loads
  // in benchmarks and tests: an acknowledged append may then be lost.
  bool sync = true;
  // The node's last signed checkpoint: Open fails (as CheckAgainst) unless
  // the log contains it. Leave empty for a new log.
  std::optional<TreeHead> expected;
  // Largest entry Append accepts.
  size_t max_entry_size = 1 << 20;
  // Most entries one AppendBatch call may carry.
  size_t max_batch_entries = 4096;
  // RocksDB block cache for node and entry reads.
  size_t block_cache_bytes = 64 << 20;
};

// Counters since Open, for benchmarks and tests.
struct LogStats {
  uint64_t appends = 0;      // entries acknowledged
  uint64_t batches = 0;      // synced writes that carried them
  uint64_t node_reads = 0;   // node lookups (level 0 included) by Root/LeafHash/proofs
  uint64_t entry_reads = 0;  // Entry() lookups
};

class LogStore {
 public:
  // Opens or creates the log in directory `path`. FAILED_PRECONDITION if
  // another process holds it or it was created with another hash; DATA_LOSS
  // (naming the first bad index) if the stored data fails the checks above
  // or does not contain options.expected.
  static absl::StatusOr<std::unique_ptr<LogStore>> Open(const std::string& path,
                                                        OpenOptions options = {});
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Appends `entry` and returns its index once it is durable. Entries may be
  // empty. INVALID_ARGUMENT if larger than max_entry_size. After a failed
  // write the store refuses further appends (the same error) until reopened.
  absl::StatusOr<uint64_t> Append(ByteView entry);
  // Appends `entries` at consecutive indexes, all or none, in one durable
  // write; returns the first index (size() if `entries` is empty).
  absl::StatusOr<uint64_t> AppendBatch(std::span<const ByteView> entries);

  // Number of durable entries.
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  // The current size and root, consistent with each other.
  TreeHead Head() const;

  // OUT_OF_RANGE if index >= size(); DATA_LOSS if stored data went missing.
  absl::StatusOr<Bytes> Entry(uint64_t index) const;
  absl::StatusOr<Bytes> LeafHash(uint64_t index) const;
  // Root of the first `size` entries; OUT_OF_RANGE if size > size().
  absl::StatusOr<Bytes> Root(uint64_t size) const;
  // RFC 9162 §2.1.3 PATH(index, D[0:size]). OUT_OF_RANGE if size > size(),
  // INVALID_ARGUMENT if index >= size.
  absl::StatusOr<std::vector<Bytes>> InclusionProof(uint64_t index, uint64_t size) const;
  // RFC 9162 §2.1.4 PROOF(old_size, D[0:new_size]). OUT_OF_RANGE if
  // new_size > size(), INVALID_ARGUMENT unless 0 < old_size <= new_size.
  absl::StatusOr<std::vector<Bytes>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

  // Full recomputation over a consistent snapshot of the stored log (what
  // Open does with verify_on_open). OK, or DATA_LOSS naming the first bad
  // index, e.g. "entry 41 does not match its leaf hash", "entry 17 missing",
  // "log truncated: size record says 100 but entries stop at 97".
  absl::Status VerifyIntegrity() const;

  // Checks that this log contains the signed checkpoint (size, root): the
  // log has at least `size` entries and Root(size) == root. DATA_LOSS with
  // both roots in hex if not ("the log was rewritten"), or naming the
  // missing entries when the log is shorter; INVALID_ARGUMENT if `root` has
  // the wrong length. A node must not serve when this fails.
  absl::Status CheckAgainst(uint64_t size, ByteView root) const;

  const merkle::Hasher& hasher() const { return *hasher_; }
  const std::string& path() const { return path_; }
  LogStats stats() const;

 private:
  struct Request;
  struct Pending;
  struct Handles;

  LogStore(std::string path, OpenOptions options);
  absl::Status Init();
  absl::StatusOr<uint64_t> Submit(std::shared_ptr<Request> req);
  absl::StatusOr<Bytes> ReadNode(uint32_t level, uint64_t index) const;
  merkle::NodeSource Nodes() const;
  absl::Status CheckSize(uint64_t size) const;

  std::string path_;
  OpenOptions options_;
  const merkle::Hasher* hasher_;
  std::unique_ptr<Handles> db_;

  // Group commit state, guarded by mu_ (see Submit in log_store.cc).
  mutable std::mutex mu_;
  // The open batch: entries, leaf and node hashes of appends not yet taken
  // by a writer, already laid out as a RocksDB WriteBatch.
  std::unique_ptr<Pending> pending_;
  bool writing_ = false;  // a caller is writing a batch
  absl::Status broken_;
  // The tree including the open batch (ahead of what is durable).
  std::unique_ptr<merkle::Appender> appender_;
  TreeHead head_;  // durable size and its root

  std::atomic<uint64_t> size_{0};
  std::atomic<uint64_t> appends_{0}, batches_{0};
  mutable std::atomic<uint64_t> node_reads_{0}, entry_reads_{0};
};

}  // namespace beibu::audit
