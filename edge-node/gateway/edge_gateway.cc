#include "gateway/edge_gateway.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "beibu/gateway/breaker_store.h"
#include "beibu/gateway/rate_limiter.h"

namespace beibu::edge {
namespace {

using gateway::BreakerBoard;

// Refusals are logged at most this often per enterprise: a client hammering
// an open breaker must not flood the log.
constexpr auto kRefusedLogEvery = std::chrono::seconds(1);
// Bounds the memory of that rate limit (distinct enterprises seen refused).
constexpr size_t kMaxRefusedLogEntries = 10000;

// A value for a key="..." log field: no quotes or line breaks inside.
std::string Quoted(absl::string_view s) {
  std::string out(s.data(), s.size());
  for (char& c : out) {
    if (c == '"') c = '\'';
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

// "operator:op-7" -> {role operator, id op-7}; "hub:hub" -> {hub, hub};
// "detector:scraping" -> the edge itself.
v1::Actor ActorOf(const std::string& tripped_by, const std::string& country) {
  v1::Actor who;
  const size_t colon = tripped_by.find(':');
  const std::string kind = tripped_by.substr(0, colon);
  const std::string id = colon == std::string::npos ? "" : tripped_by.substr(colon + 1);
  if (kind == "operator" || kind == "hub") {
    who.set_role(kind);
    who.set_id(id);
  } else {
    who.set_role("edge");
    who.set_id(tripped_by);
    who.set_country(country);
  }
  return who;
}

const char* ChangeName(BreakerBoard::Change change) {
  switch (change) {
    case BreakerBoard::Change::kTripped:
      return "tripped";
    case BreakerBoard::Change::kHalfOpen:
      return "half_open";
    case BreakerBoard::Change::kClosed:
      return "closed";
  }
  return "changed";
}

}  // namespace

struct EdgeGateway::Impl {
  EdgeGatewayOptions options;
  std::unique_ptr<gateway::DbBreakerStore> store;
  std::unique_ptr<gateway::RateLimiter> limiter;
  std::unique_ptr<gateway::AnomalyDetector> detector;
  std::unique_ptr<BreakerBoard> board;  // last: its on_change uses the members above

  std::mutex refused_mu;
  std::map<std::string, std::chrono::steady_clock::time_point> refused_logged;

  void Audit(v1::AuditEvent e) {
    if (options.audit == nullptr) return;
    const std::string operation = e.operation();
    if (auto i = options.audit->Append(std::move(e)); !i.ok()) {
      spdlog::error("event=audit_append_failed operation={} error=\"{}\"", operation,
                    Quoted(i.status().message()));
    }
  }

  // Routes name their countries in the event, so that a regulator's query
  // by country finds them.
  static void SetCountries(const std::string& scope_text, v1::AuditEvent* e) {
    absl::StatusOr<gateway::Scope> scope = gateway::Scope::Parse(scope_text);
    if (scope.ok() && scope->kind == gateway::Scope::Kind::kRoute) {
      e->set_source_country(scope->from_country);
      e->set_destination_country(scope->to_country);
    }
  }

  void OnChange(BreakerBoard::Change change, const v1::Breaker& b) {
    v1::AuditEvent e;
    e.set_operation(absl::StrCat("gateway.breaker_", ChangeName(change)));
    *e.mutable_who() = ActorOf(b.tripped_by(), options.country);
    SetCountries(b.scope(), &e);
    switch (change) {
      case BreakerBoard::Change::kTripped:
        spdlog::warn("event=breaker_tripped scope={} by={} from_hub={} reason=\"{}\"", b.scope(),
                     b.tripped_by(), b.from_hub(), Quoted(b.reason()));
        e.set_detail(absl::StrCat("scope ", b.scope(), " tripped by ", b.tripped_by(),
                                  b.from_hub() ? " (hub-wide)" : "", ": ", b.reason()));
        break;
      case BreakerBoard::Change::kHalfOpen:
        spdlog::info("event=breaker_half_open scope={} by={} probes={}", b.scope(), b.tripped_by(),
                     b.probes_left());
        e.set_detail(absl::StrCat("scope ", b.scope(), " half-open after its cool-down: ",
                                  b.probes_left(), " sends pass as probes"));
        break;
      case BreakerBoard::Change::kClosed:
        spdlog::info("event=breaker_closed scope={} by={} reason=\"{}\"", b.scope(), b.tripped_by(),
                     Quoted(b.reason()));
        e.set_detail(absl::StrCat("scope ", b.scope(), " closed (tripped by ", b.tripped_by(),
                                  "): ", b.reason()));
        break;
    }
    Audit(std::move(e));
    if (options.on_breaker_change) options.on_breaker_change(change, b);
  }

  void Alarmed(const gateway::Alarm& a) {
    const std::string scope = a.scope.ToString();
    spdlog::warn("event=gateway_alarm detector={} scope={} explanation=\"{}\"", a.detector, scope,
                 Quoted(a.explanation));
    v1::AuditEvent e;
    e.set_operation("gateway.alarm");
    *e.mutable_who() = ActorOf("detector:" + a.detector, options.country);
    SetCountries(scope, &e);
    e.set_detail(absl::StrCat(a.detector, " on ", scope, ": ", a.explanation));
    Audit(std::move(e));
  }

  void LogRefused(const std::string& enterprise, const std::string& to_country,
                  const absl::Status& why) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(refused_mu);
      auto it = refused_logged.find(enterprise);
      if (it != refused_logged.end() && now - it->second < kRefusedLogEvery) return;
      if (it == refused_logged.end() && refused_logged.size() >= kMaxRefusedLogEntries) {
        refused_logged.clear();  // at worst a few more log lines
      }
      refused_logged[enterprise] = now;
    }
    spdlog::warn("event=gateway_refused enterprise={} to_country={} code={} error=\"{}\"",
                 enterprise, to_country, absl::StatusCodeToString(why.code()),
                 Quoted(why.message()));
  }
};

absl::StatusOr<std::unique_ptr<EdgeGateway>> EdgeGateway::Open(EdgeGatewayOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const GatewayConfig& config = impl->options.config;
  std::error_code ec;
  std::filesystem::create_directories(impl->options.dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create the gateway's directory ",
                                                      impl->options.dir, ": ", ec.message(),
                                                      "; check data_dir's permissions"));
  }
  absl::StatusOr<std::unique_ptr<gateway::DbBreakerStore>> store =
      gateway::DbBreakerStore::Open(impl->options.dir);
  if (!store.ok()) return store.status();
  impl->store = *std::move(store);
  absl::StatusOr<std::vector<v1::Breaker>> loaded = impl->store->LoadAll();
  if (!loaded.ok()) return loaded.status();
  impl->limiter = std::make_unique<gateway::RateLimiter>(config.rates);
  impl->detector = std::make_unique<gateway::AnomalyDetector>(config.detectors);
  Impl* raw = impl.get();
  impl->board = std::make_unique<BreakerBoard>(
      config.breaker, impl->store.get(), *std::move(loaded),
      [raw](BreakerBoard::Change change, const v1::Breaker& b) { raw->OnChange(change, b); });
  if (!config.enabled) {
    spdlog::warn(
        "event=gateway_disabled detail=\"gateway.enabled is false: no rate limits, no "
        "anomaly detection, breakers (even the hub's) are kept but not enforced\"");
  }
  return std::unique_ptr<EdgeGateway>(new EdgeGateway(std::move(impl)));
}

EdgeGateway::EdgeGateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EdgeGateway::~EdgeGateway() = default;

bool EdgeGateway::enabled() const { return impl_->options.config.enabled; }

absl::StatusOr<BreakerBoard::Admission> EdgeGateway::Admit(const std::string& enterprise,
                                                           const std::string& to_country,
                                                           uint64_t bytes) {
  if (!enabled()) return BreakerBoard::Admission{};
  Impl& m = *impl_;
  absl::StatusOr<BreakerBoard::Admission> admission =
      m.board->Admit(enterprise, m.options.country, to_country);
  if (!admission.ok()) {
    m.LogRefused(enterprise, to_country, admission.status());
    return admission;
  }
  if (absl::Status s = m.limiter->Admit(enterprise, bytes); !s.ok()) {
    // A probe slot taken by this send is given back, not counted as passed:
    // a refused send was never observed, and counting it would let a sender
    // over its rate close its own breaker by being refused.
    m.board->Abandon(*admission);
    m.LogRefused(enterprise, to_country, s);
    return s;
  }
  return admission;
}

std::chrono::steady_clock::duration EdgeGateway::PaceStream(const std::string& enterprise,
                                                            uint64_t bytes) {
  if (!enabled()) return std::chrono::steady_clock::duration::zero();
  return impl_->limiter->TakeBytes(enterprise, bytes);
}

void EdgeGateway::Observe(const BreakerBoard::Admission& admission, const gateway::Observation& o) {
  if (!enabled()) return;
  Impl& m = *impl_;
  if (m.options.config.detectors.enabled) {
    for (const gateway::Alarm& alarm : m.detector->Observe(o)) {
      m.Alarmed(alarm);
      m.board->TripByAlarm(alarm);
    }
  }
  m.board->Finish(admission);
}

void EdgeGateway::ObserveAuthFailure(const std::string& who) {
  if (!enabled() || !impl_->options.config.detectors.enabled) return;
  // Alarm only: the identity is claimed, not proven, so tripping it would let
  // anyone stop an enterprise's flows.
  for (const gateway::Alarm& alarm : impl_->detector->ObserveAuthFailure(who)) {
    impl_->Alarmed(alarm);
  }
}

bool EdgeGateway::HoldsOutbound(const v1::EnvelopeHeader& header) const {
  if (!enabled()) return false;
  const std::string& from =
      header.from_country().empty() ? impl_->options.country : header.from_country();
  return impl_->board->Holds(header.from_enterprise(), from, header.to_country());
}

gateway::BreakerBoard& EdgeGateway::board() { return *impl_->board; }

std::vector<v1::Breaker> EdgeGateway::Breakers() { return impl_->board->List(); }

}  // namespace beibu::edge
