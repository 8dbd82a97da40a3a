// One-time join tokens: "bbj1.<id>.<secret>.<ca-fingerprint>".
//   id              16 hex digits, names the token in logs and storage
//   secret          32 hex digits (128 bits); the hub stores only its SM3
//   ca-fingerprint  SM3 of the hub CA certificate (DER), 64 hex digits: the
//                   enrolling party pins the CA with it on first contact
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace beibu::enroll {

struct JoinToken {
  std::string id;
  std::string secret;
  std::string ca_fingerprint;

  std::string ToString() const;
};

// INVALID_ARGUMENT saying which part is malformed.
absl::StatusOr<JoinToken> ParseJoinToken(const std::string& text);

}  // namespace beibu::enroll
