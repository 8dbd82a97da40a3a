#include "hub_link.h"

#include "hub_connection.h"

#include <grpcpp/security/credentials.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <unistd.h>
#include "beibu/daemon/logging.h"

#include <fstream>

#include "beibu/daemon/identity_files.h"
#include "beibu/daemon/node_info_service.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/registry.pb.h"

namespace beibu::edge {
namespace {

v1::NodeLoad CurrentLoad(uint32_t sessions) {
  v1::NodeLoad load;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  load.set_cpu_seconds(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  if (statm >> pages >> resident) load.set_rss_bytes(resident * sysconf(_SC_PAGESIZE));
  load.set_active_sessions(sessions);
  return load;
}

}  // namespace

HubLink::HubLink(const EdgeConfig& config, EdgeIdentity* identity,
                 std::function<uint32_t()> sessions, std::function<void()> on_trust_changed)
    : config_(config),
      identity_(identity),
      sessions_(std::move(sessions)),
      on_trust_changed_(std::move(on_trust_changed)) {}

HubLink::~HubLink() { Stop(); }

void HubLink::SetPolicyHandlers(std::function<absl::Status(const v1::SignedPolicy&)> apply,
                                std::function<std::pair<uint64_t, std::string>()> enforced) {
  apply_policy_ = std::move(apply);
  enforced_policy_ = std::move(enforced);
}

void HubLink::SetBreakerHandlers(std::function<std::vector<v1::Breaker>()> report,
                                 std::function<void(const std::vector<v1::Breaker>&)> apply) {
  report_breakers_ = std::move(report);
  apply_hub_breakers_ = std::move(apply);
}

void HubLink::ReportNow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    report_now_ = true;
  }
  cv_.notify_all();
}

void HubLink::Start() {
  thread_ = std::thread([this] { Run(); });
}

void HubLink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
    if (cancel_current_) cancel_current_();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool HubLink::SleepUnlessStopped(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stop_; });
}

bool HubLink::WaitForNextHeartbeat(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_ || report_now_; });
  report_now_ = false;
  return !stop_;
}

void HubLink::Run() {
  std::chrono::milliseconds backoff(200);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    auto started = std::chrono::steady_clock::now();
    absl::Status why = RunSession();
    connected_ = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) {
      backoff = std::chrono::milliseconds(200);  // it was up for a while: retry soon
    }
    if (absl::IsPermissionDenied(why)) {
      spdlog::error(
          "event=hub_refused error=\"{}\" action=\"if this edge was revoked: stop it, "
          "move data_dir/identity away, put a new join_token in the config, start it\"",
          why.message());
    } else {
      spdlog::warn("event=hub_link_down error=\"{}\" retry_in_ms={}", why.message(),
                   backoff.count());
    }
    if (!SleepUnlessStopped(backoff)) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

absl::Status HubLink::RunSession() {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = ConnectToHub(config_, *identity_);
  if (!client.ok()) return client.status();
  std::unique_ptr<rpc::TunnelCall> call = (*client)->StartCall("/beibu.v1.Registry/Heartbeat");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return absl::CancelledError("stopping");
    rpc::TunnelCall* raw = call.get();
    cancel_current_ = [raw] { raw->Cancel(); };
  }
  connected_ = true;
  spdlog::info("event=hub_connected hub={} suite={}", (*client)->server().id,
               channel::SuiteName((*client)->suite()));

  std::thread reader([&] {
    v1::HubPush push;
    while (call->Read(&push)) {
      // The bundle first: a policy in the same push may be signed under it.
      if (!push.trust_bundle_pem().empty()) {
        if (absl::Status s = identity_->ReplaceTrust(push.trust_bundle_pem()); !s.ok()) {
          spdlog::error("event=bundle_rejected error=\"{}\"", s.message());
        } else {
          spdlog::info("event=bundle_installed digest={} crl_number={}",
                       identity_->trust_digest().substr(0, 16), identity_->crl_number());
          on_trust_changed_();
        }
      }
      if (push.has_policy() && apply_policy_) {
        // Apply logs and audits its own refusals; the next heartbeat reports
        // the version in force either way.
        (void)apply_policy_(push.policy());
      }
      if (push.breakers_set() && apply_hub_breakers_) {
        // The whole hub-wide set: breakers it no longer names close (and
        // their held outbound data leaves, through the gateway's on_change).
        std::vector<v1::Breaker> set(push.breakers().begin(), push.breakers().end());
        apply_hub_breakers_(set);
        spdlog::info("event=hub_breakers_applied count={}", set.size());
      }
    }
  });
  absl::Status end;
  while (true) {
    v1::EdgeStatus status;
    status.set_software_version(daemon::kSoftwareVersion);
    status.set_trust_bundle_digest(identity_->trust_digest());
    status.set_crl_number(identity_->crl_number());
    status.set_listen_address(config_.listen);
    status.set_state("serving");
    *status.mutable_load() = CurrentLoad(sessions_());
    if (enforced_policy_) {
      auto [version, digest] = enforced_policy_();
      status.set_policy_version(version);
      status.set_policy_digest(digest);
    }
    if (report_breakers_) {
      for (v1::Breaker& b : report_breakers_()) *status.add_breakers() = std::move(b);
      status.set_breakers_reported(true);
    }
    if (absl::Status s = call->Write(status); !s.ok()) {
      end = s;
      break;
    }
    if (!WaitForNextHeartbeat(std::chrono::milliseconds(config_.heartbeat_interval_ms))) {
      call->Cancel();
      end = absl::CancelledError("stopping");
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_current_ = nullptr;
  }
  call->Cancel();
  reader.join();
  absl::Status session = (*client)->status();
  return session.ok() ? end : session;
}

}  // namespace beibu::edge
