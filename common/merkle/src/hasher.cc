// RFC 9162 §2.1 node hashing: leaves are H(0x00 || data), interior nodes
// H(0x01 || left || right), the empty tree H(""). SM3 for Beibu's logs,
// SHA-256 only so that the RFC 6962 test vectors can be checked.
#include "beibu/merkle/hasher.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "beibu/crypto/sm3.h"

namespace beibu::merkle {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// Children are at most this long for the hashes we support; larger digests
// would take the heap path below.
constexpr size_t kMaxInlineDigest = 64;

// Leaves up to this size are hashed from a stack buffer in one call.
constexpr size_t kInlineLeaf = 256;

class Sm3TreeHasher final : public Hasher {
 public:
  size_t size() const override { return crypto::kSm3Size; }

  Bytes HashLeaf(ByteView data) const override {
    if (data.size() <= kInlineLeaf) {
      std::array<uint8_t, 1 + kInlineLeaf> buf;
      buf[0] = kLeafPrefix;
      if (!data.empty()) std::memcpy(buf.data() + 1, data.data(), data.size());
      return Out(crypto::Sm3::Hash(ByteView(buf.data(), 1 + data.size())));
    }
    crypto::Sm3 sm3;
    sm3.Update(ByteView(&kLeafPrefix, 1)).Update(data);
    return Out(sm3.Final());
  }

  Bytes HashChildren(ByteView l, ByteView r) const override {
    if (l.size() + r.size() <= 2 * kMaxInlineDigest) {
      std::array<uint8_t, 1 + 2 * kMaxInlineDigest> buf;
      buf[0] = kNodePrefix;
      if (!l.empty()) std::memcpy(buf.data() + 1, l.data(), l.size());
      if (!r.empty()) std::memcpy(buf.data() + 1 + l.size(), r.data(), r.size());
      return Out(crypto::Sm3::Hash(ByteView(buf.data(), 1 + l.size() + r.size())));
    }
    crypto::Sm3 sm3;
    sm3.Update(ByteView(&kNodePrefix, 1)).Update(l).Update(r);
    return Out(sm3.Final());
  }

  Bytes EmptyRoot() const override { return Out(crypto::Sm3::Hash({})); }

 private:
  static Bytes Out(const crypto::Sm3Digest& d) { return Bytes(d.begin(), d.end()); }
};

// SHA-256 through OpenSSL 3 EVP, the algorithm fetched once.
class Sha256TreeHasher final : public Hasher {
 public:
  static constexpr size_t kSize = 32;

  size_t size() const override { return kSize; }

  Bytes HashLeaf(ByteView data) const override {
    return Digest({ByteView(&kLeafPrefix, 1), data});
  }
  Bytes HashChildren(ByteView l, ByteView r) const override {
    return Digest({ByteView(&kNodePrefix, 1), l, r});
  }
  Bytes EmptyRoot() const override { return Digest({}); }

 private:
  [[noreturn]] static void Fatal(const char* what) {
    char err[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e != 0) ERR_error_string_n(e, err, sizeof err);
    ERR_clear_error();
    std::fprintf(stderr, "fatal: %s: %s\n", what, err);
    std::abort();
  }

  static EVP_MD* Md() {
    static EVP_MD* md = [] {
      EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
      if (m == nullptr) Fatal("SHA-256 is not available from the OpenSSL provider");
      return m;
    }();
    return md;
  }

  static Bytes Digest(std::initializer_list<ByteView> parts) {
    // One contiguous buffer keeps this to a single EVP_Digest call.
    size_t total = 0;
    for (ByteView p : parts) total += p.size();
    std::array<uint8_t, 1 + 2 * kMaxInlineDigest> small;
    Bytes big;
    uint8_t* buf = small.data();
    if (total > small.size()) {
      big.resize(total);
      buf = big.data();
    }
    size_t off = 0;
    for (ByteView p : parts) {
      if (!p.empty()) std::memcpy(buf + off, p.data(), p.size());
      off += p.size();
    }
    Bytes out(kSize);
    unsigned int len = 0;
    if (EVP_Digest(buf, total, out.data(), &len, Md(), nullptr) != 1 || len != kSize) {
      Fatal("SHA-256 digest failed");
    }
    return out;
  }
};

}  // namespace

const Hasher& Sm3Hasher() {
  static const Sm3TreeHasher* h = new Sm3TreeHasher();
  return *h;
}

const Hasher& Sha256Hasher() {
  static const Sha256TreeHasher* h = new Sha256TreeHasher();
  return *h;
}

}  // namespace beibu::merkle
