#include "direct_call.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"

namespace beibu::rpc::internal {
namespace {

std::optional<std::chrono::steady_clock::time_point> DeadlineAfter(uint64_t timeout_ms) {
  if (timeout_ms == 0) return std::nullopt;
  // Clamp: a peer-chosen uint64 must not overflow the clock arithmetic.
  constexpr uint64_t kMaxTimeoutMs = 7ull * 24 * 3600 * 1000;
  return std::chrono::steady_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(std::min(timeout_ms, kMaxTimeoutMs)));
}

}  // namespace

DirectCall::DirectCall(uint64_t id, const DirectMethods::Handler* handler, SessionIo* io,
                       std::optional<pki::Identity> peer, uint64_t timeout_ms,
                       std::function<void(uint64_t)> on_done)
    : id_(id),
      handler_(handler),
      io_(io),
      peer_(std::move(peer)),
      deadline_(DeadlineAfter(timeout_ms)),
      on_done_(std::move(on_done)) {}

bool DirectCall::Start() {
  // Detached: the call deletes itself when the handler is done, and the
  // session waits for that (CallTable) before it goes away.
  try {
    std::thread([this] { Run(); }).detach();
  } catch (const std::system_error& e) {
    spdlog::warn("event=direct_call_refused call_id={} error=\"cannot start a thread: {}\"", id_,
                 e.what());
    return false;
  }
  return true;
}

void DirectCall::Run() {
  grpc::Status status = (*handler_)(*this);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!malformed_.empty()) {
      status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("a message of this call is not a valid ", malformed_));
    } else if (ended_ == Ended::kDeadline || (ended_ == Ended::kNo && DeadlinePassed())) {
      status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
    } else if (ended_ == Ended::kByClient || (ended_ == Ended::kByHandler && status.ok())) {
      // A handler that cancelled its own call and says OK did not finish
      // it (a unary reply may not have gone out); an error it returns says
      // more than CANCELLED would, so that one stands.
      status = grpc::Status(grpc::StatusCode::CANCELLED, "Cancelled");
    }
  }
  SendStatus(*io_, id_, status);
  // Leave the session's table first, so nobody can find this call once it is
  // being deleted.
  on_done_(id_);
  delete this;
}

bool DirectCall::DeadlinePassed() const {
  return deadline_ && std::chrono::steady_clock::now() >= *deadline_;
}

void DirectCall::End(Ended why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_ != Ended::kNo) return;
    ended_ = why;
    inbound_.clear();
    over_.store(true);
  }
  cv_.notify_all();
}

void DirectCall::Deliver(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // After a half-close the client broke protocol; after the end nobody reads.
    if (half_closed_ || ended_ != Ended::kNo) return;
    inbound_.push_back(message);
  }
  cv_.notify_one();
}

void DirectCall::HalfClose() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    half_closed_ = true;
  }
  cv_.notify_all();
}

void DirectCall::Cancel() { End(Ended::kByClient); }

void DirectCall::TryCancel() { End(Ended::kByHandler); }

bool DirectCall::IsCancelled() const {
  if (over_.load()) return true;
  if (!DeadlinePassed()) return false;
  const_cast<DirectCall*>(this)->End(Ended::kDeadline);
  return true;
}

bool DirectCall::ReadBytes(std::string* message) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (ended_ != Ended::kNo) return false;
    if (!inbound_.empty()) {
      *message = std::move(inbound_.front());
      inbound_.pop_front();
      return true;
    }
    if (half_closed_) return false;
    if (!deadline_) {
      cv_.wait(lock);
    } else if (cv_.wait_until(lock, *deadline_) == std::cv_status::timeout && DeadlinePassed()) {
      lock.unlock();
      End(Ended::kDeadline);
      return false;
    }
  }
}

bool DirectCall::WriteBytes(std::string message) {
  if (IsCancelled()) return false;
  v1::CallFrame frame;
  frame.set_call_id(id_);
  frame.set_message(std::move(message));
  if (!io_->Send(frame).ok()) {
    End(Ended::kByClient);  // the session is gone: so is the client
    return false;
  }
  io_->WaitForRoom(kWriteWindow, [this] { return IsCancelled(); });
  return !over_.load();
}

void DirectCall::RefuseMalformed(std::string_view type_name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (malformed_.empty()) malformed_ = std::string(type_name);
  }
  End(Ended::kByHandler);
}

}  // namespace beibu::rpc::internal
