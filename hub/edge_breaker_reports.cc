#include "edge_breaker_reports.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace beibu::hub {
namespace {

// AuditEvent.detail is short by contract; an edge's text is not ours to trust.
std::string Short(const std::string& text) {
  constexpr size_t kMax = 256;
  return text.size() <= kMax ? text : text.substr(0, kMax) + "...";
}

}  // namespace

void EdgeBreakerReports::Record(const pki::Identity& edge, const v1::EdgeStatus& status) {
  if (!status.breakers_reported()) return;
  v1::EdgeBreakers report;
  report.set_node_id(edge.id);
  report.set_country(edge.country);
  *report.mutable_breakers() = status.breakers();
  *report.mutable_reported_at() = google::protobuf::util::TimeUtil::GetCurrentTime();

  std::map<std::string, v1::Breaker> now;
  for (const v1::Breaker& b : status.breakers()) now[b.scope()] = b;
  std::vector<v1::Breaker> opened;
  std::vector<v1::Breaker> closed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, v1::Breaker> before;
    if (auto it = reports_.find(edge.id); it != reports_.end()) {
      for (const v1::Breaker& b : it->second.breakers()) before[b.scope()] = b;
    }
    for (const auto& [scope, b] : now) {
      if (!before.count(scope)) opened.push_back(b);
    }
    for (const auto& [scope, b] : before) {
      if (!now.count(scope)) closed.push_back(b);
    }
    reports_[edge.id] = std::move(report);
  }
  // Logged and audited outside the lock: the audit log writes to disk. What
  // the edge sent is escaped in the log: one event per line, whatever it says.
  for (const v1::Breaker& b : opened) {
    spdlog::warn("event=edge_breaker_tripped node={} scope={} by={} reason=\"{}\" from_hub={}",
                 edge.id, absl::CEscape(b.scope()), absl::CEscape(b.tripped_by()),
                 absl::CEscape(b.reason()), b.from_hub());
    if (!b.from_hub()) {
      Audit(edge, absl::StrCat("edge ", edge.id, " tripped scope=", Short(b.scope()),
                               " by=", Short(b.tripped_by()), " reason=", Short(b.reason())));
    }
  }
  for (const v1::Breaker& b : closed) {
    spdlog::info("event=edge_breaker_closed node={} scope={} by={} from_hub={}", edge.id,
                 absl::CEscape(b.scope()), absl::CEscape(b.tripped_by()), b.from_hub());
    if (!b.from_hub()) {
      Audit(edge, absl::StrCat("edge ", edge.id, " closed scope=", Short(b.scope()),
                               " tripped_by=", Short(b.tripped_by())));
    }
  }
}

std::vector<v1::EdgeBreakers> EdgeBreakerReports::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::EdgeBreakers> out;
  out.reserve(reports_.size());
  for (const auto& [id, report] : reports_) out.push_back(report);
  return out;
}

void EdgeBreakerReports::Audit(const pki::Identity& edge, const std::string& detail) {
  if (audit_ == nullptr) return;
  v1::AuditEvent e;
  e.set_operation("hub.edge_breaker");
  *e.mutable_who() = audit::ActorOf(edge);
  e.set_status_code(0);
  e.set_detail(detail);
  if (absl::StatusOr<uint64_t> i = audit_->Append(std::move(e)); !i.ok()) {
    spdlog::error("event=audit_append_failed operation=hub.edge_breaker error=\"{}\"",
                  i.status().ToString());
  }
}

}  // namespace beibu::hub
