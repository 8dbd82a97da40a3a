// Scope text forms (scope.h): "global", "route:VN>CN", "enterprise:<id>".
#include "beibu/gateway/scope.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace beibu::gateway {
namespace {

constexpr std::string_view kRoutePrefix = "route:";
constexpr std::string_view kEnterprisePrefix = "enterprise:";
constexpr size_t kMaxEnterpriseId = 128;

// This absl has its own string_view type (not std::string_view).
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsCountry(std::string_view c) {
  return c.size() == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z';
}

// Printable ASCII without space: what a certificate id may contain.
bool IsEnterpriseId(std::string_view id) {
  if (id.empty() || id.size() > kMaxEnterpriseId) return false;
  for (char ch : id) {
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  return true;
}

absl::Status Invalid(std::string_view text, std::string_view why) {
  // Quote at most a prefix of the input: it may be long or binary garbage.
  std::string shown(text.substr(0, 80));
  for (char& ch : shown) {
    if (ch < 0x20 || ch > 0x7e) ch = '?';
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "scope \"", shown, text.size() > 80 ? "...\"" : "\"", " is invalid: ", A(why),
      "; the accepted forms are \"global\", \"route:<FROM>><TO>\" with ISO 3166-1 alpha-2 "
      "upper-case country codes (e.g. route:VN>CN), and \"enterprise:<certificate id>\" "
      "(1-128 printable ASCII characters, no spaces)"));
}

}  // namespace

Scope Scope::Global() { return Scope{}; }

Scope Scope::Route(std::string from_country, std::string to_country) {
  Scope s;
  s.kind = Kind::kRoute;
  s.from_country = std::move(from_country);
  s.to_country = std::move(to_country);
  return s;
}

Scope Scope::Enterprise(std::string certificate_id) {
  Scope s;
  s.kind = Kind::kEnterprise;
  s.enterprise = std::move(certificate_id);
  return s;
}

absl::StatusOr<Scope> Scope::Parse(std::string_view text) {
  if (text == "global") return Global();
  if (text.substr(0, kRoutePrefix.size()) == kRoutePrefix) {
    std::string_view rest = text.substr(kRoutePrefix.size());
    size_t gt = rest.find('>');
    if (gt == std::string_view::npos)
      return Invalid(text, "a route needs '>' between the countries");
    std::string_view from = rest.substr(0, gt);
    std::string_view to = rest.substr(gt + 1);
    if (!IsCountry(from) || !IsCountry(to)) {
      return Invalid(text, "the countries must be two upper-case letters each");
    }
    return Route(std::string(from), std::string(to));
  }
  if (text.substr(0, kEnterprisePrefix.size()) == kEnterprisePrefix) {
    std::string_view id = text.substr(kEnterprisePrefix.size());
    if (!IsEnterpriseId(id)) {
      return Invalid(text,
                     "the certificate id must be 1-128 printable ASCII characters without spaces");
    }
    return Enterprise(std::string(id));
  }
  return Invalid(text, "unknown form");
}

std::string Scope::ToString() const {
  switch (kind) {
    case Kind::kGlobal:
      return "global";
    case Kind::kRoute:
      return absl::StrCat(A(kRoutePrefix), from_country, ">", to_country);
    case Kind::kEnterprise:
      return absl::StrCat(A(kEnterprisePrefix), enterprise);
  }
  return "global";
}

bool Scope::Covers(std::string_view sender, std::string_view from, std::string_view to) const {
  switch (kind) {
    case Kind::kGlobal:
      return true;
    case Kind::kRoute:
      return from_country == from && to_country == to;
    case Kind::kEnterprise:
      return enterprise == sender;
  }
  return false;
}

}  // namespace beibu::gateway
