// The breaker state machine (breaker_board.h).
//
// One mutex guards the breakers; an atomic count of open and half-open ones
// lets Admit, Finish and Holds return without locking while none is (the
// common case: one atomic load per request). Changes are queued under the
// lock and handed to on_change by one thread at a time, in queue order,
// outside the lock (Drain); a call that queued none does not wait for that.
//
// Probe accounting of a half-open breaker. A half-open period (from
// half-opening to the next re-trip or close) has one or more phases: a new
// phase starts when its lost probes are renewed. Phase numbers grow over the
// board's life, so a probe's phase (Admission::phases) tells which it is:
//   == phase: current; it is one of in_flight.
//   >= period_start, < phase: renewed (taken as lost); it is one of `lost`.
//     Its slot was given back, but if it is decided after all it still
//     passes (a long SendStream probe is not wasted); abandoned, it is done.
//   < period_start (or not half-open): stale, of an earlier period; nothing.
// probes_left == max(0, budget - probes_passed - in_flight) (Recount).
#include "beibu/gateway/breaker_board.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

namespace beibu::gateway {
namespace {

using Clock = BreakerBoard::Clock;
using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToTimestamp(Clock::time_point t) {
  return TimeUtil::MillisecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

Clock::time_point FromTimestamp(const google::protobuf::Timestamp& t) {
  return Clock::time_point(std::chrono::milliseconds(TimeUtil::TimestampToMilliseconds(t)));
}

std::string Iso(const google::protobuf::Timestamp& t) { return TimeUtil::ToString(t); }

bool Active(const v1::Breaker& b) {
  return b.state() == v1::BREAKER_OPEN || b.state() == v1::BREAKER_HALF_OPEN;
}

// Tripped by an alarm: closes by itself after its cool-down and probes.
bool Automatic(const v1::Breaker& b) {
  return !b.from_hub() && absl::StartsWith(b.tripped_by(), "detector:");
}

bool Blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::string RouteKey(const std::string& from, const std::string& to) {
  return absl::StrCat("route:", from, ">", to);
}

}  // namespace

struct BreakerBoard::Impl {
  struct Entry {
    v1::Breaker b;                   // as saved; BREAKER_CLOSED: closed, kept for `trips`
    Clock::time_point half_open_at;  // automatic trips
    // Half-open: when it half-opened or last admitted a probe (or renewed its
    // probes), whichever is latest; quiet for a cool-down from here, it closes.
    Clock::time_point last_probe_at;
    uint64_t phase = 0;         // half-open: this phase's number (never 0)
    uint64_t period_start = 0;  // half-open: the first phase of this half-open period
    uint32_t in_flight = 0;     // half-open: probes of this phase neither finished nor abandoned
    uint32_t lost = 0;  // half-open: renewed probes of this period neither finished nor abandoned
    // Loaded from the Store at this time (else the epoch): the quiet period of
    // a breaker half-open after a restart starts no earlier, so that it waits
    // a whole cool_down for its probes again before closing quietly.
    Clock::time_point loaded_at;
  };

  BreakerConfig config;
  Store* store = nullptr;
  OnChange on_change;

  std::mutex mu;
  // Scope text -> breaker. Closed automatic breakers stay (state CLOSED) so
  // that `trips` counts on; bounded by the scopes that ever tripped.
  using Entries = std::map<std::string, Entry, std::less<>>;
  Entries entries;
  std::atomic<int> active{0};                          // open or half-open entries
  std::deque<std::pair<Change, v1::Breaker>> pending;  // for on_change
  uint64_t queued = 0;                                 // changes ever queued (under mu)
  uint64_t reported = 0;    // of those, handed to on_change and returned (under mu)
  uint64_t last_phase = 0;  // phase numbers are unique in the board's life
  std::mutex notify_mu;     // one Drain at a time

  uint32_t budget() const { return std::max<uint32_t>(1, config.probe_budget); }

  // Probe slots left from the probes passed and under way (see the top).
  void Recount(Entry& e) const {
    const uint64_t used = uint64_t{e.b.probes_passed()} + e.in_flight;
    e.b.set_probes_left(used >= budget() ? 0 : static_cast<uint32_t>(budget() - used));
  }

  // Starts a new half-open period in its first phase.
  void NewPeriod(Entry& e) {
    e.phase = ++last_phase;
    e.period_start = e.phase;
    e.in_flight = 0;
    e.lost = 0;
  }

  // When a breaker half-open since `half_open_at` starts to be quiet: never
  // before the board loaded it (the edge was down, nobody could probe).
  static Clock::time_point QuietFrom(const Entry& e) {
    return std::max(e.half_open_at, e.loaded_at);
  }

  Entry* Find(const std::string& key) {
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
  }

  void Emit(Change change, const v1::Breaker& b) {
    if (!on_change) return;
    pending.emplace_back(change, b);
    ++queued;
  }

  // For Drain: what a call that began with `queued == before` must see
  // reported before it returns (0: it queued nothing, it need not wait).
  uint64_t DrainTarget(uint64_t before) const { return queued == before ? 0 : queued; }

  // Saved before it takes effect; a failed save still takes effect (a trip
  // must stop the flows now) but will not survive a restart.
  void Save(const v1::Breaker& b) {
    if (store == nullptr) return;
    absl::Status s = store->Save(b);
    if (!s.ok()) {
      spdlog::error("event=breaker_save_failed scope={} state={} error=\"{}\"", b.scope(),
                    v1::BreakerState_Name(b.state()), s.ToString());
    }
  }

  // Installs `b` (open or half-open) for its scope.
  void Install(v1::Breaker b, Change change) {
    Save(b);
    Entry& e = entries[b.scope()];
    if (!Active(e.b)) active.fetch_add(1, std::memory_order_acq_rel);
    e.b = std::move(b);
    e.half_open_at =
        e.b.has_half_open_at() ? FromTimestamp(e.b.half_open_at()) : Clock::time_point();
    e.in_flight = 0;  // probes of an earlier phase are stale now
    e.lost = 0;
    e.phase = 0;
    e.period_start = 0;
    e.loaded_at = Clock::time_point();
    Emit(change, e.b);
  }

  // Whether a half-open automatic breaker admitted no probe, and had none
  // under way, for a whole cool-down: it closes by itself, so that held
  // outbound data of a scope that sends nothing new does not stay held.
  bool QuietDue(const Entry& e, Clock::time_point now) const {
    return e.b.state() == v1::BREAKER_HALF_OPEN && Automatic(e.b) && e.in_flight == 0 &&
           now - e.last_probe_at >= config.cool_down;
  }

  // Whether `e` holds at `now` once the due transitions (Settle) are made;
  // changes nothing (Holds is const and lock-light).
  bool HoldsAt(const Entry& e, Clock::time_point now) const {
    if (!Active(e.b)) return false;
    if (!Automatic(e.b)) return true;
    if (e.b.state() == v1::BREAKER_OPEN) {
      // Half-opens at half_open_at with nothing under way (HalfOpenIfDue).
      return now < e.half_open_at || now - QuietFrom(e) < config.cool_down;
    }
    return !QuietDue(e, now);
  }

  // An open automatic breaker whose cool-down passed turns half-open, as of
  // the moment it was due: a breaker nobody asked about for a long time is
  // not quiet for less than it was (but no earlier than the edge started:
  // QuietFrom).
  void HalfOpenIfDue(Entry& e, Clock::time_point now) {
    if (e.b.state() != v1::BREAKER_OPEN || !Automatic(e.b) || now < e.half_open_at) return;
    v1::Breaker b = e.b;
    b.set_state(v1::BREAKER_HALF_OPEN);
    b.set_probes_left(budget());
    b.set_probes_passed(0);
    Save(b);
    e.b = std::move(b);
    e.last_probe_at = QuietFrom(e);
    NewPeriod(e);
    Emit(Change::kHalfOpen, e.b);
  }

  // A half-open breaker with every slot taken by probes under way, none
  // admitted for a whole cool-down, takes them as lost (they should all end
  // in Finish or Abandon): a new phase admits the missing ones again, so it
  // cannot stay half-open for ever. Only with no slot left: a probe that
  // merely takes long (a SendStream uploading for minutes) is not lost while
  // other sends can still probe. A lost probe decided late still passes.
  void RenewProbes(Entry& e, Clock::time_point now) {
    if (e.b.state() != v1::BREAKER_HALF_OPEN || e.in_flight == 0) return;
    if (e.b.probes_left() > 0 || now - e.last_probe_at < config.cool_down) return;
    e.lost += e.in_flight;
    e.in_flight = 0;
    e.phase = ++last_phase;
    e.last_probe_at = now;
    Recount(e);
  }

  // Closes an automatic breaker for good reason (its probes passed, or it
  // stayed quiet): its record is erased, its entry kept for `trips`.
  void CloseAutomatic(Entries::iterator it, const std::string& why) {
    if (store != nullptr) {
      // The breaker closes anyway: a record left behind only makes the
      // scope half-open for a few probes after a restart.
      absl::Status s = store->Erase(it->first);
      if (!s.ok()) {
        spdlog::error("event=breaker_erase_failed scope={} error=\"{}\"", it->first, s.ToString());
      }
    }
    Close(it, why, /*forget=*/false);
  }

  // Makes the transitions due at `now` on lazy paths (Admit, List,
  // TripByAlarm): half-open after the cool-down, renew lost probes, close
  // when quiet.
  void Settle(Entries::iterator it, Clock::time_point now) {
    Entry& e = it->second;
    HalfOpenIfDue(e, now);
    RenewProbes(e, now);
    if (QuietDue(e, now)) {
      CloseAutomatic(
          it, "no sends during one cool-down after half-opening: closed; its held data leaves");
    }
  }

  // The probe of `admission` at `i` if it is of its breaker's current
  // half-open period, ending it there: --in_flight (current phase) or
  // --lost (renewed). entries.end() if stale (or ended already).
  Entries::iterator EndProbe(const Admission& admission, size_t i) {
    auto it = entries.find(admission.probing[i]);
    if (it == entries.end() || it->second.b.state() != v1::BREAKER_HALF_OPEN) return entries.end();
    if (i >= admission.phases.size()) return entries.end();
    Entry& e = it->second;
    const uint64_t phase = admission.phases[i];
    if (phase == e.phase && e.in_flight > 0) {
      --e.in_flight;
      return it;
    }
    if (phase >= e.period_start && phase < e.phase && e.lost > 0) {
      --e.lost;
      return it;
    }
    return entries.end();
  }

  // Closes `it`; `why` becomes the reason of the closed breaker reported.
  // `forget`: drop the entry (closed by hand: `trips` starts over).
  v1::Breaker Close(Entries::iterator it, const std::string& why, bool forget) {
    v1::Breaker b = it->second.b;
    b.set_state(v1::BREAKER_CLOSED);
    b.set_probes_left(0);
    b.set_reason(why);
    active.fetch_sub(1, std::memory_order_acq_rel);
    if (forget) {
      b.set_trips(0);
      entries.erase(it);
    } else {
      it->second.b = b;
    }
    Emit(Change::kClosed, b);
    return b;
  }

  absl::Status Refusal(const Entry& e, const std::string& enterprise, const std::string& from,
                       const std::string& to) {
    const v1::Breaker& b = e.b;
    std::string what_to_do;
    if (b.from_hub()) {
      what_to_do = absl::StrCat(
          "it holds until the hub resets it: ask the hub's operator (beibu breaker reset "
          "--server <hub> --scope ",
          b.scope(), ")");
    } else if (!Automatic(b)) {
      what_to_do = absl::StrCat(
          "it holds until an operator resets it: ask the operator of this edge (beibu breaker "
          "reset --scope ",
          b.scope(), ")");
    } else if (b.state() == v1::BREAKER_OPEN) {
      what_to_do = absl::StrCat("it lets probe sends through from ", Iso(b.half_open_at()),
                                ": retry after that");
    } else {
      what_to_do = absl::StrCat("it is half-open since ", Iso(b.half_open_at()), " and its ",
                                budget(), " probe sends are under way: retry in a few seconds");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "sends of enterprise ", enterprise, " from ", from, " to ", to,
        " are stopped by the data circuit breaker \"", b.scope(), "\", tripped by ", b.tripped_by(),
        " at ", Iso(b.tripped_at()), " because: ", b.reason(), "; ", what_to_do));
  }

  // Hands queued changes to on_change, in order, outside `mu`, until the
  // first `target` changes were reported (DrainTarget). One thread at a
  // time; a change made from inside on_change is handed over by the loop
  // already running on this thread. A call that queued nothing (target 0),
  // or whose changes another thread reported already, returns at once: it
  // must not wait for an on_change that takes long.
  void Drain(uint64_t target) {
    if (!on_change || target == 0) return;
    static thread_local const Impl* draining = nullptr;
    if (draining == this) return;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (reported >= target) return;
    }
    std::lock_guard<std::mutex> serial(notify_mu);
    const Impl* outer = draining;
    draining = this;
    bool handed = false;
    for (;;) {
      std::pair<Change, v1::Breaker> next;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (handed) ++reported;
        if (pending.empty()) break;
        next = std::move(pending.front());
        pending.pop_front();
      }
      on_change(next.first, next.second);
      handed = true;
    }
    draining = outer;
  }
};

BreakerBoard::BreakerBoard(BreakerConfig config, Store* store, std::vector<v1::Breaker> loaded,
                           OnChange on_change, Clock::time_point loaded_at)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
  impl_->store = store;
  impl_->on_change = std::move(on_change);
  for (v1::Breaker& b : loaded) {
    absl::StatusOr<Scope> scope = Scope::Parse(b.scope());
    if (!scope.ok()) {
      spdlog::error("event=breaker_record_unreadable scope=\"{}\" error=\"{}\"", b.scope(),
                    scope.status().ToString());
      continue;
    }
    if (!Active(b)) {
      spdlog::error(
          "event=breaker_record_unreadable scope={} error=\"state {} is neither open "
          "nor half-open\"",
          b.scope(), v1::BreakerState_Name(b.state()));
      continue;
    }
    Impl::Entry e;
    b.set_scope(scope->ToString());
    if (Automatic(b) && !b.has_half_open_at()) {
      *b.mutable_half_open_at() =
          ToTimestamp(FromTimestamp(b.tripped_at()) + impl_->config.cool_down);
    }
    if (b.state() == v1::BREAKER_HALF_OPEN) {
      // Probes admitted before the restart will never finish: admit them again.
      b.set_probes_left(impl_->budget() - std::min(impl_->budget(), b.probes_passed()));
    }
    e.half_open_at = b.has_half_open_at() ? FromTimestamp(b.half_open_at()) : Clock::time_point();
    // Re-probed after the restart: quiet no earlier than now (QuietFrom).
    e.loaded_at = loaded_at;
    e.last_probe_at = Impl::QuietFrom(e);
    if (b.state() == v1::BREAKER_HALF_OPEN) impl_->NewPeriod(e);
    e.b = std::move(b);
    auto [it, inserted] = impl_->entries.emplace(e.b.scope(), std::move(e));
    if (inserted) impl_->active.fetch_add(1, std::memory_order_acq_rel);
  }
}

BreakerBoard::~BreakerBoard() = default;

absl::StatusOr<BreakerBoard::Admission> BreakerBoard::Admit(const std::string& enterprise,
                                                            const std::string& from_country,
                                                            const std::string& to_country,
                                                            Clock::time_point now) {
  Admission admission;
  if (impl_->active.load(std::memory_order_acquire) == 0) return admission;
  absl::Status refused;
  uint64_t drain = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t before = impl_->queued;
    // In the order a refusal names them: global, route, enterprise.
    Impl::Entries::iterator covering[3] = {
        impl_->entries.find("global"), impl_->entries.find(RouteKey(from_country, to_country)),
        impl_->entries.find(absl::StrCat("enterprise:", enterprise))};
    for (Impl::Entries::iterator it : covering) {
      if (it == impl_->entries.end()) continue;
      impl_->Settle(it, now);
      const v1::Breaker& b = it->second.b;
      bool refuses = b.state() == v1::BREAKER_OPEN ||
                     (b.state() == v1::BREAKER_HALF_OPEN && b.probes_left() == 0);
      if (refuses) {
        refused = impl_->Refusal(it->second, enterprise, from_country, to_country);
        break;
      }
    }
    if (refused.ok()) {
      for (Impl::Entries::iterator it : covering) {
        if (it == impl_->entries.end()) continue;
        Impl::Entry& e = it->second;
        if (e.b.state() != v1::BREAKER_HALF_OPEN) continue;
        e.b.set_probes_left(e.b.probes_left() - 1);
        ++e.in_flight;
        e.last_probe_at = now;
        admission.probing.push_back(e.b.scope());
        admission.phases.push_back(e.phase);
      }
    }
    drain = impl_->DrainTarget(before);
  }
  impl_->Drain(drain);
  if (!refused.ok()) return refused;
  return admission;
}

void BreakerBoard::Finish(const Admission& admission, Clock::time_point now) {
  if (admission.probing.empty()) return;
  uint64_t drain = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t before = impl_->queued;
    for (size_t i = 0; i < admission.probing.size(); ++i) {
      auto it = impl_->EndProbe(admission, i);
      if (it == impl_->entries.end()) continue;  // stale: another period, or closed
      Impl::Entry& e = it->second;
      // A renewed probe passes too: its slot was given back, so one fewer is left.
      e.b.set_probes_passed(e.b.probes_passed() + 1);
      impl_->Recount(e);
      // Probe counts are not saved: after a restart the probes start over.
      if (e.b.probes_passed() < impl_->budget()) continue;
      impl_->CloseAutomatic(
          it, absl::StrCat(e.b.probes_passed(), " probe sends passed without an alarm since ",
                           Iso(ToTimestamp(now))));
    }
    drain = impl_->DrainTarget(before);
  }
  impl_->Drain(drain);
}

void BreakerBoard::Abandon(const Admission& admission) {
  if (admission.probing.empty()) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (size_t i = 0; i < admission.probing.size(); ++i) {
    auto it = impl_->EndProbe(admission, i);
    if (it == impl_->entries.end()) continue;  // stale: another period, or closed
    // Its slot comes back (a renewed one's came back when it was renewed).
    impl_->Recount(it->second);
  }
  // Nothing changes state here: no change to report.
}

bool BreakerBoard::Holds(const std::string& enterprise, const std::string& from_country,
                         const std::string& to_country, Clock::time_point now) const {
  if (impl_->active.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const std::string& key : {std::string("global"), RouteKey(from_country, to_country),
                                 absl::StrCat("enterprise:", enterprise)}) {
    const Impl::Entry* e = impl_->Find(key);
    if (e != nullptr && impl_->HoldsAt(*e, now)) return true;
  }
  return false;
}

void BreakerBoard::TripByAlarm(const Alarm& alarm, Clock::time_point now) {
  // The claimed identity of a refused handshake is not proven: tripping it
  // would let anyone stop an enterprise's flows (docs/gateway.md §1).
  if (alarm.detector == "auth_failures") return;
  const std::string key = alarm.scope.ToString();
  uint64_t drain = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t before = impl_->queued;
    // Due transitions first: a breaker whose cool-down passed is half-open
    // (the alarm reopens it), one quiet since is closed (the alarm trips it
    // anew).
    if (auto it = impl_->entries.find(key); it != impl_->entries.end()) impl_->Settle(it, now);
    const Impl::Entry* e = impl_->Find(key);
    // Held by an operator or the hub, or open (its cool-down is not
    // extended): left as it is.
    bool trip =
        e == nullptr || !Active(e->b) || (Automatic(e->b) && e->b.state() != v1::BREAKER_OPEN);
    if (trip) {
      v1::Breaker b;
      b.set_scope(key);
      b.set_state(v1::BREAKER_OPEN);
      b.set_reason(alarm.explanation);
      b.set_tripped_by(absl::StrCat("detector:", alarm.detector));
      *b.mutable_tripped_at() = ToTimestamp(now);
      *b.mutable_half_open_at() = ToTimestamp(now + impl_->config.cool_down);
      b.set_trips((e != nullptr ? e->b.trips() : 0) + 1);
      impl_->Install(std::move(b), Change::kTripped);
    }
    drain = impl_->DrainTarget(before);
  }
  impl_->Drain(drain);
}

absl::StatusOr<v1::Breaker> BreakerBoard::Trip(const Scope& scope, const std::string& reason,
                                               const std::string& who, Clock::time_point now) {
  const std::string key = scope.ToString();
  if (Blank(reason)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tripping ", key, " needs a reason: it goes to the audit log and to every refused sender"));
  }
  v1::Breaker b;
  uint64_t drain = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t before = impl_->queued;
    Impl::Entry* e = impl_->Find(key);
    if (e != nullptr && Active(e->b) && e->b.from_hub()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "breaker ", key, " is already held open by the hub (", e->b.tripped_by(), " since ",
          Iso(e->b.tripped_at()), ": ", e->b.reason(), "); it closes only when reset at the hub"));
    }
    b.set_scope(key);
    b.set_state(v1::BREAKER_OPEN);
    b.set_reason(reason);
    b.set_tripped_by(who);
    *b.mutable_tripped_at() = ToTimestamp(now);
    b.set_trips((e != nullptr ? e->b.trips() : 0) + 1);
    impl_->Install(b, Change::kTripped);
    drain = impl_->DrainTarget(before);
  }
  impl_->Drain(drain);
  return b;
}

absl::StatusOr<v1::Breaker> BreakerBoard::Reset(const Scope& scope, const std::string& reason,
                                                const std::string& who, Clock::time_point now) {
  const std::string key = scope.ToString();
  if (Blank(reason)) {
    return absl::InvalidArgumentError(
        absl::StrCat("resetting ", key, " needs a reason: it goes to the audit log"));
  }
  v1::Breaker closed;
  uint64_t drain = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t before = impl_->queued;
    auto it = impl_->entries.find(key);
    if (it == impl_->entries.end() || !Active(it->second.b)) {
      return absl::NotFoundError(absl::StrCat("no breaker is open for scope ", key,
                                              "; `beibu breaker list` shows the open ones"));
    }
    const v1::Breaker& b = it->second.b;
    if (b.from_hub()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "breaker ", key, " is held by the hub (", b.tripped_by(), " since ", Iso(b.tripped_at()),
          "): this edge cannot reset it; reset it at the hub (beibu breaker "
          "reset --server <hub> --scope ",
          key, ")"));
    }
    if (impl_->store != nullptr) {
      absl::Status s = impl_->store->Erase(key);
      if (!s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("breaker ", key,
                                   " stays open: its record could not be erased: ", s.message()));
      }
    }
    closed = impl_->Close(
        it, absl::StrCat("reset by ", who, " at ", Iso(ToTimestamp(now)), ": ", reason),
        /*forget=*/true);
    drain = impl_->DrainTarget(before);
  }
  impl_->Drain(drain);
  return closed;
}

void BreakerBoard::ApplyHubSet(const std::vector<v1::Breaker>& hub_set, Clock::time_point now) {
  uint64_t drain = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t before = impl_->queued;
    std::set<std::string> held;
    for (const v1::Breaker& hb : hub_set) {
      absl::StatusOr<Scope> scope = Scope::Parse(hb.scope());
      if (!scope.ok()) {
        spdlog::error("event=breaker_record_unreadable source=hub scope=\"{}\" error=\"{}\"",
                      hb.scope(), scope.status().ToString());
        continue;
      }
      v1::Breaker b = hb;
      b.set_scope(scope->ToString());
      b.set_state(v1::BREAKER_OPEN);
      b.set_from_hub(true);
      b.clear_half_open_at();
      b.set_probes_left(0);
      b.set_probes_passed(0);
      if (b.tripped_by().empty()) b.set_tripped_by("hub");
      held.insert(b.scope());
      Impl::Entry* e = impl_->Find(b.scope());
      if (!b.has_tripped_at()) {
        // Undated by the hub: dated when it first arrived, not at every push.
        bool known = e != nullptr && Active(e->b) && e->b.from_hub();
        *b.mutable_tripped_at() = known ? e->b.tripped_at() : ToTimestamp(now);
      }
      if (e != nullptr && google::protobuf::util::MessageDifferencer::Equals(e->b, b)) continue;
      impl_->Install(std::move(b), Change::kTripped);
    }
    for (auto it = impl_->entries.begin(); it != impl_->entries.end();) {
      auto next = std::next(it);
      const v1::Breaker& b = it->second.b;
      if (Active(b) && b.from_hub() && held.count(it->first) == 0) {
        if (impl_->store != nullptr) {
          absl::Status s = impl_->store->Erase(it->first);
          if (!s.ok()) {
            // Closed anyway: the hub's next push after a restart drops it again.
            spdlog::error("event=breaker_erase_failed scope={} error=\"{}\"", it->first,
                          s.ToString());
          }
        }
        impl_->Close(it, absl::StrCat("released by the hub at ", Iso(ToTimestamp(now))),
                     /*forget=*/true);
      }
      it = next;
    }
    drain = impl_->DrainTarget(before);
  }
  impl_->Drain(drain);
}

std::vector<v1::Breaker> BreakerBoard::List(Clock::time_point now) {
  std::vector<v1::Breaker> out;
  if (impl_->active.load(std::memory_order_acquire) == 0) return out;
  uint64_t drain = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t before = impl_->queued;
    for (auto it = impl_->entries.begin(); it != impl_->entries.end(); ++it) {
      impl_->Settle(it, now);  // closing keeps the entry: `it` stays valid
      if (Active(it->second.b)) out.push_back(it->second.b);
    }
    drain = impl_->DrainTarget(before);
  }
  impl_->Drain(drain);
  return out;
}

}  // namespace beibu::gateway
