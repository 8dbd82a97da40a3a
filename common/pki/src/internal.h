// Private helpers shared by the PKI sources: RAII owners for OpenSSL objects,
// SM2-with-SM3 signing of X.509 structures, and name/serial/time conversions.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/pki/certificate.h"

namespace beibu::pki::internal {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
inline void FreeBio(BIO* b) { BIO_free(b); }
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, FreeBio>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;
using OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// INTERNAL "<what>: <OpenSSL's error queue>"; drains the queue.
absl::Status OpenSslError(std::string_view what);

// A read-only memory BIO over `data` (which must outlive it).
BioPtr MemBio(std::string_view data);
// Everything written to a memory BIO.
std::string BioContents(BIO* bio);

// One PEM block: its label ("CERTIFICATE", "X509 CRL", ...) and DER body.
struct PemBlock {
  std::string label;
  Bytes der;
};
// Every PEM block in `pem`, in order. INVALID_ARGUMENT if a block is
// malformed (bad base64, missing END line); an empty vector if there is none.
absl::StatusOr<std::vector<PemBlock>> ReadPemBlocks(std::string_view pem);
// Wraps DER in a PEM block with `label`.
std::string WritePem(std::string_view label, ByteView der);

// Signs with SM2-with-SM3 under the standard distinguishing ID. OpenSSL 3.0
// signs and verifies SM2 with an *empty* ID unless one is set, which no other
// SM2 implementation (GmSSL, Tongsuo, BouncyCastle, national CAs) does.
absl::Status SignX509(X509* x, EVP_PKEY* key);
absl::Status SignReq(X509_REQ* req, EVP_PKEY* key);
absl::Status SignCrl(X509_CRL* crl, EVP_PKEY* key);

// Attaches the standard distinguishing ID to an SM2-with-SM3 certificate or
// request so that X509_verify / X509_REQ_verify / X509_verify_cert check its
// signature the way the signer made it. No-op for other algorithms.
void AttachSm2Id(X509* x);
void AttachSm2Id(X509_REQ* req);
// OK if `crl` carries a valid SM2-with-SM3 signature by `issuer_key`.
// OpenSSL 3.0 has no distinguishing-ID slot on X509_CRL, so the signature is
// checked over the re-encoded TBS with the crypto library's SM2 verifier.
absl::Status VerifyCrlSignature(X509_CRL* crl, EVP_PKEY* issuer_key);

// Lowercase hex of a non-negative serial without leading zero bytes.
std::string SerialToHex(const ASN1_INTEGER* serial);
// INVALID_ARGUMENT on anything but a non-empty hex string.
absl::StatusOr<Asn1IntegerPtr> SerialFromHex(std::string_view hex);
// A random positive 128-bit serial (RFC 5280 asks for unpredictable serials).
absl::StatusOr<Asn1IntegerPtr> RandomSerial();

Clock::time_point FromAsn1Time(const ASN1_TIME* t);
// Seconds precision, UTC; "2025-01-31T12:00:00Z".
std::string FormatTime(Clock::time_point t);
// Sets `t` to `when` (UTCTime before 2050, GeneralizedTime after).
absl::Status SetAsn1Time(ASN1_TIME* t, Clock::time_point when);

// "C=VN, O=Acme, OU=edge, CN=edge-vn": RFC 2253 escaping, UTF-8 kept as is.
std::string NameLine(const X509_NAME* name);

// The subject name of `identity`: C, O (if any), OU=role, CN=id, in that
// order. INVALID_ARGUMENT, saying which field, when the identity is unfit.
// For a request, an empty id or country is left out instead of refused.
enum class NameUse { kCertificate, kRequest };
absl::StatusOr<X509NamePtr> SubjectName(const Identity& identity, NameUse use);

// The key identifier Beibu puts in subjectKeyIdentifier: the first 20 bytes
// of SM3 over the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1, with the
// national hash in place of SHA-1).
Bytes KeyIdentifier(X509_PUBKEY* pubkey);

}  // namespace beibu::pki::internal
