#include "beibu/audit/audit_journal.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace beibu::audit {
namespace {

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

struct Staged {
  uint64_t sequence;
  v1::AuditEvent event;
};

}  // namespace

struct AuditJournal::State {
  AuditJournalOptions options;
  std::string event_prefix;  // <prefix>e/ then the big-endian sequence
  std::string mark_key;      // <prefix>m: log size and sequence after the last append

  std::mutex write_mu;  // sequence assignment and the store write, in one order
  uint64_t next_sequence = 1;

  mutable std::mutex mu;  // guards the rest
  std::condition_variable wake;
  std::condition_variable appended_cv;
  std::deque<Staged> staged;
  uint64_t appended_through = 0;  // highest sequence in the log
  bool stopping = false;
  std::thread pump;

  std::string EventKey(uint64_t sequence) const {
    std::string key = event_prefix;
    PutU64(key, sequence);
    return key;
  }
};

AuditJournal::AuditJournal(std::unique_ptr<State> state) : s_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<AuditJournal>> AuditJournal::Open(AuditJournalOptions options) {
  if (options.db == nullptr || options.log == nullptr) {
    return absl::InvalidArgumentError("an audit journal needs a store and an audit log");
  }
  if (options.prefix.empty() || options.max_batch == 0) {
    return absl::InvalidArgumentError("an audit journal needs a key prefix and max_batch > 0");
  }
  auto s = std::make_unique<State>();
  s->options = std::move(options);
  s->event_prefix = s->options.prefix + "e/";
  s->mark_key = s->options.prefix + "m";
  storage::Db& db = *s->options.db;

  // Where the pump last got to: entries from log index `floor` on may hold
  // sequences above `marked`; entries below it hold none.
  uint64_t floor = 0, marked = 0;
  if (absl::StatusOr<std::string> m = db.Get(s->mark_key); m.ok()) {
    if (m->size() != 16) {
      return absl::DataLossError(absl::StrCat(
          "audit journal mark in ", db.path(),
          " is corrupt; see \"Audit journal\" in docs/audit-log.md before touching the store"));
    }
    floor = GetU64(*m);
    marked = GetU64(std::string_view(*m).substr(8));
  } else if (!absl::IsNotFound(m.status())) {
    return m.status();
  }

  std::vector<Staged> found;
  absl::Status bad;
  absl::Status scan = db.Scan(s->event_prefix, [&](std::string_view key, std::string_view value) {
    Staged st;
    if (key.size() != s->event_prefix.size() + 8 ||
        !st.event.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      bad = absl::DataLossError(absl::StrCat(
          "staged audit event in ", db.path(),
          " is corrupt; see \"Audit journal\" in docs/audit-log.md before touching the store"));
      return false;
    }
    st.sequence = GetU64(key.substr(s->event_prefix.size()));
    found.push_back(std::move(st));
    return true;
  });
  if (!scan.ok()) return scan;
  if (!bad.ok()) return bad;

  // The newest journal event in the log carries the highest sequence it
  // holds (the pump appends in order). Read even when nothing is staged: a
  // store restored from a backup (or wiped) has an older mark, and new
  // sequences must still go above what the log holds.
  uint64_t in_log = marked;
  {
    LogStore& store = s->options.log->store();
    for (uint64_t i = store.size(); i > floor; --i) {
      absl::StatusOr<Bytes> entry = store.Entry(i - 1);
      if (!entry.ok()) return entry.status();
      absl::StatusOr<v1::AuditEvent> e = DecodeAuditEvent(*entry);
      if (e.ok() && e->journal_sequence() > 0) {
        in_log = std::max(in_log, e->journal_sequence());
        break;
      }
    }
  }
  storage::WriteBatch drop;
  size_t dropped = 0;
  for (Staged& st : found) {
    if (st.sequence <= in_log) {
      drop.Delete(s->EventKey(st.sequence));
      ++dropped;
    } else {
      s->staged.push_back(std::move(st));
    }
  }
  // Move the mark to the log's end: the next Open then reads back no
  // further than here (and never hands out a sequence the log holds).
  std::string mark;
  PutU64(mark, s->options.log->store().size());
  PutU64(mark, in_log);
  drop.Put(s->mark_key, mark);
  if (absl::Status w = db.Write(drop, storage::Durability::kBuffered); !w.ok()) return w;
  s->appended_through = in_log;
  s->next_sequence = std::max(in_log, found.empty() ? 0 : found.back().sequence) + 1;
  if (!s->staged.empty() || dropped > 0) {
    spdlog::info("event=audit_journal_recovered store={} already_logged={} to_append={}", db.path(),
                 dropped, s->staged.size());
  }

  std::unique_ptr<AuditJournal> j(new AuditJournal(std::move(s)));
  j->s_->pump = std::thread([raw = j.get()] { raw->Pump(); });
  return j;
}

AuditJournal::~AuditJournal() {
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->stopping = true;
  }
  s_->wake.notify_all();
  if (s_->pump.joinable()) s_->pump.join();
}

absl::Status AuditJournal::Write(storage::WriteBatch& batch, std::vector<v1::AuditEvent> events) {
  std::lock_guard<std::mutex> order(s_->write_mu);
  if (!events.empty() && pending() >= s_->options.max_pending) {
    // The log has not taken events for a while: stop the steps that would
    // be audited instead of holding ever more in memory.
    return absl::UnavailableError(
        absl::StrCat(pending(),
                     " audit events are waiting for the audit log (see "
                     "event=audit_journal_append_failed); refusing new steps until it takes "
                     "them: check the disk of the audit log, then retry"));
  }
  const google::protobuf::Timestamp now = google::protobuf::util::TimeUtil::GetCurrentTime();
  uint64_t sequence = s_->next_sequence;
  for (v1::AuditEvent& e : events) {
    if (!e.has_time()) *e.mutable_time() = now;
    e.set_journal_sequence(sequence);
    batch.Put(s_->EventKey(sequence), e.SerializeAsString());
    ++sequence;
  }
  if (absl::Status w = s_->options.db->Write(batch); !w.ok()) return w;
  s_->next_sequence = sequence;
  if (events.empty()) return absl::OkStatus();
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    // The pump needs a wake-up only to start gathering or to stop lingering.
    wake = s_->staged.empty();
    for (v1::AuditEvent& e : events) {
      const uint64_t seq = e.journal_sequence();
      s_->staged.push_back(Staged{seq, std::move(e)});
    }
    wake = wake || s_->staged.size() >= s_->options.max_batch;
  }
  if (wake) s_->wake.notify_one();
  return absl::OkStatus();
}

void AuditJournal::Pump() {
  State& s = *s_;
  std::unique_lock<std::mutex> lock(s.mu);
  size_t last_appended = 0;  // events in the previous append
  while (true) {
    s.wake.wait(lock, [&] { return s.stopping || !s.staged.empty(); });
    if (s.staged.empty()) return;  // stopping, nothing left
    // A busy hop (its last append carried several events, or several are
    // waiting) lets events gather for a moment: one append (one fsync of the
    // log) then carries many steps. A quiet one appends at once, without a
    // timer wake-up per event.
    if (last_appended > 1 || s.staged.size() > 1) {
      s.wake.wait_for(lock, s.options.linger,
                      [&] { return s.stopping || s.staged.size() >= s.options.max_batch; });
    }
    const size_t n = std::min(s.staged.size(), s.options.max_batch);
    std::vector<v1::AuditEvent> events;
    events.reserve(n);
    for (size_t i = 0; i < n; ++i) events.push_back(s.staged[i].event);
    const uint64_t first_seq = s.staged.front().sequence;
    const uint64_t last_seq = s.staged[n - 1].sequence;
    const bool last_try = s.stopping;
    lock.unlock();

    absl::StatusOr<uint64_t> first = s.options.log->AppendBatch(std::move(events));
    if (!first.ok()) {
      spdlog::error(
          "event=audit_journal_append_failed store={} staged_from={} error=\"{}\" "
          "action=\"the events stay staged and are retried; check the audit log's disk\"",
          s.options.db->path(), first_seq, std::string(first.status().message()));
      lock.lock();
      if (last_try) return;
      s.wake.wait_for(lock, s.options.retry_after, [&] { return s.stopping; });
      continue;
    }
    // Unstage them. Buffered: if this is lost, Open finds the events in the
    // log and drops them then.
    storage::WriteBatch done;
    for (uint64_t seq = first_seq; seq <= last_seq; ++seq) done.Delete(s.EventKey(seq));
    std::string mark;
    PutU64(mark, *first + n);
    PutU64(mark, last_seq);
    done.Put(s.mark_key, mark);
    if (absl::Status w = s.options.db->Write(done, storage::Durability::kBuffered); !w.ok()) {
      spdlog::warn("event=audit_journal_unstage_failed store={} error=\"{}\"", s.options.db->path(),
                   std::string(w.message()));
    }
    lock.lock();
    s.staged.erase(s.staged.begin(), s.staged.begin() + static_cast<std::ptrdiff_t>(n));
    s.appended_through = last_seq;
    last_appended = n;
    s.appended_cv.notify_all();
  }
}

absl::Status AuditJournal::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(s_->mu);
  if (s_->staged.empty()) return absl::OkStatus();
  const uint64_t target = s_->staged.back().sequence;
  if (!s_->appended_cv.wait_for(lock, timeout, [&] { return s_->appended_through >= target; })) {
    return absl::DeadlineExceededError(
        absl::StrCat("audit events staged through sequence ", target,
                     " are not in the audit log yet; see event=audit_journal_append_failed"));
  }
  return absl::OkStatus();
}

uint64_t AuditJournal::pending() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->staged.size();
}

}  // namespace beibu::audit
