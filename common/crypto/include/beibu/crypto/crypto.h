// Beibu's national-cryptography toolkit: RAII wrappers over the OpenSSL 3 EVP API
// (or Tongsuo, which has the same API). Nothing here implements a primitive.
//
//   auto digest = beibu::crypto::Sm3::Hash(beibu::AsBytes("abc"));
//   auto key = beibu::crypto::Sm2PrivateKey::Generate().value();
//   auto sig = key.Sign(data).value();
//   auto ok = key.PublicKey().Verify(data, sig);
//
// Thread safety: each object is used by one thread at a time; distinct objects
// are independent. Failures of the provider itself (out of memory, algorithm
// missing) are reported as INTERNAL with OpenSSL's error queue in the message;
// CheckProvider() tells at start-up whether the provider has what Beibu needs.
#pragma once

#include "beibu/crypto/bytes.h"
#include "beibu/crypto/kdf.h"
#include "beibu/crypto/random.h"
#include "beibu/crypto/sm2.h"
#include "beibu/crypto/sm3.h"
#include "beibu/crypto/sm4.h"

namespace beibu::crypto {

// OK when SM2, SM3, SM4-CTR/CBC, HMAC and HKDF are all usable; otherwise
// FAILED_PRECONDITION naming the missing algorithm.
absl::Status CheckProvider();

// "OpenSSL 3.0.19 27 Jan 2026", or the Tongsuo equivalent.
std::string ProviderVersion();

}  // namespace beibu::crypto
