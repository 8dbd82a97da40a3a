// The data circuit breakers of one edge (docs/gateway.md): closed -> open ->
// half-open -> closed, per scope (gateway/scope.h). Thread-safe.
//
//  * An alarm (TripByAlarm) opens its scope's breaker; after `cool_down` it
//    turns half-open and admits up to `probe_budget` sends as probes; when
//    that many probes were decided (Finish) without an alarm on the scope it
//    closes. A probe never decided (Abandon: refused by the rate limit,
//    failed or cancelled before its decision) gives its slot back and counts
//    for nothing. An alarm while half-open opens it again (the cool-down
//    starts over). A half-open breaker that admitted no probe, and had none
//    under way, for one further cool_down closes by itself ("no sends during
//    one cool-down after half-opening"): otherwise a scope whose only
//    traffic is held outbound data would hold it for ever.
//  * An operator's trip (Trip) holds until an operator resets it.
//  * The hub's breakers (ApplyHubSet) hold until the hub drops them; a local
//    Reset of one is FAILED_PRECONDITION.
// Every change is saved through the Store before it takes effect for
// callers, and reported to `on_change` (audit, hub report, releasing held
// outbound data) outside the board's lock, in the order the changes happened:
// one thread at a time calls it, and a change has been reported before the
// call that made it returns (perhaps by another thread that was reporting at
// the time). A call that changed nothing never waits for on_change (the
// edge's release of held data may take a while). on_change may call the
// board; a change it makes is reported after it returns. It must not wait
// for a thread that is inside the board.
// A failed Save is logged (event=breaker_save_failed) and the change takes
// effect anyway: a trip must stop the flows now, even if it will not survive
// a restart. Probe counts are not saved: after a restart a half-open
// breaker's probes start over, and it waits a whole cool_down from the
// restart for them before it closes quietly (the edge was down: nobody
// could probe).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/gateway/anomaly_detector.h"
#include "beibu/gateway/scope.h"
#include "beibu/v1/gateway.pb.h"

namespace beibu::gateway {

struct BreakerConfig {
  std::chrono::milliseconds cool_down{30000};
  uint32_t probe_budget = 5;
};

class BreakerBoard {
 public:
  using Clock = std::chrono::system_clock;  // wall clock: times survive restarts

  // Where breakers live across restarts (the edge: a RocksDB, synced).
  class Store {
   public:
    virtual ~Store() = default;
    virtual absl::Status Save(const v1::Breaker& breaker) = 0;  // keyed by scope
    virtual absl::Status Erase(const std::string& scope) = 0;
  };

  enum class Change { kTripped, kHalfOpen, kClosed };
  // `breaker` as it is after the change (state BREAKER_CLOSED for kClosed).
  using OnChange = std::function<void(Change change, const v1::Breaker& breaker)>;

  // `loaded`: what the Store held; the board resumes them as they were (an
  // open one whose half_open_at passed while the edge was down half-opens on
  // its next use). A record whose scope does not parse is skipped with an
  // error in the log (event=breaker_record_unreadable). `store` and
  // `on_change` may be null (tests). `loaded_at`: now (tests inject it); a
  // loaded breaker that is or turns half-open is quiet from no earlier.
  BreakerBoard(BreakerConfig config, Store* store, std::vector<v1::Breaker> loaded,
               OnChange on_change = nullptr, Clock::time_point loaded_at = Clock::now());
  ~BreakerBoard();

  // What a send was admitted under. Every admission ends in exactly one
  // call: Finish once the request was decided and its alarms (if any) were
  // handled, or Abandon if it never was.
  struct Admission {
    std::vector<std::string> probing;  // half-open scopes this send is a probe of
    // The half-open phase of each of `probing` (same order) it was admitted
    // in: a probe of an earlier half-open period (before a re-trip or a
    // close) counts for nothing; one whose phase was renewed (taken as lost)
    // still passes if it is decided.
    std::vector<uint64_t> phases;
  };

  // Admits a send of `enterprise` from `from_country` to `to_country`, or
  // returns FAILED_PRECONDITION (not UNAVAILABLE: clients retry that at
  // once, and the SDK does, which would hide the refusal and hammer the
  // edge) whose message names the open scope, why it tripped,
  // since when, and what to do ("retry after <time>" for an automatic trip,
  // "ask the operator of this edge / the hub to reset it" otherwise). A
  // half-open breaker with no probe left refuses the same way until its
  // probes finished.
  absl::StatusOr<Admission> Admit(const std::string& enterprise, const std::string& from_country,
                                  const std::string& to_country,
                                  Clock::time_point now = Clock::now());
  // The send was decided (the detectors saw it): each of its probes whose
  // breaker is still in the half-open period it was admitted in counts as
  // passed (closing the breaker once probe_budget passed). Only this closes a
  // breaker by its probes.
  void Finish(const Admission& admission, Clock::time_point now = Clock::now());
  // The send was admitted but never decided (refused by the rate limit,
  // failed before its decision, cancelled): each of its probes still in its
  // phase gives its slot back without counting as passed. When every slot is
  // taken and a whole cool_down passed without a probe admitted, the probes
  // under way are taken as lost (a bug, or a send still running) and their
  // slots given back, so a breaker cannot stay half-open for ever; one of
  // them decided later still passes (Finish), abandoned it changes nothing.
  void Abandon(const Admission& admission);

  // Whether queued outbound data of this send is held (an open or half-open
  // breaker covers it). Cheap: the relay link asks it per outbox item. A
  // breaker due to close by itself (quiet for a cool-down after
  // half-opening) no longer holds, even before the next List, Admit or
  // TripByAlarm makes that transition and reports it.
  bool Holds(const std::string& enterprise, const std::string& from_country,
             const std::string& to_country, Clock::time_point now = Clock::now()) const;

  // An anomaly alarm: opens (or re-opens) its scope, tripped_by
  // "detector:<name>", reason the explanation. A scope already open stays
  // open (its cool-down is not extended); one held by an operator or the hub
  // is left as it is. An "auth_failures" alarm trips nothing: its identity is
  // claimed, not proven (docs/gateway.md §1).
  void TripByAlarm(const Alarm& alarm, Clock::time_point now = Clock::now());

  // An operator's trip and reset (`who`: "operator:<certificate id>").
  // INVALID_ARGUMENT for an empty reason; Trip: FAILED_PRECONDITION when the
  // hub holds the scope already; Reset: NOT_FOUND when the scope is closed,
  // FAILED_PRECONDITION when the hub holds it, the Store's error (and the
  // breaker stays open) when its record cannot be erased. A closed breaker
  // (Reset's answer, on_change kClosed) keeps its trip's fields except
  // `reason`, which says why it closed ("reset by operator:x at ...: ...",
  // "5 probe sends passed ...", "released by the hub at ...").
  absl::StatusOr<v1::Breaker> Trip(const Scope& scope, const std::string& reason,
                                   const std::string& who, Clock::time_point now = Clock::now());
  absl::StatusOr<v1::Breaker> Reset(const Scope& scope, const std::string& reason,
                                    const std::string& who, Clock::time_point now = Clock::now());

  // Replaces the hub-imposed breakers with `hub_set` (each from_hub, held):
  // scopes absent from it that the hub held close; a scope the edge had open
  // itself becomes hub-held while the hub holds it and closes with it.
  // Each change is saved and reported to on_change.
  void ApplyHubSet(const std::vector<v1::Breaker>& hub_set, Clock::time_point now = Clock::now());

  // Open and half-open breakers, by scope text. Half-opens those whose
  // cool-down passed and closes the quiet half-open ones (the hub link calls
  // this every heartbeat, which is what releases held data of a quiet scope).
  std::vector<v1::Breaker> List(Clock::time_point now = Clock::now());

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::gateway
