// The hash of an RFC 9162 §2.1 Merkle tree, pluggable so that the same code
// runs Beibu's SM3 logs and the SHA-256 test vectors published with RFC 6962
// implementations.
#pragma once

#include "beibu/crypto/bytes.h"

namespace beibu::merkle {

class Hasher {
 public:
  virtual ~Hasher() = default;
  virtual size_t size() const = 0;                              // digest length
  virtual Bytes HashLeaf(ByteView data) const = 0;              // H(0x00 || data)
  virtual Bytes HashChildren(ByteView l, ByteView r) const = 0; // H(0x01 || l || r)
  virtual Bytes EmptyRoot() const = 0;                          // H("")
};

const Hasher& Sm3Hasher();     // Beibu's logs
const Hasher& Sha256Hasher();  // test vectors only

}  // namespace beibu::merkle
