#include "beibu/pki/authority.h"

#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "internal.h"

namespace beibu::pki {
namespace {

using internal::OpenSslError;

using AkidPtr =
    std::unique_ptr<AUTHORITY_KEYID, internal::Deleter<AUTHORITY_KEYID, AUTHORITY_KEYID_free>>;

// What varies between a root and an end-entity certificate.
struct CertSpec {
  const X509_NAME* subject = nullptr;
  const X509_NAME* issuer = nullptr;
  EVP_PKEY* subject_key = nullptr;
  // The issuer's key identifier; empty for a self-signed root, which
  // names its own.
  Bytes authority_key_id;
  Clock::time_point not_before;
  std::chrono::seconds validity{};
  // (nid, OpenSSL config value) of the policy extensions.
  std::vector<std::pair<int, const char*>> extensions;
};

absl::Status CheckValidity(const IssueOptions& options) {
  if (options.validity <= std::chrono::seconds(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity must be positive, got ", options.validity.count(), " s"));
  }
  return absl::OkStatus();
}

absl::Status AddKeyIdentifiers(X509* x, const Bytes& authority_key_id) {
  Bytes ski = internal::KeyIdentifier(X509_get_X509_PUBKEY(x));
  internal::OctetStringPtr ski_os(ASN1_OCTET_STRING_new());
  if (ski.empty() || !ski_os ||
      ASN1_OCTET_STRING_set(ski_os.get(), ski.data(), static_cast<int>(ski.size())) != 1 ||
      X509_add1_ext_i2d(x, NID_subject_key_identifier, ski_os.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding subjectKeyIdentifier");
  }
  const Bytes& akid_value = authority_key_id.empty() ? ski : authority_key_id;
  AkidPtr akid(AUTHORITY_KEYID_new());
  if (!akid) return OpenSslError("allocating authorityKeyIdentifier");
  akid->keyid = ASN1_OCTET_STRING_new();
  if (akid->keyid == nullptr ||
      ASN1_OCTET_STRING_set(akid->keyid, akid_value.data(), static_cast<int>(akid_value.size())) !=
          1 ||
      X509_add1_ext_i2d(x, NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding authorityKeyIdentifier");
  }
  return absl::OkStatus();
}

absl::Status AddPolicyExtensions(X509* x, const CertSpec& spec) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : spec.extensions) {
    internal::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(x, ext.get(), -1) != 1) {
      return OpenSslError(absl::StrCat("adding ", OBJ_nid2sn(nid), " = ", value));
    }
  }
  return absl::OkStatus();
}

// Builds, signs and re-parses a v3 certificate.
absl::StatusOr<Certificate> BuildCertificate(const CertSpec& spec, EVP_PKEY* signing_key) {
  internal::X509Ptr x(X509_new());
  if (!x) return OpenSslError("allocating certificate");
  absl::StatusOr<internal::Asn1IntegerPtr> serial = internal::RandomSerial();
  if (!serial.ok()) return serial.status();
  if (X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(x.get(), serial->get()) != 1 ||
      X509_set_subject_name(x.get(), spec.subject) != 1 ||
      X509_set_issuer_name(x.get(), spec.issuer) != 1 ||
      X509_set_pubkey(x.get(), spec.subject_key) != 1) {
    return OpenSslError("building certificate");
  }
  if (absl::Status s = internal::SetAsn1Time(X509_getm_notBefore(x.get()), spec.not_before);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          internal::SetAsn1Time(X509_getm_notAfter(x.get()), spec.not_before + spec.validity);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = AddPolicyExtensions(x.get(), spec); !s.ok()) return s;
  if (absl::Status s = AddKeyIdentifiers(x.get(), spec.authority_key_id); !s.ok()) return s;
  if (absl::Status s = internal::SignX509(x.get(), signing_key); !s.ok()) return s;
  // Re-parse so the caller holds exactly what peers will see on the wire.
  unsigned char* der = nullptr;
  int len = i2d_X509(x.get(), &der);
  if (len <= 0) return OpenSslError("encoding certificate");
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  return Certificate::FromDer(bytes);
}

Clock::time_point NowSeconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(Clock::now());
}

}  // namespace

absl::StatusOr<CertificateAuthority> CertificateAuthority::CreateRoot(crypto::Sm2PrivateKey key,
                                                                      std::string_view name,
                                                                      std::string_view country,
                                                                      IssueOptions options) {
  if (absl::Status s = CheckValidity(options); !s.ok()) return s;
  if (name.empty()) return absl::InvalidArgumentError("the root CA needs a name (its CN)");
  if (!IsCountryCode(country)) {
    return absl::InvalidArgumentError(
        absl::StrCat("country \"", std::string(country),
                     "\" is not an ISO 3166-1 alpha-2 code (two upper-case letters, e.g. CN)"));
  }
  internal::X509NamePtr subject(X509_NAME_new());
  const std::pair<int, std::string> fields[] = {{NID_countryName, std::string(country)},
                                                {NID_organizationName, "Beibu"},
                                                {NID_commonName, std::string(name)}};
  for (const auto& [nid, value] : fields) {
    if (!subject || X509_NAME_add_entry_by_NID(subject.get(), nid, MBSTRING_UTF8,
                                               reinterpret_cast<const unsigned char*>(value.data()),
                                               static_cast<int>(value.size()), -1, 0) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("cannot use \"", value, "\" as ",
                                                     OBJ_nid2sn(nid),
                                                     " (CN is at most 64 "
                                                     "characters): ",
                                                     crypto::DrainOpenSslErrors()));
    }
  }
  CertSpec spec;
  spec.subject = subject.get();
  spec.issuer = subject.get();
  spec.subject_key = key.evp();
  spec.not_before = options.not_before.value_or(NowSeconds());
  spec.validity = options.validity;
  // pathlen 0: the hub CA signs end entities only, never sub-CAs.
  spec.extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                     {NID_key_usage, "critical,keyCertSign,cRLSign"}};
  absl::StatusOr<Certificate> cert = BuildCertificate(spec, key.evp());
  if (!cert.ok()) return cert.status();
  return CertificateAuthority(std::move(key), *std::move(cert));
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Load(crypto::Sm2PrivateKey key,
                                                                Certificate cert) {
  if (!cert.IsCa()) {
    return absl::InvalidArgumentError(absl::StrCat("certificate ", cert.SubjectLine(),
                                                   " is not a CA (no basicConstraints CA:TRUE)"));
  }
  if ((X509_get_key_usage(cert.x509()) & KU_KEY_CERT_SIGN) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("CA certificate ", cert.SubjectLine(),
                                                   " does not allow keyCertSign in its keyUsage"));
  }
  absl::StatusOr<crypto::Sm2PublicKey> cert_key = cert.PublicKey();
  if (!cert_key.ok()) return cert_key.status();
  if (cert_key->ToDer() != key.PublicKey().ToDer()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the private key does not belong to CA certificate ", cert.SubjectLine(),
                     " (check that ca.key and ca.crt come from the same `beibu pki init`)"));
  }
  return CertificateAuthority(std::move(key), std::move(cert));
}

absl::StatusOr<Certificate> CertificateAuthority::Issue(const crypto::Sm2PublicKey& subject_key,
                                                        const Identity& identity,
                                                        IssueOptions options) const {
  if (absl::Status s = CheckValidity(options); !s.ok()) return s;
  absl::StatusOr<internal::X509NamePtr> subject =
      internal::SubjectName(identity, internal::NameUse::kCertificate);
  if (!subject.ok()) return subject.status();
  CertSpec spec;
  spec.subject = subject->get();
  spec.issuer = X509_get_subject_name(cert_.x509());
  spec.subject_key = subject_key.evp();
  if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert_.x509())) {
    spec.authority_key_id.assign(ASN1_STRING_get0_data(skid),
                                 ASN1_STRING_get0_data(skid) + ASN1_STRING_length(skid));
  }
  spec.not_before = options.not_before.value_or(NowSeconds());
  spec.validity = options.validity;
  // keyAgreement: the secure channel and the end-to-end envelope run an
  // SM2-authenticated key agreement with these keys.
  spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature,keyAgreement"},
                     {NID_ext_key_usage, "clientAuth,serverAuth"}};
  return BuildCertificate(spec, key_.evp());
}

absl::StatusOr<RevocationList> CertificateAuthority::IssueCrl(
    const std::vector<RevokedEntry>& revoked, uint64_t number,
    std::chrono::seconds next_update) const {
  if (next_update <= std::chrono::seconds(0)) {
    return absl::InvalidArgumentError("CRL next_update must be positive");
  }
  internal::X509CrlPtr crl(X509_CRL_new());
  internal::Asn1TimePtr last(ASN1_TIME_new());
  internal::Asn1TimePtr next(ASN1_TIME_new());
  if (!crl || !last || !next || X509_CRL_set_version(crl.get(), 1) != 1 ||  // v2
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert_.x509())) != 1) {
    return OpenSslError("building CRL");
  }
  Clock::time_point now = NowSeconds();
  if (absl::Status s = internal::SetAsn1Time(last.get(), now); !s.ok()) return s;
  if (absl::Status s = internal::SetAsn1Time(next.get(), now + next_update); !s.ok()) return s;
  if (X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslError("setting CRL dates");
  }
  for (const RevokedEntry& entry : revoked) {
    absl::StatusOr<internal::Asn1IntegerPtr> serial = internal::SerialFromHex(entry.serial_hex);
    if (!serial.ok()) return serial.status();
    internal::Asn1TimePtr when(ASN1_TIME_new());
    X509_REVOKED* r = X509_REVOKED_new();
    if (!when || r == nullptr || X509_REVOKED_set_serialNumber(r, serial->get()) != 1 ||
        !internal::SetAsn1Time(when.get(), entry.revoked_at).ok() ||
        X509_REVOKED_set_revocationDate(r, when.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), r) != 1) {
      X509_REVOKED_free(r);
      return OpenSslError(absl::StrCat("adding revoked serial ", entry.serial_hex));
    }
  }
  X509_CRL_sort(crl.get());
  absl::StatusOr<internal::Asn1IntegerPtr> crl_number =
      internal::SerialFromHex(absl::StrCat(absl::Hex(number)));
  if (!crl_number.ok()) return crl_number.status();
  if (X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number->get(), 0, 0) != 1) {
    return OpenSslError("adding CRL number");
  }
  if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert_.x509())) {
    AkidPtr akid(AUTHORITY_KEYID_new());
    if (!akid || (akid->keyid = ASN1_OCTET_STRING_dup(skid)) == nullptr ||
        X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, akid.get(), 0, 0) != 1) {
      return OpenSslError("adding CRL authorityKeyIdentifier");
    }
  }
  if (absl::Status s = internal::SignCrl(crl.get(), key_.evp()); !s.ok()) return s;
  return RevocationList::FromPem(RevocationList(crl.release()).ToPem());
}

}  // namespace beibu::pki
