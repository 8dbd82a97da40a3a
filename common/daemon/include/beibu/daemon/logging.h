// Daemon logging: one line per event, "ts level node message", where
// messages carry key=value fields an operator can grep. Keys, secrets and
// join-token secrets are never logged (tokens are logged by id only).
#pragma once

#include <spdlog/fmt/fmt.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

// Lets spdlog format absl::string_view (Status::message()); Debian's abseil
// has its own string_view type rather than std::string_view.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(absl::string_view v, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(v.data(), v.size()), ctx);
  }
};

namespace beibu::daemon {

// level: trace, debug, info, warn, error. file: empty for stderr.
absl::Status InitLogging(const std::string& node_id, const std::string& level,
                         const std::string& file = "");

}  // namespace beibu::daemon
