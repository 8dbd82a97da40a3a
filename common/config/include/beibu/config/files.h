// Small file utilities every daemon needs: whole-file reads with clear errors,
// and atomic, durable writes (temp file, fsync, rename, fsync directory), so
// a crash never leaves a half-written key or certificate behind.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace beibu::config {

// NOT_FOUND naming the path when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes atomically with the given permission bits (0600 for private keys).
absl::Status WriteFileAtomic(const std::string& path, const std::string& content,
                             unsigned mode = 0644);

}  // namespace beibu::config
