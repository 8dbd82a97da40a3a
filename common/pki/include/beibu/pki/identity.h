// Who a certificate speaks for: the identity Beibu authorises against.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace beibu::pki {

// The roles of DESIGN.md. A certificate carries exactly one, in its subject's
// organizationalUnitName (OU).
enum class Role { kHub, kEdge, kEnterprise, kOfficer, kRegulator, kOperator };

std::string_view RoleName(Role role);  // "hub", "edge", ...
std::optional<Role> ParseRole(std::string_view name);

struct Identity {
  std::string id;            // subject CN: node id ("edge-vn") or entity id ("acme-logistics")
  Role role = Role::kEdge;   // subject OU
  std::string country;       // subject C: ISO 3166 alpha-2, the jurisdiction
  std::string organization;  // subject O (may be empty)
  std::string serial_hex;    // certificate serial, lowercase hex
  std::string issuer;        // issuer's one-line name (which CA vouched)

  bool operator==(const Identity&) const = default;
};

// "edge-vn (edge, VN)".
std::string Describe(const Identity& id);

// True for a well-formed ISO 3166-1 alpha-2 code (two upper-case letters).
bool IsCountryCode(std::string_view cc);

// A certificate serial as an operator may type it — upper or lower case,
// colon-separated bytes, the "serial=" prefix of `openssl x509 -serial` —
// in the form Certificate::SerialHex() prints: lower-case hex of whole bytes
// (even length, no leading zero byte). INVALID_ARGUMENT for an empty,
// non-hex or over-20-byte serial.
absl::StatusOr<std::string> CanonicalSerialHex(std::string_view serial);

}  // namespace beibu::pki
