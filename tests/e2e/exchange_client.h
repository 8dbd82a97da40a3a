// Test-side data-plane client on the raw tunnel (not the SDK), so that the
// crash tests control exactly what was acknowledged and what is retried.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/exchange.pb.h"

namespace beibu::testing {

// Connects with an identity directory (key.pem, cert.pem, trust-bundle.pem);
// `address` is re-read on every call (an edge restarted on a new port writes
// a new port file).
absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> ConnectAs(const std::filesystem::path& identity,
                                                            const std::string& address);

v1::TransferHeader Header(const std::string& id, const std::string& to_country,
                          const std::string& to_enterprise, const std::string& category);

// Sends `count` small messages over SendMany, pipelined, retrying across
// disconnects with the same transfer ids until every one is answered.
// Answered ids are appended to `acknowledged` in answer order.
struct StreamSender {
  std::function<std::string()> address;  // current address of the source edge
  std::filesystem::path identity;
  std::string to_country, to_enterprise, id_prefix;
  size_t count = 0;
  size_t window = 256;
  std::vector<std::string> acknowledged;
  int reconnects = 0;
  // Runs to completion (or until `deadline` passes: then an error).
  absl::Status Run(std::chrono::seconds deadline);
};

// Reads an inbox in a thread, acknowledging every delivery; records each
// delivery (transfer id) in arrival order, across reconnects.
class InboxDrain {
 public:
  InboxDrain(std::function<std::string()> address, std::filesystem::path identity);
  ~InboxDrain();  // Stop()s
  void Start();
  void Stop();
  // Deliveries seen, in order (a redelivery of an unacknowledged one appears twice).
  std::vector<std::string> received() const;
  // Ids whose Ack succeeded and that were delivered again afterwards (must stay empty).
  std::vector<std::string> redelivered_after_ack() const;
  size_t acknowledged_count() const;
  // Payload of a received transfer (complete deliveries only), "" if unknown.
  std::string payload(const std::string& id) const;
  bool WaitFor(size_t acknowledged, std::chrono::seconds timeout) const;
  // Until `n` distinct transfers were received.
  bool WaitForDistinct(size_t n, std::chrono::seconds timeout) const;

 private:
  void Run();
  std::function<std::string()> address_;
  std::filesystem::path identity_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::unique_ptr<rpc::TunnelClient> client_;  // guarded by mu_ (for Stop)
  std::vector<std::string> received_;
  std::set<std::string> acked_;
  std::vector<std::string> redelivered_;
  std::map<std::string, std::string> payloads_;
};

}  // namespace beibu::testing
