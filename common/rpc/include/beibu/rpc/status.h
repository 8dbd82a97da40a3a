// Conversions between absl::Status (inside Beibu) and grpc::Status (at the
// service boundary). The numeric codes are the same canonical codes.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace beibu::rpc {

inline grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace beibu::rpc
