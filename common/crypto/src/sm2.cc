#include "beibu/crypto/sm2.h"

// The legacy EC_KEY API is used only for shares restored from PEM; see
// Sm2KeyShare::Derive.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "internal.h"

namespace beibu::crypto {
namespace internal {
void PkeyDeleter::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
}  // namespace internal

namespace {

using internal::OpenSslError;
using internal::PkeyPtr;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? len : 0);
}

absl::Status RequireSm2(EVP_PKEY* pkey, std::string_view what) {
  if (pkey == nullptr)
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": no key"));
  if (!EVP_PKEY_is_a(pkey, "SM2")) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": key is ", EVP_PKEY_get0_type_name(pkey),
                     ", not SM2 (generate one with `openssl genpkey -algorithm SM2`)"));
  }
  return absl::OkStatus();
}

// A pem_password_cb that supplies no pass phrase. Passing nullptr instead
// makes OpenSSL prompt on the controlling terminal for encrypted keys, which
// would hang a server and surprise a CLI user.
int NoPassphrase(char* buf, int size, int rwflag, void* userdata) { return -1; }

PkeyPtr UpRef(EVP_PKEY* p) {
  EVP_PKEY_up_ref(p);
  return PkeyPtr(p);
}

// An EVP_MD_CTX set up for SM2-with-SM3 under `id`. The pkey ctx is owned by
// the caller (EVP_MD_CTX_set_pkey_ctx does not take ownership).
struct SignCtx {
  MdCtxPtr md;
  PkeyCtxPtr pkey;
};

absl::StatusOr<SignCtx> MakeSignCtx(EVP_PKEY* key, std::string_view id) {
  SignCtx c{MdCtxPtr(EVP_MD_CTX_new()),
            PkeyCtxPtr(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr))};
  if (!c.md || !c.pkey || EVP_PKEY_CTX_set1_id(c.pkey.get(), id.data(), id.size()) != 1) {
    return OpenSslError("SM2 context setup failed");
  }
  EVP_MD_CTX_set_pkey_ctx(c.md.get(), c.pkey.get());
  return c;
}

}  // namespace

// --- Sm2PublicKey -----------------------------------------------------------

Sm2PublicKey::Sm2PublicKey(const Sm2PublicKey& o) : pkey_(UpRef(o.pkey_.get())) {}
Sm2PublicKey& Sm2PublicKey::operator=(const Sm2PublicKey& o) {
  if (this != &o) pkey_ = UpRef(o.pkey_.get());
  return *this;
}

absl::StatusOr<Sm2PublicKey> Sm2PublicKey::FromPem(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  PkeyPtr p(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!p) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
  }
  if (absl::Status s = RequireSm2(p.get(), "public key"); !s.ok()) return s;
  return Sm2PublicKey(std::move(p));
}

absl::StatusOr<Sm2PublicKey> Sm2PublicKey::FromDer(ByteView der) {
  const unsigned char* in = der.data();
  PkeyPtr p(d2i_PUBKEY(nullptr, &in, static_cast<long>(der.size())));
  if (!p || in != der.data() + der.size()) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("not a DER SubjectPublicKeyInfo");
  }
  if (absl::Status s = RequireSm2(p.get(), "public key"); !s.ok()) return s;
  return Sm2PublicKey(std::move(p));
}

absl::StatusOr<Sm2PublicKey> Sm2PublicKey::FromEvp(EVP_PKEY* pkey) {
  if (absl::Status s = RequireSm2(pkey, "public key"); !s.ok()) return s;
  return Sm2PublicKey(UpRef(pkey));
}

std::string Sm2PublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), pkey_.get());
  return BioContents(bio.get());
}

Bytes Sm2PublicKey::ToDer() const {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey_.get(), &der);
  Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

Bytes Sm2PublicKey::Fingerprint() const {
  Sm3Digest d = Sm3::Hash(ToDer());
  return Bytes(d.begin(), d.end());
}

absl::Status Sm2PublicKey::Verify(ByteView msg, ByteView signature, std::string_view id) const {
  absl::StatusOr<SignCtx> c = MakeSignCtx(pkey_.get(), id);
  if (!c.ok()) return c.status();
  if (EVP_DigestVerifyInit_ex(c->md.get(), nullptr, "SM3", nullptr, nullptr, pkey_.get(),
                              nullptr) != 1) {
    return OpenSslError("SM2 verify init failed");
  }
  int rc =
      EVP_DigestVerify(c->md.get(), signature.data(), signature.size(), msg.data(), msg.size());
  DrainOpenSslErrors();
  if (rc == 1) return absl::OkStatus();
  if (rc == 0) return absl::UnauthenticatedError("SM2 signature does not verify");
  return absl::InvalidArgumentError("SM2 signature is malformed (expected DER SEQUENCE of r, s)");
}

absl::StatusOr<Bytes> Sm2PublicKey::Encrypt(ByteView plaintext) const {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plaintext.data(), plaintext.size()) != 1) {
    return OpenSslError("SM2 encrypt init failed");
  }
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(), plaintext.size()) != 1) {
    return OpenSslError("SM2 encrypt failed");
  }
  out.resize(len);
  return out;
}

// --- Sm2PrivateKey ----------------------------------------------------------

Sm2PrivateKey::Sm2PrivateKey(const Sm2PrivateKey& o) : pkey_(UpRef(o.pkey_.get())) {}
Sm2PrivateKey& Sm2PrivateKey::operator=(const Sm2PrivateKey& o) {
  if (this != &o) pkey_ = UpRef(o.pkey_.get());
  return *this;
}

absl::StatusOr<Sm2PrivateKey> Sm2PrivateKey::Generate() {
  PkeyPtr p(EVP_PKEY_Q_keygen(nullptr, nullptr, "SM2"));
  if (!p) return OpenSslError("SM2 key generation failed");
  return Sm2PrivateKey(std::move(p));
}

absl::StatusOr<Sm2PrivateKey> Sm2PrivateKey::FromPem(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  PkeyPtr p(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!p) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError(
        "not an unencrypted PEM private key (expected -----BEGIN PRIVATE KEY-----; decrypt an "
        "encrypted key with `openssl pkey -in KEY -out PLAIN`)");
  }
  if (absl::Status s = RequireSm2(p.get(), "private key"); !s.ok()) return s;
  return Sm2PrivateKey(std::move(p));
}

std::string Sm2PrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return BioContents(bio.get());
}

Sm2PublicKey Sm2PrivateKey::PublicKey() const {
  // Re-encode so the public object holds no private material.
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey_.get(), &der);
  const unsigned char* in = der;
  PkeyPtr p(d2i_PUBKEY(nullptr, &in, len));
  OPENSSL_free(der);
  return Sm2PublicKey(std::move(p));
}

absl::StatusOr<Bytes> Sm2PrivateKey::Sign(ByteView msg, std::string_view id) const {
  absl::StatusOr<SignCtx> c = MakeSignCtx(pkey_.get(), id);
  if (!c.ok()) return c.status();
  size_t len = 0;
  if (EVP_DigestSignInit_ex(c->md.get(), nullptr, "SM3", nullptr, nullptr, pkey_.get(), nullptr) !=
          1 ||
      EVP_DigestSign(c->md.get(), nullptr, &len, msg.data(), msg.size()) != 1) {
    return OpenSslError("SM2 sign init failed");
  }
  Bytes sig(len);
  if (EVP_DigestSign(c->md.get(), sig.data(), &len, msg.data(), msg.size()) != 1) {
    return OpenSslError("SM2 sign failed");
  }
  sig.resize(len);
  return sig;
}

absl::StatusOr<Bytes> Sm2PrivateKey::Decrypt(ByteView ciphertext) const {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1) return OpenSslError("SM2 decrypt init failed");
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ciphertext.data(), ciphertext.size()) != 1) {
    DrainOpenSslErrors();
    return absl::DataLossError("SM2 ciphertext is malformed");
  }
  Bytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) != 1) {
    DrainOpenSslErrors();
    return absl::DataLossError("SM2 ciphertext does not decrypt with this key");
  }
  out.resize(len);
  return out;
}

// --- Sm2KeyShare ------------------------------------------------------------

absl::StatusOr<Sm2KeyShare> Sm2KeyShare::Generate() {
  // An "EC" key on the SM2 curve: OpenSSL 3.0 refuses derive on "SM2" keys.
  PkeyPtr p(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "SM2"));
  if (!p) return OpenSslError("SM2-curve key share generation failed");
  Bytes point(kSm2PointSize);
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(p.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                      point.size(), &len) != 1 ||
      len != kSm2PointSize) {
    return OpenSslError("SM2-curve key share encoding failed");
  }
  return Sm2KeyShare(std::move(p), std::move(point));
}

absl::StatusOr<Sm2KeyShare> Sm2KeyShare::FromPrivatePem(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  PkeyPtr p(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!p) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError(
        "key share is not an unencrypted PEM private key (expected -----BEGIN PRIVATE KEY-----)");
  }
  // OpenSSL 3.0 decodes any key on the SM2 curve as an "SM2" key, whatever
  // type wrote it; Derive copes with that.
  if (!EVP_PKEY_is_a(p.get(), "SM2")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key share is ", EVP_PKEY_get0_type_name(p.get()), ", not a key on the SM2 curve"));
  }
  Bytes point(kSm2PointSize);
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(p.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                      point.size(), &len) != 1 ||
      len != kSm2PointSize) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("key share PEM carries no public point");
  }
  return Sm2KeyShare(std::move(p), std::move(point));
}

absl::StatusOr<std::string> Sm2KeyShare::ToPrivatePem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return OpenSslError("key share PEM encoding failed");
  }
  return BioContents(bio.get());
}

namespace {

struct EcKeyDeleter {
  void operator()(EC_KEY* k) const { EC_KEY_free(k); }
};
struct EcPointDeleter {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};

// ECDH for a share restored from PEM. OpenSSL 3.0 loads it as an "SM2" key,
// which has no key-exchange operation, and its "EC" key manager refuses to
// import anything on the SM2 curve; the legacy EC_KEY ECDH is the one OpenSSL
// path left. The result is the same x-coordinate the EVP path yields.
absl::StatusOr<Bytes> LegacyEcdh(EVP_PKEY* own, ByteView peer_point) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(own, OSSL_PKEY_PARAM_PRIV_KEY, &raw) != 1) {
    return OpenSslError("key share has no private scalar");
  }
  std::unique_ptr<BIGNUM, BnDeleter> priv(raw);
  std::unique_ptr<EC_KEY, EcKeyDeleter> key(EC_KEY_new_by_curve_name(NID_sm2));
  if (!key || EC_KEY_set_private_key(key.get(), priv.get()) != 1) {
    return OpenSslError("SM2-curve key setup failed");
  }
  const EC_GROUP* group = EC_KEY_get0_group(key.get());
  std::unique_ptr<EC_POINT, EcPointDeleter> peer(EC_POINT_new(group));
  if (!peer ||
      EC_POINT_oct2point(group, peer.get(), peer_point.data(), peer_point.size(), nullptr) != 1 ||
      EC_POINT_is_at_infinity(group, peer.get()) ||
      EC_POINT_is_on_curve(group, peer.get(), nullptr) != 1) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("key share is not a point on the SM2 curve");
  }
  Bytes secret(32);
  int n = ECDH_compute_key(secret.data(), secret.size(), peer.get(), key.get(), nullptr);
  if (n != 32) return OpenSslError("SM2-curve ECDH failed");
  return secret;
}

}  // namespace

absl::StatusOr<Bytes> Sm2KeyShare::Derive(ByteView peer_point) const {
  if (peer_point.size() != kSm2PointSize || peer_point[0] != 0x04) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key share must be a 65-byte uncompressed point, got ", peer_point.size(), " bytes"));
  }
  if (EVP_PKEY_is_a(pkey_.get(), "SM2")) return LegacyEcdh(pkey_.get(), peer_point);
  // The peer key is built the way libssl builds ECDHE peers: our own domain
  // parameters plus the encoded point. EVP_PKEY_fromdata cannot be used: the
  // "EC" key manager of OpenSSL 3.0 refuses to import anything on the SM2
  // curve, and an "SM2" key cannot be the peer of an "EC" derive.
  PkeyPtr peer(EVP_PKEY_new());
  if (!peer || EVP_PKEY_copy_parameters(peer.get(), pkey_.get()) != 1) {
    return OpenSslError("SM2-curve peer key setup failed");
  }
  if (EVP_PKEY_set1_encoded_public_key(peer.get(), peer_point.data(), peer_point.size()) != 1) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("key share is not a point on the SM2 curve");
  }
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, peer.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("key share fails the SM2 curve public-key check");
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
    return OpenSslError("SM2-curve ECDH setup failed");
  }
  Bytes secret(len);
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1) {
    return OpenSslError("SM2-curve ECDH failed");
  }
  secret.resize(len);
  return secret;
}

}  // namespace beibu::crypto
