// The syntax of a transfer id (exchange.proto): 16-64 chars [A-Za-z0-9._-].
// Shared by the Exchange service (client-chosen ids) and the store (ids that
// arrive from other edges become key components, so a '/' must never get in).
#pragma once

#include <string_view>

namespace beibu::edge {

inline constexpr size_t kMinTransferIdSize = 16;
inline constexpr size_t kMaxTransferIdSize = 64;

inline bool IsValidTransferId(std::string_view id) {
  if (id.size() < kMinTransferIdSize || id.size() > kMaxTransferIdSize) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace beibu::edge
