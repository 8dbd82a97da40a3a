// Byte containers and hex helpers shared by every Beibu library.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace beibu {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Lowercase hex of `data`.
std::string HexEncode(ByteView data);
// Accepts upper or lower case; fails on odd length or a non-hex character.
absl::StatusOr<Bytes> HexDecode(std::string_view hex);

}  // namespace beibu
