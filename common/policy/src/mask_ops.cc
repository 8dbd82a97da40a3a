// The masking operators (docs/masking.md lists their exact output formats).
#include "beibu/policy/mask.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"

namespace beibu::policy {
namespace {

constexpr char kRedacted[] = "[REDACTED]";
constexpr size_t kMinKeyBytes = 16;

// Byte offsets where UTF-8 characters start. A stray continuation byte stays
// with the character before it (or starts one at offset 0), so invalid input
// is still cut at byte boundaries that never split a valid character.
std::vector<size_t> CharStarts(std::string_view s) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (i == 0 || (b & 0xC0) != 0x80) starts.push_back(i);
  }
  return starts;
}

// kMask on a whole value. When keep_first + keep_last would reveal the whole
// value, at most floor(n/2) characters are revealed (first ones before last
// ones), so at least half is always masked.
std::string MaskChars(std::string_view value, int keep_first, int keep_last, char mask_char) {
  const std::vector<size_t> starts = CharStarts(value);
  const size_t n = starts.size();
  size_t kf = static_cast<size_t>(keep_first);
  size_t kl = static_cast<size_t>(keep_last);
  if (kf + kl >= n) {
    const size_t budget = n / 2;
    kf = std::min(kf, budget);
    kl = std::min(kl, budget - kf);
  }
  std::string out;
  out.reserve(value.size());
  const size_t kept_head_end = kf < n ? starts[kf] : value.size();
  out.append(value.substr(0, kept_head_end));
  out.append(n - kf - kl, mask_char);
  if (kl > 0) out.append(value.substr(starts[n - kl]));
  return out;
}

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int ToInt(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

bool ValidYmd(int y, int m, int d) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  if (m == 2 && d == 29) return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return true;
}

// "YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD", optionally followed by "T" or " "
// and a time starting "HH:MM" (seconds, fractions and zone are not checked).
// Returns the year, or empty when the value is not such a date.
std::string DateYear(std::string_view v) {
  v = Trim(v);
  std::string_view date, rest;
  if (v.size() >= 10 && (v[4] == '-' || v[4] == '/') && v[7] == v[4]) {
    date = v.substr(0, 10);
    rest = v.substr(10);
    if (!AllDigits(date.substr(0, 4)) || !AllDigits(date.substr(5, 2)) ||
        !AllDigits(date.substr(8, 2)))
      return "";
    if (!ValidYmd(ToInt(date.substr(0, 4)), ToInt(date.substr(5, 2)), ToInt(date.substr(8, 2))))
      return "";
  } else if (v.size() >= 8 && AllDigits(v.substr(0, 8))) {
    date = v.substr(0, 8);
    rest = v.substr(8);
    if (!ValidYmd(ToInt(date.substr(0, 4)), ToInt(date.substr(4, 2)), ToInt(date.substr(6, 2))))
      return "";
  } else {
    return "";
  }
  if (!rest.empty()) {
    if (rest[0] != 'T' && rest[0] != ' ') return "";
    const std::string_view t = rest.substr(1);
    if (t.size() < 5 || !AllDigits(t.substr(0, 2)) || t[2] != ':' || !AllDigits(t.substr(3, 2)))
      return "";
    if (ToInt(t.substr(0, 2)) > 23 || ToInt(t.substr(3, 2)) > 59) return "";
    if (t.size() > 5 && t[5] != ':' && t[5] != '.' && t[5] != 'Z' && t[5] != '+' && t[5] != '-')
      return "";
  }
  return std::string(date.substr(0, 4));
}

// Integer or decimal with an optional sign -> "lo-hi" where lo is floor(value)
// rounded down to a multiple of `bucket`. Empty when not a number or out of
// int64 range.
std::string NumberRange(std::string_view v, int64_t bucket) {
  v = Trim(v);
  bool neg = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  const size_t dot = v.find('.');
  const std::string_view int_part = v.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : v.substr(dot + 1);
  if (int_part.empty() && frac.empty()) return "";
  if (!int_part.empty() && !AllDigits(int_part)) return "";
  if (dot != std::string_view::npos && !frac.empty() && !AllDigits(frac)) return "";
  if (dot != std::string_view::npos && int_part.empty() && frac.empty()) return "";
  bool frac_nonzero = false;
  for (char c : frac) frac_nonzero = frac_nonzero || c != '0';
  __int128 x = 0;
  for (char c : int_part) {
    x = x * 10 + (c - '0');
    if (x > static_cast<__int128>(INT64_MAX)) return "";
  }
  if (neg) x = -x - (frac_nonzero ? 1 : 0);  // floor of a negative decimal
  __int128 lo = x / bucket;
  if (x % bucket != 0 && x < 0) lo -= 1;
  lo *= bucket;
  const __int128 hi = lo + bucket - 1;
  if (lo < static_cast<__int128>(INT64_MIN) || hi > static_cast<__int128>(INT64_MAX)) return "";
  return absl::StrCat(static_cast<int64_t>(lo), "-", static_cast<int64_t>(hi));
}

// The spelling of `value` a pseudonym is computed from, so that the same
// identifier written differently gets the same token (docs/masking.md,
// "Pseudonyms"). Types not listed here (PASSPORT, HEALTH_ICD10, by_field
// types, any type added later) are taken byte for byte.
std::string PseudonymCanonical(std::string_view type, std::string_view value) {
  std::string out;
  out.reserve(value.size());
  if (type == "EMAIL") {
    // Mail systems treat addresses case-insensitively in practice.
    for (char c : value) out.push_back(AsciiLower(c));
    return out;
  }
  if (type == "IP_ADDRESS") {
    // IPv6 hex digits in either case; no further canonical form (zero
    // compression and leading zeros are kept as written).
    for (char c : value) out.push_back(AsciiLower(c));
    return out;
  }
  static constexpr std::string_view kNumberTypes[] = {"CN_RESIDENT_ID", "CN_USCC",   "SG_NRIC_FIN",
                                                      "TH_NATIONAL_ID", "BANK_CARD", "CN_MOBILE",
                                                      "MY_MYKAD",       "VN_CCCD",   "ID_NIK"};
  if (std::find(std::begin(kNumberTypes), std::end(kNumberTypes), type) == std::end(kNumberTypes))
    return std::string(value);
  // Identifier numbers: the separators people type ("6222 0212 ...",
  // "1-2345-...") dropped, letters (the resident ID's check "x") upper-cased.
  for (char c : value) {
    if (c == ' ' || c == '-') continue;
    out.push_back(AsciiUpper(c));
  }
  // "+86 138 0013 8000" is the mobile 13800138000 (the detector accepts the
  // prefix only with 11 digits after it).
  if (type == "CN_MOBILE" && out.size() == 14 && out.compare(0, 3, "+86") == 0) out.erase(0, 3);
  return out;
}

}  // namespace

bool IsValidMaskChar(char c) {
  // A control or non-ASCII character would corrupt CSV/JSON/UTF-8 output; a
  // space makes the masked part look like blanks (and is trimmed by readers);
  // '"', ',' and '\\' would need quoting or escaping in CSV, JSON or the text
  // records the masker rewrites in place (a masked CSV header-less first line).
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7F && c != '"' && c != ',' && c != '\\';
}

absl::StatusOr<std::string> ApplyMaskOp(const MaskOp& op, std::string_view value,
                                        std::string_view type, std::string_view key) {
  switch (op.kind) {
    case MaskOp::Kind::kMask: {
      if (op.keep_first < 0 || op.keep_last < 0)
        return absl::InvalidArgumentError(absl::StrCat("mask: keep_first (", op.keep_first,
                                                       ") and keep_last (", op.keep_last,
                                                       ") must be 0 or more"));
      if (!IsValidMaskChar(op.mask_char))
        return absl::InvalidArgumentError(
            "mask: mask_char must be a printable ASCII character other than space, '\"', ',' "
            "and '\\' (for example '*')");
      if (type == "EMAIL") {
        const size_t at = value.rfind('@');
        if (at != std::string_view::npos && at > 0)
          return absl::StrCat(
              MaskChars(value.substr(0, at), op.keep_first, op.keep_last, op.mask_char),
              std::string(value.substr(at)));
      }
      return MaskChars(value, op.keep_first, op.keep_last, op.mask_char);
    }
    case MaskOp::Kind::kRedact:
      return std::string(kRedacted);
    case MaskOp::Kind::kReplaceWithType:
      return type.empty() ? std::string("<REDACTED>") : absl::StrCat("<", std::string(type), ">");
    case MaskOp::Kind::kPseudonym: {
      if (key.size() < kMinKeyBytes)
        return absl::InvalidArgumentError(
            absl::StrCat("pseudonym: the key is ", key.size(), " bytes, at least ", kMinKeyBytes,
                         " are needed; make one with `openssl rand -hex 32 > mask.key`"));
      crypto::HmacSm3 mac(AsBytes(key));
      mac.Update(AsBytes(type));
      const uint8_t zero = 0;
      mac.Update(ByteView(&zero, 1));
      const std::string canonical = PseudonymCanonical(type, value);
      mac.Update(AsBytes(canonical));
      const crypto::Sm3Digest d = mac.Final();
      return absl::StrCat("tok_", HexEncode(ByteView(d.data(), 8)));
    }
    case MaskOp::Kind::kGeneralizeDate: {
      std::string year = DateYear(value);
      return year.empty() ? std::string(kRedacted) : year;
    }
    case MaskOp::Kind::kGeneralizeNumber: {
      if (op.bucket < 1)
        return absl::InvalidArgumentError(
            absl::StrCat("generalize_number: bucket is ", op.bucket, ", it must be 1 or more"));
      std::string range = NumberRange(value, op.bucket);
      return range.empty() ? std::string(kRedacted) : range;
    }
  }
  return absl::InvalidArgumentError("unknown mask operator");
}

}  // namespace beibu::policy
