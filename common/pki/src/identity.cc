#include "beibu/pki/identity.h"

#include <cctype>

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace beibu::pki {
namespace {

constexpr std::array<std::pair<Role, std::string_view>, 6> kRoleNames = {{
    {Role::kHub, "hub"},
    {Role::kEdge, "edge"},
    {Role::kEnterprise, "enterprise"},
    {Role::kOfficer, "officer"},
    {Role::kRegulator, "regulator"},
    {Role::kOperator, "operator"},
}};

}  // namespace

std::string_view RoleName(Role role) {
  for (const auto& [r, name] : kRoleNames) {
    if (r == role) return name;
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const auto& [r, n] : kRoleNames) {
    if (n == name) return r;
  }
  return std::nullopt;
}

std::string Describe(const Identity& id) {
  return absl::StrCat(id.id, " (", std::string(RoleName(id.role)), ", ", id.country, ")");
}

bool IsCountryCode(std::string_view cc) {
  return cc.size() == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z';
}

absl::StatusOr<std::string> CanonicalSerialHex(std::string_view serial) {
  if (serial.substr(0, 7) == "serial=") serial.remove_prefix(7);
  std::string digits;
  for (char c : serial) {
    if (c == ':') continue;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "serial '", std::string(serial), "' is not hexadecimal (see `beibu pki show CERT`)"));
    }
    digits += c;
  }
  if (digits.empty()) return absl::InvalidArgumentError("empty serial");
  size_t first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "0" : digits.substr(first);
  if (digits.size() % 2 != 0) digits.insert(digits.begin(), '0');
  if (digits.size() > 40) return absl::InvalidArgumentError("serial longer than 20 bytes");
  return digits;
}

}  // namespace beibu::pki
