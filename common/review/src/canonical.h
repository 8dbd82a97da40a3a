// Big-endian framing shared by the canonical encodings of tickets and
// approvals (docs/review.md). Private to beibu_review.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace beibu::review::internal {

inline void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }

inline void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

// u32 length || bytes. Every field comes from a protobuf message (under
// 2 GiB) or a policy file (under 4 MiB), so the length always fits; were one
// ever longer, the length saturates rather than wraps, so two different long
// fields still cannot encode alike by wrapping to a short one.
inline void PutField(std::string* out, const std::string& bytes) {
  constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
  PutU32(out, static_cast<uint32_t>(bytes.size() > kMax ? kMax : bytes.size()));
  out->append(bytes);
}

}  // namespace beibu::review::internal
