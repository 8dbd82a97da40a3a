#include "hub_breakers.h"

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace beibu::hub {

absl::StatusOr<std::unique_ptr<HubBreakers>> HubBreakers::Open(Options options) {
  absl::StatusOr<std::unique_ptr<gateway::DbBreakerStore>> store =
      gateway::DbBreakerStore::Open(options.dir);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("cannot open the hub's breaker store ", options.dir, ": ",
                                     store.status().message()));
  }
  absl::StatusOr<std::vector<v1::Breaker>> loaded = (*store)->LoadAll();
  if (!loaded.ok()) return loaded.status();
  if (!loaded->empty()) {
    spdlog::info("event=hub_breakers_loaded count={}", loaded->size());
  }
  return std::unique_ptr<HubBreakers>(
      new HubBreakers(std::move(options), *std::move(store), *std::move(loaded)));
}

HubBreakers::HubBreakers(Options options, std::unique_ptr<gateway::DbBreakerStore> store,
                         std::vector<v1::Breaker> loaded)
    : options_(std::move(options)), store_(std::move(store)) {
  // The cool-down never applies: every hub breaker is an operator's trip,
  // held until reset.
  board_ = std::make_unique<gateway::BreakerBoard>(gateway::BreakerConfig{}, store_.get(),
                                                   std::move(loaded));
}

HubBreakers::~HubBreakers() = default;

absl::StatusOr<v1::Breaker> HubBreakers::Trip(const std::string& scope_text,
                                              const std::string& reason, const pki::Identity& by) {
  absl::StatusOr<gateway::Scope> scope = gateway::Scope::Parse(scope_text);
  if (!scope.ok()) return scope.status();
  if (absl::StripAsciiWhitespace(reason).empty()) {
    return absl::InvalidArgumentError(
        "a reason is required: it goes to the audit log and to every refused sender "
        "(--reason \"incident 4711\")");
  }
  absl::StatusOr<v1::Breaker> b = board_->Trip(*scope, reason, "operator:" + by.id);
  if (!b.ok()) return b.status();
  Changed();
  const std::string text = scope->ToString();
  spdlog::warn("event=hub_breaker_tripped scope={} by={} reason=\"{}\"", text, by.id,
               absl::CEscape(reason));
  Audit("hub.breaker_tripped", by, absl::StrCat("scope=", text, " reason=", reason));
  return AsPushed(*std::move(b));
}

absl::StatusOr<v1::Breaker> HubBreakers::Reset(const std::string& scope_text,
                                               const std::string& reason, const pki::Identity& by) {
  absl::StatusOr<gateway::Scope> scope = gateway::Scope::Parse(scope_text);
  if (!scope.ok()) return scope.status();
  absl::StatusOr<v1::Breaker> b = board_->Reset(*scope, reason, "operator:" + by.id);
  if (!b.ok()) {
    if (absl::IsNotFound(b.status())) {
      return absl::NotFoundError(absl::StrCat("the hub holds no breaker on ", scope->ToString(),
                                              ": `beibu breaker list` shows the open ones"));
    }
    return b.status();
  }
  Changed();
  const std::string text = scope->ToString();
  spdlog::warn("event=hub_breaker_reset scope={} by={} reason=\"{}\"", text, by.id,
               absl::CEscape(reason));
  Audit("hub.breaker_reset", by, absl::StrCat("scope=", text, " reason=", reason));
  return AsPushed(*std::move(b));
}

HubBreakers::Snapshot HubBreakers::Current() const {
  Snapshot s;
  s.version = version();  // first: the list read after it is at least as new
  for (v1::Breaker& b : board_->List()) s.breakers.push_back(AsPushed(std::move(b)));
  return s;
}

uint64_t HubBreakers::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

uint64_t HubBreakers::WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return version_ != seen; });
  return version_;
}

v1::Breaker HubBreakers::AsPushed(v1::Breaker b) const {
  b.set_tripped_by("hub:" + options_.hub_id);
  b.set_from_hub(true);
  return b;
}

void HubBreakers::Changed() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
  }
  changed_.notify_all();
}

void HubBreakers::Audit(const std::string& operation, const pki::Identity& who,
                        const std::string& detail) {
  if (options_.audit == nullptr) return;
  v1::AuditEvent e;
  e.set_operation(operation);
  *e.mutable_who() = audit::ActorOf(who);
  e.set_status_code(0);
  e.set_detail(detail);
  if (absl::StatusOr<uint64_t> i = options_.audit->Append(std::move(e)); !i.ok()) {
    spdlog::error("event=audit_append_failed operation={} error=\"{}\"", operation,
                  i.status().ToString());
  }
}

}  // namespace beibu::hub
