// The edge's link to the hub: one secure-channel session carrying the
// heartbeat stream. Sends EdgeStatus every interval, installs pushed trust
// bundles and signed compliance databases, and reconnects with exponential backoff (0.2 s doubling
// to 10 s) when the hub goes away. The edge keeps serving local work meanwhile.
// With breaker handlers set, every EdgeStatus carries the edge's open and
// half-open breakers, ReportNow() sends one at once (a breaker changed), and
// the hub-wide breaker set the hub pushes is applied on arrival
// (event=hub_breakers_applied).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "beibu/v1/registry.pb.h"
#include "edge_config.h"
#include "edge_identity.h"

namespace beibu::edge {

class HubLink {
 public:
  // `on_trust_changed` runs after a pushed bundle was installed (the edge
  // then ends sessions of newly revoked certificates).
  HubLink(const EdgeConfig& config, EdgeIdentity* identity, std::function<uint32_t()> sessions,
          std::function<void()> on_trust_changed);
  ~HubLink();  // Stop()s

  // Set before Start(). `apply` runs for each signed compliance database the
  // hub pushes (PolicyStore::Apply; it logs its own refusals); `enforced`
  // gives the version and digest reported in every EdgeStatus. Without them
  // pushed policies are ignored and version 0 is reported.
  void SetPolicyHandlers(std::function<absl::Status(const v1::SignedPolicy&)> apply,
                         std::function<std::pair<uint64_t, std::string>()> enforced);

  // Set before Start(). `report` gives the breakers for every EdgeStatus
  // (EdgeGateway::Breakers); `apply` takes each hub-wide set the hub pushes
  // (BreakerBoard::ApplyHubSet). Without them breakers are neither reported
  // nor applied.
  void SetBreakerHandlers(std::function<std::vector<v1::Breaker>()> report,
                          std::function<void(const std::vector<v1::Breaker>&)> apply);
  // Sends the next EdgeStatus now instead of at the end of the interval (a
  // breaker tripped, half-opened or closed). Cheap and non-blocking; callable
  // from any thread, also before Start() (then the first heartbeat carries it).
  void ReportNow();

  void Start();
  void Stop();
  bool connected() const { return connected_; }

 private:
  void Run();
  // One connected period; returns why it ended.
  absl::Status RunSession();
  bool SleepUnlessStopped(std::chrono::milliseconds d);
  // The heartbeat interval: as SleepUnlessStopped, but ReportNow() ends it early.
  bool WaitForNextHeartbeat(std::chrono::milliseconds d);

  EdgeConfig config_;
  EdgeIdentity* identity_;
  std::function<uint32_t()> sessions_;
  std::function<void()> on_trust_changed_;
  std::function<absl::Status(const v1::SignedPolicy&)> apply_policy_;
  std::function<std::pair<uint64_t, std::string>()> enforced_policy_;
  std::function<std::vector<v1::Breaker>()> report_breakers_;
  std::function<void(const std::vector<v1::Breaker>&)> apply_hub_breakers_;
  std::thread thread_;
  std::atomic<bool> connected_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool report_now_ = false;               // guarded by mu_
  std::function<void()> cancel_current_;  // guarded by mu_
};

}  // namespace beibu::edge
