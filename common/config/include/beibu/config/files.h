// Small file utilities every daemon needs: whole-file reads with clear errors,
// and atomic, durable writes (temp file, fsync, rename, fsync directory), so
// a crash never leaves a half-written key or certificate behind.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace beibu::config {

// NOT_FOUND naming the path when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes atomically with the given permission bits (0600 for private keys):
// readers see the old file or the whole new one. The temporary file has a
// random name and is created exclusively, never through a symlink. With
// `overwrite` false an existing file is never replaced (ALREADY_EXISTS) —
// what keeps a private key from being clobbered.
absl::Status WriteFileAtomic(const std::string& path, const std::string& content,
                             unsigned mode = 0644, bool overwrite = true);

}  // namespace beibu::config
