#include "beibu/pki/identity.h"

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

}  // namespace beibu::pki
