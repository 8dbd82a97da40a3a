// SM2-with-SM3 X.509 certificates, requests and revocation lists. Every object
// reads and writes standard PEM that `openssl x509|req|crl` understands.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/identity.h"

typedef struct x509_st X509;
typedef struct X509_req_st X509_REQ;
typedef struct X509_crl_st X509_CRL;

namespace beibu::pki {

using Clock = std::chrono::system_clock;

class Certificate {
 public:
  static absl::StatusOr<Certificate> FromPem(std::string_view pem);
  // Every certificate in a PEM file, in order (leaf first for a chain).
  static absl::StatusOr<std::vector<Certificate>> AllFromPem(std::string_view pem);
  static absl::StatusOr<Certificate> FromDer(ByteView der);

  Certificate(const Certificate&);
  Certificate& operator=(const Certificate&);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;
  ~Certificate();

  std::string ToPem() const;
  Bytes ToDer() const;
  // SM3 over the DER encoding, lowercase hex.
  std::string FingerprintHex() const;

  // The subject as an Identity. INVALID_ARGUMENT if the subject lacks a CN,
  // OU naming a known role, or a valid C.
  absl::StatusOr<Identity> GetIdentity() const;
  std::string SubjectLine() const;  // one-line subject, "C=VN, OU=edge, CN=edge-vn"
  std::string IssuerLine() const;
  std::string SerialHex() const;
  Clock::time_point NotBefore() const;
  Clock::time_point NotAfter() const;
  bool IsCa() const;
  absl::StatusOr<crypto::Sm2PublicKey> PublicKey() const;

  // Human-readable summary for `beibu pki show`: subject, issuer, serial,
  // validity, role, key fingerprint, SM3 fingerprint.
  std::string Summary() const;

  X509* x509() const { return x509_.get(); }

 private:
  struct X509Deleter {
    void operator()(X509* x) const;
  };
  explicit Certificate(X509* x) : x509_(x) {}
  std::unique_ptr<X509, X509Deleter> x509_;
  friend class CertificateAuthority;
  friend class TrustBundle;
};

// A PKCS#10 request: the subject's public key and requested name, signed with
// the subject's own key (proof of possession). Join tokens bind the identity;
// the CA ignores the requested name and uses the token's.
class CertificateRequest {
 public:
  static absl::StatusOr<CertificateRequest> Create(const crypto::Sm2PrivateKey& key,
                                                   const Identity& requested);
  static absl::StatusOr<CertificateRequest> FromDer(ByteView der);
  static absl::StatusOr<CertificateRequest> FromPem(std::string_view pem);

  CertificateRequest(CertificateRequest&&) noexcept = default;
  CertificateRequest& operator=(CertificateRequest&&) noexcept = default;
  ~CertificateRequest();

  Bytes ToDer() const;
  std::string ToPem() const;
  // OK if the self-signature is valid SM2-with-SM3; UNAUTHENTICATED otherwise.
  absl::Status VerifySelfSignature() const;
  absl::StatusOr<crypto::Sm2PublicKey> PublicKey() const;

 private:
  struct ReqDeleter {
    void operator()(X509_REQ* r) const;
  };
  explicit CertificateRequest(X509_REQ* r) : req_(r) {}
  std::unique_ptr<X509_REQ, ReqDeleter> req_;
  friend class CertificateAuthority;
};

struct RevokedEntry {
  std::string serial_hex;
  Clock::time_point revoked_at;
};

// An X.509 v2 CRL signed by a CA.
class RevocationList {
 public:
  static absl::StatusOr<RevocationList> FromPem(std::string_view pem);

  RevocationList(const RevocationList&);
  RevocationList& operator=(const RevocationList&);
  RevocationList(RevocationList&&) noexcept = default;
  RevocationList& operator=(RevocationList&&) noexcept = default;
  ~RevocationList();

  std::string ToPem() const;
  std::string IssuerLine() const;
  // CRL number extension (monotonic version of the list).
  uint64_t Number() const;
  std::vector<RevokedEntry> Entries() const;
  bool IsRevoked(std::string_view serial_hex) const;

  X509_CRL* crl() const { return crl_.get(); }

 private:
  struct CrlDeleter {
    void operator()(X509_CRL* c) const;
  };
  explicit RevocationList(X509_CRL* c) : crl_(c) {}
  std::unique_ptr<X509_CRL, CrlDeleter> crl_;
  friend class CertificateAuthority;
};

}  // namespace beibu::pki
