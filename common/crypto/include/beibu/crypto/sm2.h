// SM2 (GB/T 32918-2016) keys: signatures, public-key encryption and ECDH key
// agreement on the SM2 curve. Keys are standard PEM (PKCS#8 / SubjectPublicKeyInfo)
// that `openssl pkey` reads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace beibu::crypto {

// The default distinguishing ID of GB/T 32918 / GM/T 0009; signer and verifier
// must use the same one.
inline constexpr std::string_view kDefaultSm2Id = "1234567812345678";
// Uncompressed point 04 || X || Y.
inline constexpr size_t kSm2PointSize = 65;

namespace internal {
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
}  // namespace internal

class Sm2PublicKey {
 public:
  static absl::StatusOr<Sm2PublicKey> FromPem(std::string_view pem);
  // DER SubjectPublicKeyInfo.
  static absl::StatusOr<Sm2PublicKey> FromDer(ByteView der);
  // Takes a reference to an EVP_PKEY that must be an SM2 key.
  static absl::StatusOr<Sm2PublicKey> FromEvp(EVP_PKEY* pkey);

  Sm2PublicKey(const Sm2PublicKey&);
  Sm2PublicKey& operator=(const Sm2PublicKey&);
  Sm2PublicKey(Sm2PublicKey&&) noexcept = default;
  Sm2PublicKey& operator=(Sm2PublicKey&&) noexcept = default;

  std::string ToPem() const;
  Bytes ToDer() const;
  // SM3 of the DER SubjectPublicKeyInfo: a stable key fingerprint.
  Bytes Fingerprint() const;

  // OK if `signature` (DER SM2 signature over SM3(Z_id || msg)) is valid;
  // UNAUTHENTICATED otherwise, INVALID_ARGUMENT if it is not DER at all.
  absl::Status Verify(ByteView msg, ByteView signature, std::string_view id = kDefaultSm2Id) const;
  // GB/T 32918.4 encryption, C1C3C2 in the ASN.1 form OpenSSL uses.
  absl::StatusOr<Bytes> Encrypt(ByteView plaintext) const;

  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  friend class Sm2PrivateKey;
  explicit Sm2PublicKey(internal::PkeyPtr p) : pkey_(std::move(p)) {}
  internal::PkeyPtr pkey_;
};

class Sm2PrivateKey {
 public:
  static absl::StatusOr<Sm2PrivateKey> Generate();
  static absl::StatusOr<Sm2PrivateKey> FromPem(std::string_view pem);

  Sm2PrivateKey(const Sm2PrivateKey&);
  Sm2PrivateKey& operator=(const Sm2PrivateKey&);
  Sm2PrivateKey(Sm2PrivateKey&&) noexcept = default;
  Sm2PrivateKey& operator=(Sm2PrivateKey&&) noexcept = default;

  // Unencrypted PKCS#8 PEM; callers write it with mode 0600.
  std::string ToPem() const;
  Sm2PublicKey PublicKey() const;

  // DER-encoded SM2 signature with SM3 and the given distinguishing ID.
  absl::StatusOr<Bytes> Sign(ByteView msg, std::string_view id = kDefaultSm2Id) const;
  // DATA_LOSS if the ciphertext does not decrypt.
  absl::StatusOr<Bytes> Decrypt(ByteView ciphertext) const;

  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  explicit Sm2PrivateKey(internal::PkeyPtr p) : pkey_(std::move(p)) {}
  internal::PkeyPtr pkey_;
};

// An ephemeral key for ECDH on the SM2 curve. OpenSSL 3.0 lacks the GB/T
// 32918.3 exchange protocol, so the secure channel runs ECDH on the SM2 curve
// and authenticates it with SM2 signatures over the transcript.
class Sm2KeyShare {
 public:
  static absl::StatusOr<Sm2KeyShare> Generate();
  // Restores a share written by ToPrivatePem (unencrypted PKCS#8 PEM), so a
  // long-lived epoch share survives a restart. INVALID_ARGUMENT if the PEM is
  // not a private key on the SM2 curve.
  static absl::StatusOr<Sm2KeyShare> FromPrivatePem(std::string_view pem);
  // Unencrypted PKCS#8 PEM; callers write it with mode 0600.
  absl::StatusOr<std::string> ToPrivatePem() const;
  Sm2KeyShare(Sm2KeyShare&&) noexcept = default;
  Sm2KeyShare& operator=(Sm2KeyShare&&) noexcept = default;

  // Uncompressed public point, 65 bytes.
  const Bytes& public_point() const { return point_; }
  // The 32-byte x-coordinate of the shared point. INVALID_ARGUMENT if the peer
  // point is malformed or not on the curve.
  absl::StatusOr<Bytes> Derive(ByteView peer_point) const;

 private:
  Sm2KeyShare(internal::PkeyPtr p, Bytes point) : pkey_(std::move(p)), point_(std::move(point)) {}
  internal::PkeyPtr pkey_;
  Bytes point_;
};

// Drains OpenSSL's thread-local error queue into one line (empty if none).
std::string DrainOpenSslErrors();

}  // namespace beibu::crypto
