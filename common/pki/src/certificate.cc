#include "beibu/pki/certificate.h"

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm2.h"
#include "beibu/crypto/sm3.h"
#include "internal.h"

namespace beibu::pki {
namespace {

using internal::BioPtr;

// The UTF-8 value of the one entry of `nid` in `name`: empty if there is
// none, INVALID_ARGUMENT if there are several (ambiguous identity).
absl::StatusOr<std::string> SingleEntry(const X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return std::string();
  if (X509_NAME_get_index_by_NID(name, nid, index) >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject has more than one ", OBJ_nid2sn(nid), "; a Beibu identity has one"));
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    crypto::DrainOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("subject ", OBJ_nid2sn(nid), " is not a valid string"));
  }
  std::string out(reinterpret_cast<char*>(utf8), len);
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

// --- Certificate ------------------------------------------------------------

void Certificate::X509Deleter::operator()(X509* x) const { X509_free(x); }

// X509 objects are never modified once built, so copies share one by
// reference count.
Certificate::Certificate(const Certificate& other) : x509_(other.x509_.get()) {
  if (x509_) X509_up_ref(x509_.get());
}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    if (other.x509_) X509_up_ref(other.x509_.get());
    x509_.reset(other.x509_.get());
  }
  return *this;
}

Certificate::~Certificate() = default;

absl::StatusOr<Certificate> Certificate::FromPem(std::string_view pem) {
  absl::StatusOr<std::vector<Certificate>> all = AllFromPem(pem);
  if (!all.ok()) return all.status();
  return std::move(all->front());
}

absl::StatusOr<std::vector<Certificate>> Certificate::AllFromPem(std::string_view pem) {
  absl::StatusOr<std::vector<internal::PemBlock>> blocks = internal::ReadPemBlocks(pem);
  if (!blocks.ok()) return blocks.status();
  std::vector<Certificate> certs;
  for (const internal::PemBlock& block : *blocks) {
    // Keys or CRLs next to the certificates (a chain file, a bundle) are not
    // this function's business.
    if (block.label != PEM_STRING_X509 && block.label != PEM_STRING_X509_OLD) continue;
    absl::StatusOr<Certificate> cert = FromDer(block.der);
    if (!cert.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "certificate #", certs.size() + 1, " in the PEM text: ", cert.status().message()));
    }
    certs.push_back(*std::move(cert));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        "no certificate in the PEM text (expected -----BEGIN CERTIFICATE-----)");
  }
  return certs;
}

absl::StatusOr<Certificate> Certificate::FromDer(ByteView der) {
  const unsigned char* in = der.data();
  X509* raw = d2i_X509(nullptr, &in, static_cast<long>(der.size()));
  Certificate cert(raw);
  if (raw == nullptr || in != der.data() + der.size()) {
    crypto::DrainOpenSslErrors();
    return absl::InvalidArgumentError("not a DER X.509 certificate");
  }
  internal::AttachSm2Id(raw);
  return cert;
}

std::string Certificate::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x509_.get());
  return internal::BioContents(bio.get());
}

Bytes Certificate::ToDer() const {
  unsigned char* der = nullptr;
  int len = i2d_X509(x509_.get(), &der);
  Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

std::string Certificate::FingerprintHex() const {
  crypto::Sm3Digest d = crypto::Sm3::Hash(ToDer());
  return HexEncode(d);
}

absl::StatusOr<Identity> Certificate::GetIdentity() const {
  const X509_NAME* subject = X509_get_subject_name(x509_.get());
  absl::StatusOr<std::string> cn = SingleEntry(subject, NID_commonName);
  absl::StatusOr<std::string> ou = SingleEntry(subject, NID_organizationalUnitName);
  absl::StatusOr<std::string> c = SingleEntry(subject, NID_countryName);
  absl::StatusOr<std::string> o = SingleEntry(subject, NID_organizationName);
  for (const auto* s : {&cn, &ou, &c, &o}) {
    if (!s->ok()) return s->status();
  }
  std::string subject_line = SubjectLine();
  if (cn->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate subject \"", subject_line, "\" has no CN (the identity's id)"));
  }
  std::optional<Role> role = ParseRole(*ou);
  if (!role) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate subject \"", subject_line,
        "\" names no Beibu role in OU (expected hub, edge, enterprise, officer, regulator or "
        "operator)"));
  }
  if (!IsCountryCode(*c)) {
    return absl::InvalidArgumentError(absl::StrCat("certificate subject \"", subject_line,
                                                   "\" has no ISO 3166 alpha-2 country in C"));
  }
  Identity id;
  id.id = *std::move(cn);
  id.role = *role;
  id.country = *std::move(c);
  id.organization = *std::move(o);
  id.serial_hex = SerialHex();
  id.issuer = IssuerLine();
  return id;
}

std::string Certificate::SubjectLine() const {
  return internal::NameLine(X509_get_subject_name(x509_.get()));
}

std::string Certificate::IssuerLine() const {
  return internal::NameLine(X509_get_issuer_name(x509_.get()));
}

std::string Certificate::SerialHex() const {
  return internal::SerialToHex(X509_get0_serialNumber(x509_.get()));
}

Clock::time_point Certificate::NotBefore() const {
  return internal::FromAsn1Time(X509_get0_notBefore(x509_.get()));
}

Clock::time_point Certificate::NotAfter() const {
  return internal::FromAsn1Time(X509_get0_notAfter(x509_.get()));
}

bool Certificate::IsCa() const { return (X509_get_extension_flags(x509_.get()) & EXFLAG_CA) != 0; }

absl::StatusOr<crypto::Sm2PublicKey> Certificate::PublicKey() const {
  EVP_PKEY* pkey = X509_get0_pubkey(x509_.get());
  if (pkey == nullptr) {
    crypto::DrainOpenSslErrors();
    return absl::InvalidArgumentError("certificate public key cannot be decoded");
  }
  return crypto::Sm2PublicKey::FromEvp(pkey);
}

std::string Certificate::Summary() const {
  std::string role;
  if (absl::StatusOr<Identity> id = GetIdentity(); id.ok()) {
    role = std::string(RoleName(id->role));
  } else if (IsCa()) {
    role = "certificate authority";
  } else {
    role = "(none: not a Beibu identity)";
  }
  std::string key_fp;
  if (absl::StatusOr<crypto::Sm2PublicKey> key = PublicKey(); key.ok()) {
    key_fp = HexEncode(key->Fingerprint());
  } else {
    key_fp = "(not an SM2 key)";
  }
  int sig_nid = X509_get_signature_nid(x509_.get());
  return absl::StrCat(
      "subject:         ", SubjectLine(), "\n", "issuer:          ", IssuerLine(), "\n",
      "serial:          ", SerialHex(), "\n",
      "not before:      ", internal::FormatTime(NotBefore()), "\n",
      "not after:       ", internal::FormatTime(NotAfter()), "\n", "role:            ", role, "\n",
      "ca:              ", IsCa() ? "yes" : "no", "\n",
      "signature:       ", sig_nid == NID_undef ? "unknown" : OBJ_nid2ln(sig_nid), "\n",
      "key sm3:         ", key_fp, "\n", "fingerprint sm3: ", FingerprintHex(), "\n");
}

// --- CertificateRequest -----------------------------------------------------

void CertificateRequest::ReqDeleter::operator()(X509_REQ* r) const { X509_REQ_free(r); }

CertificateRequest::~CertificateRequest() = default;

absl::StatusOr<CertificateRequest> CertificateRequest::Create(const crypto::Sm2PrivateKey& key,
                                                              const Identity& requested) {
  absl::StatusOr<internal::X509NamePtr> name =
      internal::SubjectName(requested, internal::NameUse::kRequest);
  if (!name.ok()) return name.status();
  internal::X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||  // v1, the only PKCS#10 version
      X509_REQ_set_subject_name(req.get(), name->get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.evp()) != 1) {
    return internal::OpenSslError("building certificate request");
  }
  if (absl::Status s = internal::SignReq(req.get(), key.evp()); !s.ok()) return s;
  // Round-trip through DER so the object is exactly what a peer will parse.
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return internal::OpenSslError("encoding certificate request");
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  return FromDer(bytes);
}

absl::StatusOr<CertificateRequest> CertificateRequest::FromDer(ByteView der) {
  const unsigned char* in = der.data();
  X509_REQ* raw = d2i_X509_REQ(nullptr, &in, static_cast<long>(der.size()));
  CertificateRequest req(raw);
  if (raw == nullptr || in != der.data() + der.size()) {
    crypto::DrainOpenSslErrors();
    return absl::InvalidArgumentError("not a DER PKCS#10 certificate request");
  }
  internal::AttachSm2Id(raw);
  return req;
}

absl::StatusOr<CertificateRequest> CertificateRequest::FromPem(std::string_view pem) {
  absl::StatusOr<std::vector<internal::PemBlock>> blocks = internal::ReadPemBlocks(pem);
  if (!blocks.ok()) return blocks.status();
  for (const internal::PemBlock& block : *blocks) {
    if (block.label == PEM_STRING_X509_REQ || block.label == PEM_STRING_X509_REQ_OLD) {
      return FromDer(block.der);
    }
  }
  return absl::InvalidArgumentError(
      "no certificate request in the PEM text (expected -----BEGIN CERTIFICATE REQUEST-----)");
}

Bytes CertificateRequest::ToDer() const {
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req_.get(), &der);
  Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

std::string CertificateRequest::ToPem() const {
  return internal::WritePem(PEM_STRING_X509_REQ, ToDer());
}

absl::Status CertificateRequest::VerifySelfSignature() const {
  int nid = X509_REQ_get_signature_nid(req_.get());
  if (nid != NID_SM2_with_SM3) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate request is signed with ",
        nid == NID_undef ? "an unknown algorithm" : OBJ_nid2ln(nid), ", not SM2-with-SM3"));
  }
  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req_.get());
  int rc = pkey == nullptr ? -1 : X509_REQ_verify(req_.get(), pkey);
  crypto::DrainOpenSslErrors();
  if (rc != 1) {
    return absl::UnauthenticatedError(
        "certificate request self-signature does not verify: it was altered, or not signed by "
        "the key it carries");
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::Sm2PublicKey> CertificateRequest::PublicKey() const {
  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req_.get());
  if (pkey == nullptr) {
    crypto::DrainOpenSslErrors();
    return absl::InvalidArgumentError("certificate request public key cannot be decoded");
  }
  return crypto::Sm2PublicKey::FromEvp(pkey);
}

}  // namespace beibu::pki
