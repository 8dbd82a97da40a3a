#include "risk_advisor.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "beibu/config/files.h"
#include "beibu/policy/types.h"

namespace beibu::edge {
namespace {

// What makes two routes the same route for warning purposes: everything the
// decision reads except the running persons count, bucketed so that a
// threshold crossing still shows (persons are rounded to their order of
// magnitude).
std::string RouteKey(const std::string& exporter, const policy::RouteRequest& r) {
  std::vector<std::string> types = r.finding_types;
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  std::vector<std::string> attested = r.attested;
  std::sort(attested.begin(), attested.end());
  int64_t magnitude = 1;
  while (magnitude <= r.persons / 10) magnitude *= 10;
  return absl::StrCat(exporter, "|", r.from, ">", r.to, "|", r.category, "|",
                      r.declared_level ? std::string(policy::LevelName(*r.declared_level)) : std::string(), "|",
                      r.declared_pi, r.declared_spi, "|", absl::StrJoin(types, ","), "|",
                      r.persons == 0 ? 0 : magnitude, "|", r.purpose, "|",
                      absl::StrJoin(attested, ","), "|", r.ftz);
}

std::string DecisionOf(const policy::RouteDecision& d) {
  std::string s(policy::DecisionName(d.decision));
  if (d.mask_profile) absl::StrAppend(&s, " (", *d.mask_profile, ")");
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RiskAdvisor>> RiskAdvisor::Open(Options options) {
  std::unique_ptr<RiskAdvisor> a(new RiskAdvisor(std::move(options)));
  std::ifstream in(a->options_.state_path, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    v1::RiskWarningList list;
    if (!list.ParseFromString(ss.str())) {
      return absl::DataLossError(absl::StrCat(a->options_.state_path,
                                              " does not parse as a warning list; move it away "
                                              "(the warnings it held are also in the audit log)"));
    }
    for (v1::RiskWarning& w : *list.mutable_warnings()) a->warnings_.push_back(std::move(w));
  }
  return a;
}

void RiskAdvisor::Record(const std::string& exporter, const policy::RouteRequest& request) {
  std::string key = RouteKey(exporter, request);
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = routes_.insert_or_assign(key, policy::RecentRoute{exporter, request});
  if (!inserted) return;  // refreshed in place; keeps its place in the order
  order_.push_back(std::move(key));
  while (order_.size() > options_.capacity) {
    routes_.erase(order_.front());
    order_.pop_front();
  }
}

std::vector<v1::RiskWarning> RiskAdvisor::OnPolicyApplied(const policy::Database& old_db,
                                                          const policy::Database& new_db) {
  std::vector<policy::RecentRoute> routes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    routes.reserve(routes_.size());
    for (const auto& [key, r] : routes_) routes.push_back(r);
  }
  std::vector<policy::RiskWarning> found = policy::RiskWarnings(old_db, new_db, routes);
  std::vector<v1::RiskWarning> issued;
  std::vector<v1::AuditEvent> events;
  const google::protobuf::Timestamp now = google::protobuf::util::TimeUtil::GetCurrentTime();
  for (const policy::RiskWarning& w : found) {
    v1::RiskWarning out;
    out.set_exporter(w.exporter);
    out.set_from_country(w.request.from);
    out.set_to_country(w.request.to);
    out.set_category(w.request.category);
    out.set_before(DecisionOf(w.before));
    out.set_after(DecisionOf(w.after));
    for (const std::string& r : w.rules_added) out.add_rules_added(r);
    for (const std::string& r : w.rules_removed) out.add_rules_removed(r);
    out.set_reason(w.reason);
    out.set_old_version(static_cast<uint64_t>(old_db.version));
    out.set_new_version(static_cast<uint64_t>(new_db.version));
    *out.mutable_issued_at() = now;
    spdlog::warn(
        "event=risk_warning exporter={} route={}>{} category={} before=\"{}\" after=\"{}\"",
        w.exporter, w.request.from, w.request.to, w.request.category, out.before(), out.after());
    v1::AuditEvent e;
    e.set_operation("policy.risk_warning");
    e.mutable_who()->set_id(w.exporter);
    e.mutable_who()->set_role("enterprise");
    e.set_source_country(w.request.from);
    e.set_destination_country(w.request.to);
    e.set_category(w.request.category);
    e.set_decision(std::string(policy::DecisionName(w.after.decision)));
    for (const std::string& r : w.after.rules) e.add_rule_ids(r);
    e.set_detail(absl::StrCat("policy ", old_db.version, " -> ", new_db.version, ": ",
                              w.reason.substr(0, 300)));
    events.push_back(std::move(e));
    issued.push_back(std::move(out));
  }
  if (issued.empty()) return issued;
  if (options_.audit) {
    if (auto s = options_.audit->AppendBatch(std::move(events)); !s.ok()) {
      spdlog::error("event=audit_append_failed error=\"{}\"", std::string(s.status().message()));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::RiskWarning& w : issued) warnings_.push_back(w);
  while (warnings_.size() > options_.keep) warnings_.pop_front();
  if (absl::Status s = Persist(); !s.ok()) {
    spdlog::error("event=risk_warnings_not_saved error=\"{}\"", std::string(s.message()));
  }
  return issued;
}

std::vector<v1::RiskWarning> RiskAdvisor::For(const std::string& exporter) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::RiskWarning> out;
  for (auto it = warnings_.rbegin(); it != warnings_.rend(); ++it) {
    if (it->exporter() == exporter) out.push_back(*it);
  }
  return out;
}

absl::Status RiskAdvisor::Persist() {
  v1::RiskWarningList list;
  for (const v1::RiskWarning& w : warnings_) *list.add_warnings() = w;
  return config::WriteFileAtomic(options_.state_path, list.SerializeAsString());
}

}  // namespace beibu::edge
