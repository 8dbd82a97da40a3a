// The audit journal: a hop's audit events staged in its own store in the
// same synced write as its step, then appended to the audit log in order,
// each exactly once, across concurrent writers, restarts and kill -9.
#include "beibu/audit/audit_journal.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "beibu/audit/audit_log.h"
#include "beibu/crypto/crypto.h"
#include "beibu/storage/db.h"
#include "temp_dir.h"

namespace beibu::audit {
namespace {

constexpr char kPrefix[] = "~audit-journal/";

v1::AuditEvent Event(const std::string& transfer_id) {
  v1::AuditEvent e;
  e.set_operation("relay.accept");
  e.set_transfer_id(transfer_id);
  return e;
}

// The documented staged-key layout: <prefix>e/ + 8-byte big-endian sequence.
std::string StagedKey(const std::string& prefix, uint64_t sequence) {
  std::string key = prefix + "e/";
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((sequence >> (8 * i)) & 0xff));
  return key;
}

std::vector<v1::AuditEvent> LogEvents(AuditLog& log) {
  std::vector<v1::AuditEvent> out;
  for (uint64_t i = 0; i < log.store().size(); ++i) {
    absl::StatusOr<Bytes> entry = log.store().Entry(i);
    EXPECT_TRUE(entry.ok()) << entry.status();
    if (!entry.ok()) continue;
    absl::StatusOr<v1::AuditEvent> e = DecodeAuditEvent(*entry);
    if (e.ok()) out.push_back(*std::move(e));
  }
  return out;
}

std::vector<std::string> StagedKeys(storage::Db& db, const std::string& prefix = kPrefix) {
  std::vector<std::string> keys;
  EXPECT_TRUE(db.Scan(prefix + "e/", [&](std::string_view k, std::string_view) {
                  keys.emplace_back(k);
                  return true;
                }).ok());
  return keys;
}

class AuditJournalTest : public ::testing::Test {
 protected:
  AuditLogOptions LogOptions() {
    return {.dir = (dir_ / "audit").string(),
            .node_id = "edge-vn",
            .key = key_,
            .node_country = "VN",
            .checkpoint_interval = std::chrono::milliseconds(0)};
  }
  std::string StorePath() { return (dir_ / "store").string(); }

  void OpenAll() {
    auto db = storage::Db::Open(StorePath());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto log = AuditLog::Open(LogOptions());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }
  absl::StatusOr<std::unique_ptr<AuditJournal>> OpenJournal(size_t max_batch = 1024) {
    return AuditJournal::Open({.db = db_.get(), .log = log_.get(), .max_batch = max_batch});
  }
  void CloseAll() {
    journal_.reset();
    log_.reset();
    db_.reset();
  }
  void TearDown() override { CloseAll(); }

  // Stages events directly in the store, as a journal that crashed would
  // have left them.
  void Stage(uint64_t sequence, const std::string& transfer_id) {
    v1::AuditEvent e = Event(transfer_id);
    e.set_journal_sequence(sequence);
    ASSERT_TRUE(db_->Put(StagedKey(kPrefix, sequence), e.SerializeAsString()).ok());
  }
  // Appends journal events to the log, as the pump would have before a crash.
  void AppendJournaled(std::vector<std::pair<uint64_t, std::string>> events) {
    std::vector<v1::AuditEvent> batch;
    for (auto& [seq, id] : events) {
      batch.push_back(Event(id));
      batch.back().set_journal_sequence(seq);
    }
    ASSERT_TRUE(log_->AppendBatch(std::move(batch)).ok());
  }

  testing::TempDir dir_;
  crypto::Sm2PrivateKey key_ = crypto::Sm2PrivateKey::Generate().value();
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<AuditJournal> journal_;
};

TEST_F(AuditJournalTest, OpenNeedsAStoreAndALog) {
  OpenAll();
  EXPECT_TRUE(absl::IsInvalidArgument(AuditJournal::Open({.log = log_.get()}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(AuditJournal::Open({.db = db_.get()}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      AuditJournal::Open({.db = db_.get(), .log = log_.get(), .prefix = ""}).status()));
}

TEST_F(AuditJournalTest, WriteStoresTheStepAndTheLogGetsTheEventsInOrder) {
  OpenAll();
  const std::string prefix = "hop-journal/";
  auto j = AuditJournal::Open({.db = db_.get(), .log = log_.get(), .prefix = prefix});
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE(log_->Append(Event("direct-before")).ok());

  google::protobuf::Timestamp preset;
  preset.set_seconds(1'700'000'000);
  storage::WriteBatch b1;
  b1.Put("transfer/t1", "accepted");
  std::vector<v1::AuditEvent> first = {Event("t1-a"), Event("t1-b")};
  *first[1].mutable_time() = preset;
  ASSERT_TRUE((*j)->Write(b1, first).ok());
  storage::WriteBatch b2;
  b2.Put("transfer/t2", "accepted");
  b2.Put("transfer/t2/meta", "m");
  ASSERT_TRUE((*j)->Write(b2, {Event("t2-a"), Event("t2-b"), Event("t2-c")}).ok());
  storage::WriteBatch only_step;  // no events: just the step
  only_step.Put("transfer/t3", "accepted");
  ASSERT_TRUE((*j)->Write(only_step, {}).ok());

  EXPECT_EQ(db_->Get("transfer/t1").value(), "accepted");
  EXPECT_EQ(db_->Get("transfer/t2/meta").value(), "m");
  EXPECT_EQ(db_->Get("transfer/t3").value(), "accepted");

  ASSERT_TRUE((*j)->Flush().ok());
  EXPECT_EQ((*j)->pending(), 0u);
  EXPECT_TRUE(StagedKeys(*db_, prefix).empty()) << "appended events must be unstaged";

  std::vector<v1::AuditEvent> logged = LogEvents(*log_);
  ASSERT_EQ(logged.size(), 6u);
  EXPECT_EQ(logged[0].journal_sequence(), 0u) << "a direct append carries no sequence";
  const std::vector<std::string> want = {"t1-a", "t1-b", "t2-a", "t2-b", "t2-c"};
  for (size_t i = 0; i < want.size(); ++i) {
    const v1::AuditEvent& e = logged[i + 1];
    EXPECT_EQ(e.transfer_id(), want[i]);
    EXPECT_EQ(e.journal_sequence(), i + 1);
    EXPECT_TRUE(e.has_time());
    EXPECT_GT(e.time().seconds(), 0);
    EXPECT_EQ(e.node_id(), "edge-vn");
    EXPECT_EQ(e.node_country(), "VN");
  }
  EXPECT_EQ(logged[2].time().seconds(), preset.seconds()) << "a time already set is kept";
}

TEST_F(AuditJournalTest, ConcurrentWritersGetGaplessSequencesInTheirOwnOrder) {
  OpenAll();
  auto j = OpenJournal(/*max_batch=*/3);  // several pump appends per burst
  ASSERT_TRUE(j.ok()) << j.status();
  constexpr int kWriters = 6, kWrites = 15;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWrites; ++i) {
        storage::WriteBatch b;
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        b.Put("step/" + id, "x");
        std::vector<v1::AuditEvent> events = {Event(id + "-0")};
        if (i % 2 == 0) events.push_back(Event(id + "-1"));
        if (!(*j)->Write(b, std::move(events)).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE((*j)->Flush().ok());
  EXPECT_EQ((*j)->pending(), 0u);
  EXPECT_TRUE(StagedKeys(*db_).empty());

  std::vector<v1::AuditEvent> logged = LogEvents(*log_);
  const size_t total = kWriters * (kWrites + (kWrites + 1) / 2);
  ASSERT_EQ(logged.size(), total);
  std::map<int, std::vector<std::string>> per_writer;
  for (size_t i = 0; i < logged.size(); ++i) {
    EXPECT_EQ(logged[i].journal_sequence(), i + 1) << "at log index " << i;
    const std::string& id = logged[i].transfer_id();
    per_writer[std::stoi(id.substr(1, id.find('-') - 1))].push_back(id);
  }
  ASSERT_EQ(per_writer.size(), static_cast<size_t>(kWriters));
  for (auto& [w, ids] : per_writer) {
    std::vector<std::string> want;
    for (int i = 0; i < kWrites; ++i) {
      const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
      want.push_back(id + "-0");
      if (i % 2 == 0) want.push_back(id + "-1");
    }
    EXPECT_EQ(ids, want) << "writer " << w;
  }
}

TEST_F(AuditJournalTest, RecoveryAppendsOnlyWhatTheLogLacks) {
  OpenAll();
  // A crash after the pump appended 1 and 2 but before it unstaged them;
  // 3 was staged and not appended.
  Stage(1, "s1");
  Stage(2, "s2");
  Stage(3, "s3");
  AppendJournaled({{1, "s1"}, {2, "s2"}});
  ASSERT_EQ(log_->store().size(), 2u);

  auto j = OpenJournal();
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE((*j)->Flush().ok());
  EXPECT_EQ((*j)->pending(), 0u);
  std::vector<v1::AuditEvent> logged = LogEvents(*log_);
  ASSERT_EQ(logged.size(), 3u) << "only the missing event is appended";
  EXPECT_EQ(logged[2].transfer_id(), "s3");
  EXPECT_EQ(logged[2].journal_sequence(), 3u);
  EXPECT_TRUE(StagedKeys(*db_).empty());

  storage::WriteBatch b;
  b.Put("step/n", "x");
  ASSERT_TRUE((*j)->Write(b, {Event("n1"), Event("n2")}).ok());
  ASSERT_TRUE((*j)->Flush().ok());
  logged = LogEvents(*log_);
  ASSERT_EQ(logged.size(), 5u);
  EXPECT_EQ(logged[3].journal_sequence(), 4u);
  EXPECT_EQ(logged[4].journal_sequence(), 5u);
}

TEST_F(AuditJournalTest, RecoveryLooksPastDirectEventsAfterTheJournals) {
  OpenAll();
  Stage(1, "s1");
  Stage(2, "s2");
  Stage(3, "s3");
  Stage(4, "s4");
  AppendJournaled({{1, "s1"}, {2, "s2"}});
  ASSERT_TRUE(log_->Append(Event("direct-1")).ok());
  AppendJournaled({{3, "s3"}});
  ASSERT_TRUE(log_->Append(Event("direct-2")).ok());
  ASSERT_TRUE(log_->Append(Event("direct-3")).ok());
  ASSERT_EQ(log_->store().size(), 6u);

  auto j = OpenJournal();
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE((*j)->Flush().ok());
  std::vector<v1::AuditEvent> logged = LogEvents(*log_);
  ASSERT_EQ(logged.size(), 7u) << "only s4 is missing";
  EXPECT_EQ(logged[6].transfer_id(), "s4");
  EXPECT_EQ(logged[6].journal_sequence(), 4u);
  EXPECT_TRUE(StagedKeys(*db_).empty());

  storage::WriteBatch b;
  b.Put("step/n", "x");
  ASSERT_TRUE((*j)->Write(b, {Event("n1")}).ok());
  ASSERT_TRUE((*j)->Flush().ok());
  logged = LogEvents(*log_);
  ASSERT_EQ(logged.size(), 8u);
  EXPECT_EQ(logged[7].journal_sequence(), 5u);
}

TEST_F(AuditJournalTest, RecoveryOfEventsAllInTheLogAppendsNothing) {
  OpenAll();
  Stage(1, "s1");
  Stage(2, "s2");
  AppendJournaled({{1, "s1"}, {2, "s2"}});
  ASSERT_TRUE(log_->Append(Event("direct")).ok());
  {
    auto j = OpenJournal();
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_TRUE((*j)->Flush().ok());
    EXPECT_EQ(log_->store().size(), 3u) << "nothing was missing";
    EXPECT_TRUE(StagedKeys(*db_).empty());
    storage::WriteBatch b;
    b.Put("step/n", "x");
    ASSERT_TRUE((*j)->Write(b, {Event("n1")}).ok());
    ASSERT_TRUE((*j)->Flush().ok());
    std::vector<v1::AuditEvent> logged = LogEvents(*log_);
    ASSERT_EQ(logged.size(), 4u);
    EXPECT_EQ(logged[3].journal_sequence(), 3u);
  }
}

// Open drops staged events the log already holds. A later Open (a clean
// restart, nothing staged) must still continue above the log's sequences.
TEST_F(AuditJournalTest, SequencesContinueAfterARecoveryThatDroppedEverything) {
  OpenAll();
  Stage(1, "s1");
  Stage(2, "s2");
  AppendJournaled({{1, "s1"}, {2, "s2"}});
  {
    auto j = OpenJournal();  // recovers: both already logged, both dropped
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_TRUE((*j)->Flush().ok());
    EXPECT_EQ(log_->store().size(), 2u);
  }
  CloseAll();
  OpenAll();
  auto j = OpenJournal();
  ASSERT_TRUE(j.ok()) << j.status();
  storage::WriteBatch b;
  b.Put("step/n", "x");
  ASSERT_TRUE((*j)->Write(b, {Event("n1")}).ok());
  ASSERT_TRUE((*j)->Flush().ok());
  std::vector<v1::AuditEvent> logged = LogEvents(*log_);
  ASSERT_EQ(logged.size(), 3u);
  EXPECT_GT(logged[2].journal_sequence(), 2u)
      << "a reused sequence breaks 'increasing in log order' and later recoveries";
}

TEST_F(AuditJournalTest, AStoreRestoredOrWipedStillGetsSequencesAboveTheLogs) {
  OpenAll();
  {
    auto j = OpenJournal();
    ASSERT_TRUE(j.ok()) << j.status();
    for (const char* id : {"w1", "w2", "w3"}) {
      storage::WriteBatch b;
      b.Put(std::string("step/") + id, "x");
      ASSERT_TRUE((*j)->Write(b, {Event(id)}).ok());
    }
    ASSERT_TRUE((*j)->Flush().ok());
  }
  CloseAll();
  // The store is lost (or restored from a backup taken before the writes):
  // its mark is gone, the log still holds sequences 1..3.
  std::filesystem::remove_all(StorePath());
  OpenAll();
  auto j = OpenJournal();
  ASSERT_TRUE(j.ok()) << j.status();
  storage::WriteBatch b;
  b.Put("step/w4", "x");
  ASSERT_TRUE((*j)->Write(b, {Event("w4")}).ok());
  ASSERT_TRUE((*j)->Flush().ok());
  std::vector<v1::AuditEvent> logged = LogEvents(*log_);
  ASSERT_EQ(logged.size(), 4u);
  EXPECT_EQ(logged[3].journal_sequence(), 4u)
      << "a sequence at or below the log's would be dropped as already logged by a later "
         "recovery";
}

TEST_F(AuditJournalTest, WriteRefusesNewEventsWhileTooManyWaitForTheLog) {
  OpenAll();
  // A pump that cannot keep up is simulated by a cap of 0: every staged event
  // is "too many". Steps without events are not audited and still pass.
  auto j = AuditJournal::Open({.db = db_.get(), .log = log_.get(), .max_pending = 0});
  ASSERT_TRUE(j.ok()) << j.status();
  storage::WriteBatch plain;
  plain.Put("step/plain", "x");
  EXPECT_TRUE((*j)->Write(plain, {}).ok());
  storage::WriteBatch b;
  b.Put("step/audited", "x");
  absl::Status s = (*j)->Write(b, {Event("refused-1")});
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("audit_journal_append_failed"), std::string_view::npos) << s;
  EXPECT_TRUE(absl::IsNotFound(db_->Get("step/audited").status()));
}

TEST_F(AuditJournalTest, CorruptStagedEventIsDataLossNamingTheStore) {
  OpenAll();
  Stage(1, "s1");
  // A length-delimited field whose length runs past the end: unparsable.
  ASSERT_TRUE(db_->Put(StagedKey(kPrefix, 2), std::string("\x0a\x05"
                                                          "ab",
                                                          4))
                  .ok());
  auto j = OpenJournal();
  ASSERT_FALSE(j.ok());
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_NE(std::string(j.status().message()).find(StorePath()), std::string::npos) << j.status();
  EXPECT_EQ(log_->store().size(), 0u) << "nothing appended from a corrupt journal";
}

TEST_F(AuditJournalTest, MalformedStagedKeyIsDataLoss) {
  OpenAll();
  ASSERT_TRUE(db_->Put(std::string(kPrefix) + "e/short", Event("x").SerializeAsString()).ok());
  auto j = OpenJournal();
  ASSERT_FALSE(j.ok());
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_NE(std::string(j.status().message()).find(StorePath()), std::string::npos) << j.status();
}

TEST_F(AuditJournalTest, DestructorAppendsWhatIsStaged) {
  OpenAll();
  constexpr int kEvents = 2000;
  {
    auto j = OpenJournal(/*max_batch=*/100);  // many pump rounds to drain
    ASSERT_TRUE(j.ok()) << j.status();
    storage::WriteBatch b;
    b.Put("step/bulk", "x");
    std::vector<v1::AuditEvent> events;
    for (int i = 0; i < kEvents; ++i) events.push_back(Event("bulk-" + std::to_string(i)));
    ASSERT_TRUE((*j)->Write(b, std::move(events)).ok());
  }  // destroyed at once, no Flush
  EXPECT_TRUE(StagedKeys(*db_).empty()) << "the destructor unstages what it appended";
  log_.reset();
  auto log = AuditLog::Open(LogOptions());
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<v1::AuditEvent> logged = LogEvents(**log);
  ASSERT_EQ(logged.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_EQ(logged[i].journal_sequence(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(logged[i].transfer_id(), "bulk-" + std::to_string(i));
  }
}

// ---- kill -9 ----------------------------------------------------------------

constexpr int kCrashWrites = 30;

std::string StepKey(int round, int write) {
  return "step/r" + std::to_string(round) + "/w" + std::to_string(write);
}
std::string EventId(int round, int write, int k) {
  return "r" + std::to_string(round) + "-w" + std::to_string(write) + "-e" + std::to_string(k);
}
int EventsIn(int write) { return 1 + write % 3; }

// In the child: open everything, write, and die by SIGKILL at a point that
// varies with the round. Reports each acknowledged Write on `fd` after it
// returned. Never returns.
[[noreturn]] void CrashingChild(int round, int fd, const std::string& store_path,
                                const AuditLogOptions& log_options) {
  auto db = storage::Db::Open(store_path);
  if (!db.ok()) _exit(10);
  auto log = AuditLog::Open(log_options);
  if (!log.ok()) _exit(11);
  auto j = AuditJournal::Open({.db = db->get(), .log = log->get(), .max_batch = 4});
  if (!j.ok()) _exit(12);

  const int sleep_ms = round % 4;
  const bool killer_thread = round % 3 == 0;  // dies anywhere, mid-Write too
  const int kill_after = (round * 7) % kCrashWrites;
  if (killer_thread) {
    std::thread([sleep_ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms) +
                                  std::chrono::microseconds(300));
      raise(SIGKILL);
    }).detach();
  }
  for (int w = 0; w < kCrashWrites; ++w) {
    storage::WriteBatch b;
    b.Put(StepKey(round, w), "done");
    std::vector<v1::AuditEvent> events;
    for (int k = 0; k < EventsIn(w); ++k) events.push_back(Event(EventId(round, w, k)));
    if (!(*j)->Write(b, std::move(events)).ok()) _exit(13);
    const int acked = w + 1;
    if (write(fd, &acked, sizeof acked) != sizeof acked) _exit(14);
    if (w % 5 == 2) {  // another writer of the same log
      if (!(*log)->Append(Event("r" + std::to_string(round) + "-direct-" + std::to_string(w))).ok())
        _exit(15);
    }
    if (!killer_thread && w == kill_after) {
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      raise(SIGKILL);
    }
  }
  if (killer_thread) {
    while (true) pause();
  }
  raise(SIGKILL);
  _exit(16);
}

TEST_F(AuditJournalTest, KillNineLosesNothingAndLogsNothingTwice) {
  constexpr int kRounds = 20;
  std::vector<int> acked(kRounds, 0);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const AuditLogOptions log_options = LogOptions();
    const std::string store_path = StorePath();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      CrashingChild(round, fds[1], store_path, log_options);
    }
    close(fds[1]);
    int value = 0;
    while (read(fds[0], &value, sizeof value) == sizeof value) acked[round] = value;
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child failed before its kill, exit code "
        << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    // Restart: recover, then check the whole log so far.
    OpenAll();
    auto j = OpenJournal();
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_TRUE((*j)->Flush().ok());
    EXPECT_EQ((*j)->pending(), 0u);
    EXPECT_TRUE(StagedKeys(*db_).empty()) << "everything recovered is unstaged";
    j->reset();

    std::map<std::string, int> seen;
    uint64_t last_seq = 0;
    for (const v1::AuditEvent& e : LogEvents(*log_)) {
      ++seen[e.transfer_id()];
      if (e.journal_sequence() == 0) continue;
      EXPECT_GT(e.journal_sequence(), last_seq)
          << e.transfer_id() << ": journal sequences must increase in log order";
      last_seq = e.journal_sequence();
      // An event in the log implies its step is in the store (same write).
      const size_t w_at = e.transfer_id().find("-w"), e_at = e.transfer_id().rfind("-e");
      ASSERT_NE(w_at, std::string::npos);
      const int r = std::stoi(e.transfer_id().substr(1, w_at - 1));
      const int w = std::stoi(e.transfer_id().substr(w_at + 2, e_at - w_at - 2));
      EXPECT_TRUE(db_->Get(StepKey(r, w)).ok()) << e.transfer_id() << " logged without its step";
    }
    for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << id << " logged " << count << "x";
    for (int r = 0; r <= round; ++r) {
      for (int w = 0; w < kCrashWrites; ++w) {
        for (int k = 0; k < EventsIn(w); ++k) {
          const std::string id = EventId(r, w, k);
          if (w < acked[r]) {
            EXPECT_EQ(seen.count(id), 1u) << id << " was acknowledged but is not in the log";
            EXPECT_TRUE(db_->Get(StepKey(r, w)).ok()) << "acknowledged step lost";
          } else if (k > 0 && seen.count(id) != seen.count(EventId(r, w, 0))) {
            ADD_FAILURE() << "write " << w << " of round " << r << " is half logged";
          }
        }
      }
    }
    CloseAll();
    if (HasFatalFailure()) return;
  }
  int total_acked = 0;
  for (int a : acked) total_acked += a;
  EXPECT_GT(total_acked, 0) << "the children never got a write through";
}

}  // namespace
}  // namespace beibu::audit
