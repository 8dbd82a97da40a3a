#include "token_scanner.h"

#include <algorithm>
#include <cstdint>

namespace beibu::policy::internal {
namespace {

// Byte classes, one table lookup per byte on the hot path.
enum : uint8_t { kDigit = 1, kUpper = 2, kLower = 4, kHex = 8, kLocal = 16, kStart = 32 };
// RFC 5321: a local part holds at most 64 bytes (IsValidEmail refuses longer).
constexpr size_t kMaxLocalPart = 64;

struct ClassTable {
  uint8_t c[256] = {};
  constexpr ClassTable() {
    for (int i = '0'; i <= '9'; ++i) c[i] = kDigit | kHex | kLocal;
    for (int i = 'A'; i <= 'Z'; ++i) c[i] = kUpper | kLocal;
    for (int i = 'a'; i <= 'z'; ++i) c[i] = kLower | kLocal;
    for (int i = 'A'; i <= 'F'; ++i) c[i] |= kHex;
    for (int i = 'a'; i <= 'f'; ++i) c[i] |= kHex;
    for (char ch : {'.', '_', '%', '+', '-'}) c[static_cast<uint8_t>(ch)] = kLocal;
    // Bytes the main loop must stop at: alphanumerics and the non-alphanumeric
    // starts ('+' of +86, ':' of IPv6, '@' of e-mail).
    for (int i = 0; i < 256; ++i) {
      if (c[i] & (kDigit | kUpper | kLower)) c[i] |= kStart;
    }
    c[static_cast<uint8_t>('+')] |= kStart;
    c[static_cast<uint8_t>(':')] |= kStart;
    c[static_cast<uint8_t>('@')] |= kStart;
    c[static_cast<uint8_t>('\n')] |= kStart;
  }
};
constexpr ClassTable kClass;

// Bounds-checked byte access: 0 past the end (0 belongs to no class).
inline uint8_t At(std::string_view t, size_t p) {
  return p < t.size() ? static_cast<uint8_t>(t[p]) : 0;
}
inline bool Digit(std::string_view t, size_t p) { return kClass.c[At(t, p)] & kDigit; }
inline bool Upper(std::string_view t, size_t p) { return kClass.c[At(t, p)] & kUpper; }
inline bool Hex(std::string_view t, size_t p) { return kClass.c[At(t, p)] & kHex; }
inline bool Sep(std::string_view t, size_t p) { return At(t, p) == ' ' || At(t, p) == '-'; }
inline bool DomainChar(std::string_view t, size_t p) {
  const uint8_t c = At(t, p);
  return (kClass.c[c] & (kDigit | kUpper | kLower)) || c == '-';
}

size_t DigitRun(std::string_view t, size_t p) {
  size_t q = p;
  while (Digit(t, q)) ++q;
  return q - p;
}
size_t HexRun(std::string_view t, size_t p) {
  size_t q = p;
  while (Hex(t, q)) ++q;
  return q - p;
}
bool Digits(std::string_view t, size_t p, size_t n) { return DigitRun(t, p) >= n; }

// [0-9A-HJ-NPQRTUWXY]: the GB 32100 alphabet.
bool UsccChar(std::string_view t, size_t p) {
  const uint8_t c = At(t, p);
  if (c >= '0' && c <= '9') return true;
  if (c < 'A' || c > 'Y') return false;
  return c != 'I' && c != 'O' && c != 'S' && c != 'V';
}

// 1[3-9]\d{9}
// 1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4}): contiguous, or grouped 3-4-4 as people
// write them ("138 0013 8000"). Returns the end, or 0.
size_t MobileCoreEnd(std::string_view t, size_t p) {
  if (At(t, p) != '1' || At(t, p + 1) < '3' || At(t, p + 1) > '9' || !Digit(t, p + 2)) return 0;
  if (Digits(t, p + 3, 8)) return p + 11;
  if (Sep(t, p + 3) && Digits(t, p + 4, 4) && Sep(t, p + 8) && Digits(t, p + 9, 4)) return p + 13;
  return 0;
}

// \d{1,3}(?:\.\d{1,3}){3}
size_t Ipv4At(std::string_view t, size_t s) {
  size_t p = s;
  for (int g = 0; g < 3; ++g) {
    const size_t d = DigitRun(t, p);
    if (d < 1 || d > 3 || At(t, p + d) != '.') return 0;
    p += d + 1;
  }
  const size_t d = DigitRun(t, p);
  return d == 0 ? 0 : p + std::min<size_t>(d, 3);
}

// Positions after 0..max repetitions of [0-9A-Fa-f]{1,4}: (each repetition is
// forced: only the whole hex run can be followed by ':'). Returns the count.
int HexColonChain(std::string_view t, size_t s, int max, size_t* q) {
  q[0] = s;
  int k = 0;
  while (k < max) {
    const size_t h = HexRun(t, q[k]);
    if (h < 1 || h > 4 || At(t, q[k] + h) != ':') break;
    q[k + 1] = q[k] + h + 1;
    ++k;
  }
  return k;
}

// (?::[0-9A-Fa-f]{1,4}){1,7}, greedy; nothing follows it in the pattern.
size_t ColonHexTail(std::string_view t, size_t p) {
  int n = 0;
  while (n < 7 && At(t, p) == ':' && Hex(t, p + 1)) {
    p += 1 + std::min<size_t>(HexRun(t, p + 1), 4);
    ++n;
  }
  return n > 0 ? p : 0;
}

// The IP_ADDRESS pattern's alternatives, in order (detector.cc).
size_t IpAt(std::string_view t, size_t s) {
  if (size_t e = Ipv4At(t, s)) return e;
  // The "H{1,4}:" chain from s is forced (see HexColonChain), so one walk of
  // up to 7 links serves the three alternatives that start with it.
  size_t q[8];
  const int chain = HexColonChain(t, s, 7, q);
  // (?:H{1,4}:){7}H{1,4}
  if (chain == 7) {
    const size_t h = HexRun(t, q[7]);
    if (h > 0) return q[7] + std::min<size_t>(h, 4);
  }
  // (?:H{1,4}:){0,6}:?(?::H{1,4}){1,7}
  for (int k = std::min(chain, 6); k >= 0; --k) {
    if (At(t, q[k]) == ':') {
      if (size_t e = ColonHexTail(t, q[k] + 1)) return e;
    }
    if (size_t e = ColonHexTail(t, q[k])) return e;
  }
  // (?:H{1,4}:){1,7}:
  for (int k = chain; k >= 1; --k) {
    if (At(t, q[k]) == ':') return q[k] + 1;
  }
  // ::
  if (At(t, s) == ':' && At(t, s + 1) == ':') return s + 2;
  return 0;
}

// [A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+ from p, greedy.
size_t DomainAt(std::string_view t, size_t p) {
  if (!DomainChar(t, p)) return 0;
  while (DomainChar(t, p)) ++p;
  int labels = 0;
  while (At(t, p) == '.' && DomainChar(t, p + 1)) {
    ++p;
    while (DomainChar(t, p)) ++p;
    ++labels;
  }
  return labels > 0 ? p : 0;
}

}  // namespace

size_t MatchAt(int type, std::string_view t, size_t s) {
  switch (type) {
    case kCnResidentId: {  // \d{17}[\dXx]
      const uint8_t c = At(t, s + 17);
      return Digits(t, s, 17) && (Digit(t, s + 17) || c == 'X' || c == 'x') ? s + 18 : 0;
    }
    case kCnUscc: {  // U{2}\d{6}U{10}
      if (!UsccChar(t, s) || !UsccChar(t, s + 1) || !Digits(t, s + 2, 6)) return 0;
      for (size_t p = s + 8; p < s + 18; ++p) {
        if (!UsccChar(t, p)) return 0;
      }
      return s + 18;
    }
    case kSgNricFin: {  // [STFGM]\d{7}[A-Z]
      const uint8_t c = At(t, s);
      const bool prefix = c == 'S' || c == 'T' || c == 'F' || c == 'G' || c == 'M';
      return prefix && Digits(t, s + 1, 7) && Upper(t, s + 8) ? s + 9 : 0;
    }
    case kThNationalId:  // \d{13}|\d-\d{4}-\d{5}-\d{2}-\d
      if (Digits(t, s, 13)) return s + 13;
      if (Digit(t, s) && At(t, s + 1) == '-' && Digits(t, s + 2, 4) && At(t, s + 6) == '-' &&
          Digits(t, s + 7, 5) && At(t, s + 12) == '-' && Digits(t, s + 13, 2) &&
          At(t, s + 15) == '-' && Digit(t, s + 16))
        return s + 17;
      return 0;
    case kBankCard: {  // \d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{16,19}
      if (Digits(t, s, 4) && Sep(t, s + 4) && Digits(t, s + 5, 4) && Sep(t, s + 9) &&
          Digits(t, s + 10, 4) && Sep(t, s + 14) && Digits(t, s + 15, 4)) {
        size_t p = s + 19;
        if (Sep(t, p) && Digit(t, p + 1)) return p + 1 + std::min<size_t>(DigitRun(t, p + 1), 3);
        if (Digit(t, p)) return p + std::min<size_t>(DigitRun(t, p), 3);
        return p;
      }
      const size_t d = DigitRun(t, s);
      return d >= 16 ? s + std::min<size_t>(d, 19) : 0;
    }
    case kCnMobile:  // (?:\+86[ -]?)?1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4})
      if (At(t, s) == '+') {
        if (At(t, s + 1) != '8' || At(t, s + 2) != '6') return 0;
        if (Sep(t, s + 3)) {
          if (const size_t e = MobileCoreEnd(t, s + 4)) return e;
        }
        return MobileCoreEnd(t, s + 3);
      }
      return MobileCoreEnd(t, s);
    case kMyMykad:  // \d{6}-\d{2}-\d{4}|\d{12}
      if (Digits(t, s, 6) && At(t, s + 6) == '-' && Digits(t, s + 7, 2) && At(t, s + 9) == '-' &&
          Digits(t, s + 10, 4))
        return s + 14;
      return Digits(t, s, 12) ? s + 12 : 0;
    case kVnCccd:  // \d{12}
      return Digits(t, s, 12) ? s + 12 : 0;
    case kIdNik:  // \d{16}
      return Digits(t, s, 16) ? s + 16 : 0;
    case kEmail: {  // [A-Za-z0-9._%+-]{1,64}@domain
      size_t p = s;
      while (p - s < kMaxLocalPart && (kClass.c[At(t, p)] & kLocal)) ++p;
      if (p == s || At(t, p) != '@') return 0;
      return DomainAt(t, p + 1);
    }
    case kIpAddress:
      return IpAt(t, s);
    case kPassport: {  // [A-Z]{1,2}\d{6,8}
      if (!Upper(t, s)) return 0;
      const size_t letters = Upper(t, s + 1) ? 2 : 1;
      const size_t d = DigitRun(t, s + letters);
      return d >= 6 ? s + letters + std::min<size_t>(d, 8) : 0;
    }
    case kHealthIcd10: {  // [A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?
      const uint8_t c = At(t, s);
      if (!Upper(t, s) || c == 'U' || !Digit(t, s + 1) || !(Digit(t, s + 2) || Upper(t, s + 2)))
        return 0;
      size_t p = s + 3;
      if (At(t, p) != '.') return p;
      size_t q = p + 1;
      while (q < p + 5 && (Digit(t, q) || Upper(t, q))) ++q;
      return q > p + 1 ? q : p;
    }
    default:
      return 0;
  }
}

namespace {

// One type's scan state: the RE2 loop's `pos`, and its accept/reject step.
struct Cursor {
  size_t pos = 0;
};

void Try(std::string_view t, int type, size_t s, Cursor& cur, CandidateSink& sink) {
  if (s < cur.pos) return;
  const size_t e = MatchAt(type, t, s);
  if (e == 0) return;
  if (sink.Offer(type, s, e)) {
    cur.pos = e;
  } else {
    size_t next = s + 1;
    while (next < t.size() && IsAlnumByte(t[next])) ++next;
    cur.pos = next;
  }
}

// E-mail starts lie in the run of local-part bytes before the '@' at `at`;
// every such position is tried in order, as the RE2 loop does (a rejected
// ".x@y.com" skips the run after the '.').
// Only the last 64 bytes can start one (a longer local part is invalid), which
// keeps a long run of '.' and '-' before an '@' linear instead of quadratic.
void ScanEmailAt(std::string_view t, size_t at, Cursor& cur, CandidateSink& sink) {
  size_t ls = at;
  while (ls > 0 && at - ls < kMaxLocalPart &&
         (kClass.c[static_cast<uint8_t>(t[ls - 1])] & kLocal))
    --ls;
  if (ls == at || DomainAt(t, at + 1) == 0) return;
  for (size_t s = std::max(ls, cur.pos); s < at; s = std::max(s + 1, cur.pos)) {
    Try(t, kEmail, s, cur, sink);
    if (cur.pos > at) break;  // accepted: resumes after the domain
  }
}

}  // namespace

void ScanTextFast(std::string_view t, CandidateSink& sink) {
  Cursor cur[kNumTypes];
  const size_t n = t.size();
  size_t i = 0;
  while (true) {
    while (i < n && !(kClass.c[static_cast<uint8_t>(t[i])] & kStart)) ++i;
    if (i >= n) break;
    const uint8_t c = static_cast<uint8_t>(t[i]);
    const uint8_t cls = kClass.c[c];
    if (!(cls & (kDigit | kUpper | kLower))) {
      // Each type has its own cursor and e-mail candidates end after the
      // '@', so interleaving them with the others here changes nothing.
      if (c == '+') Try(t, kCnMobile, i, cur[kCnMobile], sink);
      // An address starting at ':' begins "::" or ":H" (IpAt); JSON's
      // `"key":"value"` colons are neither, so skip the matcher for them.
      if (c == ':' && (At(t, i + 1) == ':' || Hex(t, i + 1)))
        Try(t, kIpAddress, i, cur[kIpAddress], sink);
      if (c == '@') ScanEmailAt(t, i, cur[kEmail], sink);
      // No candidate spans a newline, and every cursor is at most the end of
      // the line, so the cursors need no reset here.
      if (c == '\n') sink.LineEnd();
      ++i;
      continue;
    }
    // A maximal alphanumeric run [i, r): its length and digit prefix decide
    // which types it can start. Gates below only skip starts whose match
    // would not exist or would end inside the run (glued, hence rejected).
    // Two tight loops: the leading digits, then the rest of the run.
    size_t r = i;
    while (r < n && (kClass.c[static_cast<uint8_t>(t[r])] & kDigit)) ++r;
    const size_t digits = r - i;
    while (r < n && (kClass.c[static_cast<uint8_t>(t[r])] & (kDigit | kUpper | kLower))) ++r;
    const size_t len = r - i;
    const uint8_t next = At(t, r);
    if (len <= 4 && (next == '.' || next == ':')) Try(t, kIpAddress, i, cur[kIpAddress], sink);
    if (cls & kDigit) {
      const bool all = digits == len;
      if (all) {
        switch (len) {
          case 1:
            if (next == '-') Try(t, kThNationalId, i, cur[kThNationalId], sink);
            break;
          case 3:  // a grouped mobile, "138 0013 8000"
            if (next == ' ' || next == '-') Try(t, kCnMobile, i, cur[kCnMobile], sink);
            break;
          case 4:
            if (next == ' ' || next == '-') Try(t, kBankCard, i, cur[kBankCard], sink);
            break;
          case 6:
            if (next == '-') Try(t, kMyMykad, i, cur[kMyMykad], sink);
            break;
          case 11:
            Try(t, kCnMobile, i, cur[kCnMobile], sink);
            break;
          case 12:
            Try(t, kMyMykad, i, cur[kMyMykad], sink);
            Try(t, kVnCccd, i, cur[kVnCccd], sink);
            break;
          case 13:
            Try(t, kThNationalId, i, cur[kThNationalId], sink);
            break;
          case 16:
            Try(t, kIdNik, i, cur[kIdNik], sink);
            break;
          default:
            break;
        }
        if (len >= 16 && len <= 19) Try(t, kBankCard, i, cur[kBankCard], sink);
      }
      if (len == 18) {
        if (digits >= 17) Try(t, kCnResidentId, i, cur[kCnResidentId], sink);
        Try(t, kCnUscc, i, cur[kCnUscc], sink);
      }
    } else if (cls & kUpper) {
      if (len == 18) Try(t, kCnUscc, i, cur[kCnUscc], sink);
      if (len == 9) Try(t, kSgNricFin, i, cur[kSgNricFin], sink);
      if (len >= 7 && len <= 10) Try(t, kPassport, i, cur[kPassport], sink);
      // An ICD-10 code's first run is exactly its 3-character category: a
      // longer run would end the match inside it (glued).
      if (len == 3) Try(t, kHealthIcd10, i, cur[kHealthIcd10], sink);
    }
    i = r;
  }
  sink.LineEnd();
}

}  // namespace beibu::policy::internal
