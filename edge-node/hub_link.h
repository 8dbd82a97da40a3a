// The edge's link to the hub: one secure-channel session carrying the
// heartbeat stream. Sends EdgeStatus every interval, installs pushed trust
// bundles, and reconnects with exponential backoff (0.2 s doubling to 10 s)
// when the hub goes away. The edge keeps serving local work meanwhile.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

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

  void Start();
  void Stop();
  bool connected() const { return connected_; }

 private:
  void Run();
  // One connected period; returns why it ended.
  absl::Status RunSession();
  bool SleepUnlessStopped(std::chrono::milliseconds d);

  EdgeConfig config_;
  EdgeIdentity* identity_;
  std::function<uint32_t()> sessions_;
  std::function<void()> on_trust_changed_;
  std::thread thread_;
  std::atomic<bool> connected_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::function<void()> cancel_current_;  // guarded by mu_
};

}  // namespace beibu::edge
