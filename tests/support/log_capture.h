// The process's log lines, for tests that check the events an operator must
// see. CapturedLogs() attaches one sink to spdlog's default logger the first
// time it is called: call it before any thread of the test logs (e.g. from a
// namespace-scope constant), since adding a sink is not thread-safe.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace beibu::testing {

class LogCapture final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  bool Contains(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& line : lines_) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

inline LogCapture& CapturedLogs() {
  static std::shared_ptr<LogCapture> sink = [] {
    auto s = std::make_shared<LogCapture>();
    spdlog::default_logger()->sinks().push_back(s);
    return s;
  }();
  return *sink;
}

}  // namespace beibu::testing
