#include "beibu/crypto/random.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "internal.h"

namespace beibu::crypto {

absl::Status FillRandom(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    int chunk = static_cast<int>(std::min<size_t>(out.size() - done, INT_MAX));
    if (RAND_bytes(out.data() + done, chunk) != 1) {
      return internal::OpenSslError("RAND_bytes failed");
    }
    done += chunk;
  }
  return absl::OkStatus();
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  if (absl::Status s = FillRandom(out); !s.ok()) {
    std::fprintf(stderr, "fatal: CSPRNG unavailable: %s\n", s.ToString().c_str());
    std::abort();
  }
  return out;
}

bool ConstantTimeEquals(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace beibu::crypto
