#include <cstdio>
#include <string>

#include "commands.h"

namespace beibu::cli {

int ExitCodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kUnauthenticated:
      return kExitInvalid;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

void FinishCommand(const char* command, const absl::Status& status, int* exit_code) {
  if (!status.ok()) {
    std::fprintf(stderr, "beibu %s: %s\n", command, std::string(status.message()).c_str());
  }
  *exit_code = ExitCodeFor(status);
}

}  // namespace beibu::cli
