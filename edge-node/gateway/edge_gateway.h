// The gateway of one edge (docs/gateway.md): the checks of the accept path
// (breakers, rate limits), the anomaly detectors, the breakers' storage and
// audit, and what the relay link and the hub link need from them. One per
// edge; thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/audit/audit_log.h"
#include "beibu/gateway/breaker_board.h"
#include "beibu/v1/gateway.pb.h"
#include "beibu/v1/relay.pb.h"
#include "gateway/gateway_config.h"

namespace beibu::edge {

struct EdgeGatewayOptions {
  GatewayConfig config;
  std::string dir;                   // data_dir/gateway: the breakers (DbBreakerStore)
  std::string country;               // this edge's country: the `from` of every route it checks
  audit::AuditLog* audit = nullptr;  // may be null in tests
  // Every breaker change is audited by the gateway (gateway.breaker_tripped,
  // gateway.breaker_half_open, gateway.breaker_closed) and logged
  // (event=breaker_tripped ...). Then, after any change, on
  // the thread that made it, outside the gateway's locks: the edge wakes its
  // heartbeat (the hub hears at once) and, on a close, releases held
  // outbound data (RelayLink::RequestRelease, on the relay thread).
  std::function<void(gateway::BreakerBoard::Change, const v1::Breaker&)> on_breaker_change;
};

class EdgeGateway {
 public:
  // Opens the breaker store and resumes the saved breakers.
  static absl::StatusOr<std::unique_ptr<EdgeGateway>> Open(EdgeGatewayOptions options);
  ~EdgeGateway();

  bool enabled() const;

  // ---- Accept path (ExchangeService) -----------------------------------
  // Breakers, then the rate limit, for one request of `bytes` payload bytes
  // of `enterprise` to `to_country`. FAILED_PRECONDITION (breaker) or
  // RESOURCE_EXHAUSTED (rate limit, "retry in N ms"); both logged at most
  // once a second per enterprise (event=gateway_refused). Disabled: always
  // admits.
  absl::StatusOr<gateway::BreakerBoard::Admission> Admit(const std::string& enterprise,
                                                         const std::string& to_country,
                                                         uint64_t bytes);
  // SendStream: how long to wait before reading the next chunk
  // (RateLimiter::TakeBytes).
  std::chrono::steady_clock::duration PaceStream(const std::string& enterprise, uint64_t bytes);
  // The request was decided (`o.denied` for DENY): runs the detectors; each
  // alarm is logged (event=gateway_alarm), audited (gateway.alarm) and trips
  // its scope; then finishes the admission (its probes pass). An admitted
  // request never decided must end with board().Abandon instead.
  void Observe(const gateway::BreakerBoard::Admission& admission, const gateway::Observation& o);
  // A refused handshake on this edge's secure channel.
  void ObserveAuthFailure(const std::string& who);

  // ---- Relay link ---------------------------------------------------------
  // Whether an outbound transfer with this header must be held now.
  bool HoldsOutbound(const v1::EnvelopeHeader& header) const;
  // Whether a held transfer with this header may go again (nothing covers
  // it any more).
  bool Releases(const v1::EnvelopeHeader& header) const { return !HoldsOutbound(header); }

  // ---- Operators (Gateway service) and the hub link ----------------------
  gateway::BreakerBoard& board();
  // Open and half-open breakers (EdgeStatus.breakers, ListBreakers).
  std::vector<v1::Breaker> Breakers();

 private:
  struct Impl;
  explicit EdgeGateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::edge
