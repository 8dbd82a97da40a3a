#include "beibu/enroll/join_token.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace beibu::enroll {
namespace {

bool IsLowerHex(const std::string& s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string JoinToken::ToString() const {
  return absl::StrCat("bbj1.", id, ".", secret, ".", ca_fingerprint);
}

absl::StatusOr<JoinToken> ParseJoinToken(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4 || parts[0] != "bbj1") {
    return absl::InvalidArgumentError(
        "join token must look like bbj1.<id>.<secret>.<ca-fingerprint>; copy it whole from "
        "`beibu pki token create`");
  }
  JoinToken t{parts[1], parts[2], parts[3]};
  if (!IsLowerHex(t.id, 16)) return absl::InvalidArgumentError("join token id is malformed");
  if (!IsLowerHex(t.secret, 32))
    return absl::InvalidArgumentError("join token secret is malformed");
  if (!IsLowerHex(t.ca_fingerprint, 64)) {
    return absl::InvalidArgumentError("join token CA fingerprint is malformed");
  }
  return t;
}

}  // namespace beibu::enroll
