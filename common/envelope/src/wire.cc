#include "wire.h"

namespace beibu::envelope::internal {

void AppendU8(Bytes& out, uint8_t v) { out.push_back(v); }

void AppendU32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void AppendU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void AppendField(Bytes& out, std::string_view field) {
  AppendU32(out, static_cast<uint32_t>(field.size()));
  out.insert(out.end(), field.begin(), field.end());
}

}  // namespace beibu::envelope::internal
