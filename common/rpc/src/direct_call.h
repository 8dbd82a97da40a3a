// A call the tunnel serves without the in-process gRPC server (see
// beibu/rpc/direct_methods.h): the handler runs on a thread of its own,
// reading what the session's reader delivers and writing to the session.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "beibu/rpc/direct_methods.h"
#include "served_call.h"
#include "session_io.h"

namespace beibu::rpc::internal {

class DirectCall final : public ServedCall, public DirectStream {
 public:
  // Most bytes the session may hold queued and unsent before a Write blocks.
  static constexpr size_t kWriteWindow = 8u << 20;

  // `on_done` runs once the final status was queued; the object deletes
  // itself right after it returns.
  DirectCall(uint64_t id, const DirectMethods::Handler* handler, SessionIo* io,
             std::optional<pki::Identity> peer, uint64_t timeout_ms,
             std::function<void(uint64_t)> on_done);

  // Runs the handler on a new thread. False when the system refuses one:
  // the caller then removes and deletes the call and refuses it.
  [[nodiscard]] bool Start();

  // ServedCall, from the session's reader.
  void Deliver(const std::string& message) override;
  void HalfClose() override;
  void Cancel() override;

  // DirectStream, from the handler's threads.
  std::optional<pki::Identity> Peer() const override { return peer_; }
  bool IsCancelled() const override;
  void TryCancel() override;
  bool ReadBytes(std::string* message) override;
  bool WriteBytes(std::string message) override;
  void RefuseMalformed(std::string_view type_name) override;

 private:
  enum class Ended { kNo, kByClient, kByHandler, kDeadline };
  void Run();
  void End(Ended why);
  bool DeadlinePassed() const;

  const uint64_t id_;
  const DirectMethods::Handler* handler_;
  SessionIo* io_;
  const std::optional<pki::Identity> peer_;
  const std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::function<void(uint64_t)> on_done_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> inbound_;
  bool half_closed_ = false;
  Ended ended_ = Ended::kNo;
  std::string malformed_;          // the type of a client message that did not parse
  std::atomic<bool> over_{false};  // ended_ != kNo, readable without the lock
};

}  // namespace beibu::rpc::internal
