#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/certificate.h"
#include "internal.h"

namespace beibu::pki {

void RevocationList::CrlDeleter::operator()(X509_CRL* c) const { X509_CRL_free(c); }

// Like certificates, CRLs are never modified once built: copies share.
RevocationList::RevocationList(const RevocationList& other) : crl_(other.crl_.get()) {
  if (crl_) X509_CRL_up_ref(crl_.get());
}

RevocationList& RevocationList::operator=(const RevocationList& other) {
  if (this != &other) {
    if (other.crl_) X509_CRL_up_ref(other.crl_.get());
    crl_.reset(other.crl_.get());
  }
  return *this;
}

RevocationList::~RevocationList() = default;

absl::StatusOr<RevocationList> RevocationList::FromPem(std::string_view pem) {
  absl::StatusOr<std::vector<internal::PemBlock>> blocks = internal::ReadPemBlocks(pem);
  if (!blocks.ok()) return blocks.status();
  for (const internal::PemBlock& block : *blocks) {
    if (block.label != PEM_STRING_X509_CRL) continue;
    const unsigned char* in = block.der.data();
    X509_CRL* raw = d2i_X509_CRL(nullptr, &in, static_cast<long>(block.der.size()));
    RevocationList crl(raw);
    if (raw == nullptr || in != block.der.data() + block.der.size()) {
      crypto::DrainOpenSslErrors();
      return absl::InvalidArgumentError("the X509 CRL block does not hold a DER X.509 CRL");
    }
    return crl;
  }
  return absl::InvalidArgumentError("no CRL in the PEM text (expected -----BEGIN X509 CRL-----)");
}

std::string RevocationList::ToPem() const {
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_CRL(bio.get(), crl_.get());
  return internal::BioContents(bio.get());
}

std::string RevocationList::IssuerLine() const {
  return internal::NameLine(X509_CRL_get_issuer(crl_.get()));
}

uint64_t RevocationList::Number() const {
  int crit = 0;
  auto* number =
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl_.get(), NID_crl_number, &crit, nullptr));
  if (number == nullptr) return 0;  // a CRL without a number is the oldest possible
  uint64_t value = 0;
  if (ASN1_INTEGER_get_uint64(&value, number) != 1) value = 0;
  ASN1_INTEGER_free(number);
  crypto::DrainOpenSslErrors();
  return value;
}

std::vector<RevokedEntry> RevocationList::Entries() const {
  std::vector<RevokedEntry> entries;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    entries.push_back(RevokedEntry{internal::SerialToHex(X509_REVOKED_get0_serialNumber(r)),
                                   internal::FromAsn1Time(X509_REVOKED_get0_revocationDate(r))});
  }
  return entries;
}

bool RevocationList::IsRevoked(std::string_view serial_hex) const {
  absl::StatusOr<internal::Asn1IntegerPtr> serial = internal::SerialFromHex(serial_hex);
  if (!serial.ok()) return false;
  X509_REVOKED* entry = nullptr;
  // 1: listed; 2: listed as removeFromCRL (a delta CRL un-revoking it).
  return X509_CRL_get0_by_serial(crl_.get(), &entry, serial->get()) == 1;
}

}  // namespace beibu::pki
