// The breaker state machine (breaker_board.h).
//
// One mutex guards the breakers; an atomic count of open and half-open ones
// lets Admit, Finish and Holds return without locking while none is (the
// common case: one atomic load per request). Changes are queued under the
// lock and handed to on_change by one thread at a time, in queue order,
// outside the lock (Drain).
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
    v1::Breaker b;                    // as saved; BREAKER_CLOSED: closed, kept for `trips`
    Clock::time_point half_open_at;   // automatic trips
    Clock::time_point last_probe_at;  // half-open: when the last probe was admitted
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
  std::mutex notify_mu;                                // one Drain at a time

  uint32_t budget() const { return std::max<uint32_t>(1, config.probe_budget); }

  Entry* Find(const std::string& key) {
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
  }

  void Emit(Change change, const v1::Breaker& b) {
    if (on_change) pending.emplace_back(change, b);
  }

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
    Emit(change, e.b);
  }

  // An open automatic breaker whose cool-down passed turns half-open.
  void HalfOpenIfDue(Entry& e, Clock::time_point now) {
    if (e.b.state() != v1::BREAKER_OPEN || !Automatic(e.b) || now < e.half_open_at) return;
    v1::Breaker b = e.b;
    b.set_state(v1::BREAKER_HALF_OPEN);
    b.set_probes_left(budget());
    b.set_probes_passed(0);
    Save(b);
    e.b = std::move(b);
    e.last_probe_at = now;
    Emit(Change::kHalfOpen, e.b);
  }

  // A half-open breaker whose probes were all admitted but not all finished
  // for a whole cool-down (a probe's request failed before Finish, or the
  // edge restarted) admits the missing ones again, so it cannot stay
  // half-open for ever.
  void RenewProbes(Entry& e, Clock::time_point now) {
    if (e.b.state() != v1::BREAKER_HALF_OPEN || e.b.probes_left() > 0) return;
    if (now - e.last_probe_at < config.cool_down) return;
    e.b.set_probes_left(budget() - std::min(budget(), e.b.probes_passed()));
    e.last_probe_at = now;
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
    return absl::UnavailableError(absl::StrCat(
        "sends of enterprise ", enterprise, " from ", from, " to ", to,
        " are stopped by the data circuit breaker \"", b.scope(), "\", tripped by ", b.tripped_by(),
        " at ", Iso(b.tripped_at()), " because: ", b.reason(), "; ", what_to_do));
  }

  // Hands queued changes to on_change, in order, outside `mu`. One thread
  // at a time; a change made from inside on_change is handed over by the
  // loop already running on this thread.
  void Drain() {
    if (!on_change) return;
    static thread_local const Impl* draining = nullptr;
    if (draining == this) return;
    std::lock_guard<std::mutex> serial(notify_mu);
    const Impl* outer = draining;
    draining = this;
    for (;;) {
      std::pair<Change, v1::Breaker> next;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (pending.empty()) break;
        next = std::move(pending.front());
        pending.pop_front();
      }
      on_change(next.first, next.second);
    }
    draining = outer;
  }
};

BreakerBoard::BreakerBoard(BreakerConfig config, Store* store, std::vector<v1::Breaker> loaded,
                           OnChange on_change)
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
    e.last_probe_at = e.half_open_at;
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
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    // In the order a refusal names them: global, route, enterprise.
    Impl::Entry* covering[3] = {impl_->Find("global"),
                                impl_->Find(RouteKey(from_country, to_country)),
                                impl_->Find(absl::StrCat("enterprise:", enterprise))};
    for (Impl::Entry* e : covering) {
      if (e == nullptr) continue;
      impl_->HalfOpenIfDue(*e, now);
      impl_->RenewProbes(*e, now);
      bool refuses = e->b.state() == v1::BREAKER_OPEN ||
                     (e->b.state() == v1::BREAKER_HALF_OPEN && e->b.probes_left() == 0);
      if (refuses) {
        refused = impl_->Refusal(*e, enterprise, from_country, to_country);
        break;
      }
    }
    if (refused.ok()) {
      for (Impl::Entry* e : covering) {
        if (e == nullptr || e->b.state() != v1::BREAKER_HALF_OPEN) continue;
        e->b.set_probes_left(e->b.probes_left() - 1);
        e->last_probe_at = now;
        admission.probing.push_back(e->b.scope());
      }
    }
  }
  impl_->Drain();
  if (!refused.ok()) return refused;
  return admission;
}

void BreakerBoard::Finish(const Admission& admission, Clock::time_point now) {
  if (admission.probing.empty()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const std::string& scope : admission.probing) {
      auto it = impl_->entries.find(scope);
      if (it == impl_->entries.end() || it->second.b.state() != v1::BREAKER_HALF_OPEN) continue;
      v1::Breaker& b = it->second.b;
      b.set_probes_passed(b.probes_passed() + 1);
      // Probe counts are not saved: after a restart the probes start over.
      if (b.probes_passed() < impl_->budget()) continue;
      if (impl_->store != nullptr) {
        // The breaker closes anyway: a record left behind only makes the
        // scope half-open for a few probes after a restart.
        absl::Status s = impl_->store->Erase(scope);
        if (!s.ok()) {
          spdlog::error("event=breaker_erase_failed scope={} error=\"{}\"", scope, s.ToString());
        }
      }
      impl_->Close(it,
                   absl::StrCat(b.probes_passed(), " probe sends passed without an alarm since ",
                                Iso(ToTimestamp(now))),
                   /*forget=*/false);
    }
  }
  impl_->Drain();
}

bool BreakerBoard::Holds(const std::string& enterprise, const std::string& from_country,
                         const std::string& to_country, Clock::time_point /*now*/) const {
  if (impl_->active.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const std::string& key : {std::string("global"), RouteKey(from_country, to_country),
                                 absl::StrCat("enterprise:", enterprise)}) {
    const Impl::Entry* e = impl_->Find(key);
    if (e != nullptr && Active(e->b)) return true;
  }
  return false;
}

void BreakerBoard::TripByAlarm(const Alarm& alarm, Clock::time_point now) {
  // The claimed identity of a refused handshake is not proven: tripping it
  // would let anyone stop an enterprise's flows (docs/gateway.md §1).
  if (alarm.detector == "auth_failures") return;
  const std::string key = alarm.scope.ToString();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    Impl::Entry* e = impl_->Find(key);
    uint32_t trips = 0;
    if (e != nullptr) {
      if (Active(e->b) && !Automatic(e->b)) return;  // held by an operator or the hub
      if (e->b.state() == v1::BREAKER_OPEN) return;  // its cool-down is not extended
      trips = e->b.trips();
    }
    v1::Breaker b;
    b.set_scope(key);
    b.set_state(v1::BREAKER_OPEN);
    b.set_reason(alarm.explanation);
    b.set_tripped_by(absl::StrCat("detector:", alarm.detector));
    *b.mutable_tripped_at() = ToTimestamp(now);
    *b.mutable_half_open_at() = ToTimestamp(now + impl_->config.cool_down);
    b.set_trips(trips + 1);
    impl_->Install(std::move(b), Change::kTripped);
  }
  impl_->Drain();
}

absl::StatusOr<v1::Breaker> BreakerBoard::Trip(const Scope& scope, const std::string& reason,
                                               const std::string& who, Clock::time_point now) {
  const std::string key = scope.ToString();
  if (Blank(reason)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tripping ", key, " needs a reason: it goes to the audit log and to every refused sender"));
  }
  v1::Breaker b;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
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
  }
  impl_->Drain();
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
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
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
  }
  impl_->Drain();
  return closed;
}

void BreakerBoard::ApplyHubSet(const std::vector<v1::Breaker>& hub_set, Clock::time_point now) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
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
  }
  impl_->Drain();
}

std::vector<v1::Breaker> BreakerBoard::List(Clock::time_point now) {
  std::vector<v1::Breaker> out;
  if (impl_->active.load(std::memory_order_acquire) == 0) return out;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& [key, e] : impl_->entries) {
      impl_->HalfOpenIfDue(e, now);
      if (Active(e.b)) out.push_back(e.b);
    }
  }
  impl_->Drain();
  return out;
}

}  // namespace beibu::gateway
