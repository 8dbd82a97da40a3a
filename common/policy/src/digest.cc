// ContentDigest: what the hub signs and an edge reports. Lengths are framed
// so that moving bytes between a path and its content, or between files,
// always changes the digest.
#include <cstdint>

#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "beibu/policy/database.h"

namespace beibu::policy {
namespace {

void PutBigEndian(crypto::Sm3& h, uint64_t value, int bytes) {
  uint8_t buf[8];
  for (int i = 0; i < bytes; ++i) buf[i] = static_cast<uint8_t>(value >> (8 * (bytes - 1 - i)));
  h.Update(ByteView(buf, static_cast<size_t>(bytes)));
}

}  // namespace

std::string ContentDigest(const PolicyFiles& files) {
  crypto::Sm3 h;
  for (const auto& [path, content] : files) {  // std::map: path order
    PutBigEndian(h, path.size(), 4);
    h.Update(AsBytes(path));
    PutBigEndian(h, content.size(), 8);
    h.Update(AsBytes(content));
  }
  const crypto::Sm3Digest digest = h.Final();
  return HexEncode(digest);
}

}  // namespace beibu::policy
