// What a data circuit breaker stops (docs/gateway.md): everything, one route
// (country pair) or one enterprise. Text form, used in the API, the CLI, the
// audit log and as storage key:
//   "global" | "route:VN>CN" | "enterprise:<certificate id>"
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace beibu::gateway {

struct Scope {
  enum class Kind { kGlobal, kRoute, kEnterprise };
  Kind kind = Kind::kGlobal;
  std::string from_country;  // kRoute: ISO 3166-1 alpha-2, upper case
  std::string to_country;    // kRoute
  std::string enterprise;    // kEnterprise: the enterprise's certificate id

  static Scope Global();
  static Scope Route(std::string from_country, std::string to_country);
  static Scope Enterprise(std::string certificate_id);

  // INVALID_ARGUMENT with the accepted forms when `text` is none of them
  // (country codes must be two upper-case letters; an enterprise id 1-128
  // printable ASCII characters without spaces).
  static absl::StatusOr<Scope> Parse(std::string_view text);
  std::string ToString() const;

  // Whether a send of `enterprise` from `from_country` to `to_country` falls
  // under this scope.
  bool Covers(std::string_view enterprise, std::string_view from_country,
              std::string_view to_country) const;

  friend auto operator<=>(const Scope&, const Scope&) = default;
};

}  // namespace beibu::gateway
