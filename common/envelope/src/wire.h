// Big-endian integer and length-prefixed field encodings shared by the
// envelope formats.
#pragma once

#include <cstdint>
#include <string_view>

#include "beibu/crypto/bytes.h"

namespace beibu::envelope::internal {

void AppendU8(Bytes& out, uint8_t v);
void AppendU32(Bytes& out, uint32_t v);
void AppendU64(Bytes& out, uint64_t v);
// u32 big-endian length, then the bytes. Callers keep fields under 4 GiB.
void AppendField(Bytes& out, std::string_view field);

}  // namespace beibu::envelope::internal
