#include "internal.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <cctype>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/random.h"
#include "beibu/crypto/sm2.h"
#include "beibu/crypto/sm3.h"

namespace beibu::pki::internal {
namespace {

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

// 20 bytes, the size of the SHA-1 key identifiers every X.509 tool expects.
constexpr size_t kKeyIdSize = 20;
// X.520 upper bound of commonName and organizationName.
constexpr size_t kMaxNameChars = 64;
// RFC 5280 limits serials to 20 octets, i.e. 40 hex digits.
constexpr size_t kMaxSerialHex = 40;

// Code points in UTF-8 text: bytes that do not continue a sequence.
size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Runs `sign` on an EVP_MD_CTX prepared for SM2-with-SM3 under the standard ID.
template <typename SignFn>
absl::Status SignSm2(EVP_PKEY* key, std::string_view what, SignFn sign) {
  if (key == nullptr || !EVP_PKEY_is_a(key, "SM2")) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing ", std::string(what), " needs an SM2 private key"));
  }
  // The pkey ctx is declared first so it outlives the md ctx, which borrows
  // it (EVP_MD_CTX_set_pkey_ctx does not transfer ownership).
  PkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  MdCtxPtr md(EVP_MD_CTX_new());
  if (!pctx || !md ||
      EVP_PKEY_CTX_set1_id(pctx.get(), crypto::kDefaultSm2Id.data(),
                           crypto::kDefaultSm2Id.size()) != 1) {
    return OpenSslError(absl::StrCat("preparing to sign ", std::string(what)));
  }
  EVP_MD_CTX_set_pkey_ctx(md.get(), pctx.get());
  if (EVP_DigestSignInit_ex(md.get(), nullptr, "SM3", nullptr, nullptr, key, nullptr) != 1) {
    return OpenSslError(absl::StrCat("SM2-with-SM3 init for ", std::string(what)));
  }
  if (sign(md.get()) <= 0) return OpenSslError(absl::StrCat("signing ", std::string(what)));
  return absl::OkStatus();
}

OctetStringPtr StandardSm2Id() {
  OctetStringPtr id(ASN1_OCTET_STRING_new());
  if (id && ASN1_OCTET_STRING_set(
                id.get(), reinterpret_cast<const unsigned char*>(crypto::kDefaultSm2Id.data()),
                static_cast<int>(crypto::kDefaultSm2Id.size())) != 1) {
    id.reset();
  }
  return id;
}

using AlgorPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR, X509_ALGOR_free>>;

// Reads one DER header at `*p` (of at most `avail` bytes); on success leaves
// `*p` at the contents and sets `len` and `tag`.
bool ReadHeader(const unsigned char** p, long avail, long* len, int* tag) {
  int cls = 0;
  return avail > 0 && (ASN1_get_object(p, len, tag, &cls, avail) & 0x80) == 0;
}

// The signed part of a CRL: the exact tbsCertList bytes (the first element
// of the outer SEQUENCE) and the signature algorithm named inside them.
struct SignedPart {
  Bytes tbs;
  AlgorPtr inner_alg;
};

absl::StatusOr<SignedPart> CrlSignedPart(X509_CRL* crl) {
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl, &der);
  if (len <= 0) return OpenSslError("encoding CRL");
  Bytes all(der, der + len);
  OPENSSL_free(der);
  const unsigned char* p = all.data();
  const unsigned char* end = all.data() + all.size();
  long n = 0;
  int tag = 0;
  absl::Status malformed = absl::InvalidArgumentError("CRL is not a DER CertificateList");
  if (!ReadHeader(&p, end - p, &n, &tag) || tag != V_ASN1_SEQUENCE) return malformed;
  const unsigned char* tbs_start = p;
  if (!ReadHeader(&p, end - p, &n, &tag) || tag != V_ASN1_SEQUENCE || n > end - p) {
    return malformed;
  }
  SignedPart part{Bytes(tbs_start, p + n), nullptr};
  const unsigned char* tbs_end = p + n;
  // TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature AlgorithmIdentifier, ... }
  const unsigned char* q = p;
  if (!ReadHeader(&q, tbs_end - q, &n, &tag) || n > tbs_end - q) return malformed;
  if (tag == V_ASN1_INTEGER) p = q + n;
  part.inner_alg.reset(d2i_X509_ALGOR(nullptr, &p, tbs_end - p));
  if (!part.inner_alg) return malformed;
  return part;
}

}  // namespace

absl::Status OpenSslError(std::string_view what) {
  std::string errors = crypto::DrainOpenSslErrors();
  if (errors.empty()) errors = "no detail from OpenSSL";
  return absl::InternalError(absl::StrCat(std::string(what), ": ", errors));
}

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? len : 0);
}

absl::StatusOr<std::vector<PemBlock>> ReadPemBlocks(std::string_view pem) {
  std::vector<PemBlock> blocks;
  BioPtr bio = MemBio(pem);
  if (!bio) return OpenSslError("allocating a BIO");
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    ERR_clear_error();
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      // "No start line" is how OpenSSL reports the end of the text.
      unsigned long err = ERR_peek_last_error();
      bool at_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
      crypto::DrainOpenSslErrors();
      if (at_end) break;
      return absl::InvalidArgumentError(
          absl::StrCat("malformed PEM block after ", blocks.size(),
                       " good one(s): check the BEGIN/END lines and the base64 body"));
    }
    blocks.push_back(PemBlock{name, Bytes(data, data + len)});
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  return blocks;
}

std::string WritePem(std::string_view label, ByteView der) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  std::string name(label);
  PEM_write_bio(bio.get(), name.c_str(), "", der.data(), static_cast<long>(der.size()));
  return BioContents(bio.get());
}

absl::Status SignX509(X509* x, EVP_PKEY* key) {
  return SignSm2(key, "certificate", [x](EVP_MD_CTX* md) { return X509_sign_ctx(x, md); });
}

absl::Status SignReq(X509_REQ* req, EVP_PKEY* key) {
  return SignSm2(key, "certificate request",
                 [req](EVP_MD_CTX* md) { return X509_REQ_sign_ctx(req, md); });
}

absl::Status SignCrl(X509_CRL* crl, EVP_PKEY* key) {
  return SignSm2(key, "CRL", [crl](EVP_MD_CTX* md) { return X509_CRL_sign_ctx(crl, md); });
}

void AttachSm2Id(X509* x) {
  if (X509_get_signature_nid(x) != NID_SM2_with_SM3) return;
  X509_set0_distinguishing_id(x, StandardSm2Id().release());
}

void AttachSm2Id(X509_REQ* req) {
  if (X509_REQ_get_signature_nid(req) != NID_SM2_with_SM3) return;
  X509_REQ_set0_distinguishing_id(req, StandardSm2Id().release());
}

absl::Status VerifyCrlSignature(X509_CRL* crl, EVP_PKEY* issuer_key) {
  if (X509_CRL_get_signature_nid(crl) != NID_SM2_with_SM3) {
    return absl::UnauthenticatedError(absl::StrCat(
        "CRL is signed with ", OBJ_nid2ln(X509_CRL_get_signature_nid(crl)), ", not SM2-with-SM3"));
  }
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* outer_alg = nullptr;
  X509_CRL_get0_signature(crl, &sig, &outer_alg);
  absl::StatusOr<SignedPart> part = CrlSignedPart(crl);
  if (!part.ok()) {
    crypto::DrainOpenSslErrors();
    return absl::UnauthenticatedError(std::string(part.status().message()));
  }
  // The algorithm inside the signed part must match the unsigned outer one
  // (RFC 5280 5.1.1.2); OpenSSL 3.0 has no getter for it, hence the parse.
  if (X509_ALGOR_cmp(outer_alg, part->inner_alg.get()) != 0) {
    return absl::UnauthenticatedError("CRL signature algorithms inside and outside differ");
  }
  absl::StatusOr<crypto::Sm2PublicKey> key = crypto::Sm2PublicKey::FromEvp(issuer_key);
  if (!key.ok()) return key.status();
  ByteView sig_bytes(ASN1_STRING_get0_data(sig), static_cast<size_t>(ASN1_STRING_length(sig)));
  absl::Status s = key->Verify(part->tbs, sig_bytes, crypto::kDefaultSm2Id);
  if (!s.ok()) return absl::UnauthenticatedError("CRL signature does not verify");
  return absl::OkStatus();
}

std::string SerialToHex(const ASN1_INTEGER* serial) {
  BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());
  std::string out(hex);
  OPENSSL_free(hex);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

absl::StatusOr<Asn1IntegerPtr> SerialFromHex(std::string_view hex) {
  if (hex.empty() || hex.size() > kMaxSerialHex) {
    return absl::InvalidArgumentError(
        absl::StrCat("serial must be 1 to ", kMaxSerialHex, " hex digits, got ", hex.size()));
  }
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("serial \"", std::string(hex), "\" is not hexadecimal"));
    }
  }
  BIGNUM* raw = nullptr;
  std::string text(hex);
  if (BN_hex2bn(&raw, text.c_str()) == 0) return OpenSslError("parsing serial");
  BnPtr bn(raw);
  Asn1IntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return OpenSslError("encoding serial");
  return out;
}

absl::StatusOr<Asn1IntegerPtr> RandomSerial() {
  for (;;) {
    Bytes random = crypto::RandomBytes(16);
    BnPtr bn(BN_bin2bn(random.data(), static_cast<int>(random.size()), nullptr));
    if (!bn) return OpenSslError("building serial");
    if (BN_is_zero(bn.get())) continue;  // RFC 5280: serials are positive
    Asn1IntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    if (!out) return OpenSslError("encoding serial");
    return out;
  }
}

Clock::time_point FromAsn1Time(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return Clock::time_point{};
  return Clock::from_time_t(timegm(&tm));
}

std::string FormatTime(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

absl::Status SetAsn1Time(ASN1_TIME* t, Clock::time_point when) {
  if (ASN1_TIME_set(t, Clock::to_time_t(when)) == nullptr) {
    return OpenSslError(absl::StrCat("encoding time ", FormatTime(when)));
  }
  return absl::OkStatus();
}

std::string NameLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // RFC 2253 escaping but UTF-8 printed as is, so "O=广西…" stays readable.
  constexpr unsigned long kFlags = (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) |
                                   XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
                                   XN_FLAG_DUMP_UNKNOWN_FIELDS;
  X509_NAME_print_ex(bio.get(), name, 0, kFlags);
  return BioContents(bio.get());
}

absl::StatusOr<X509NamePtr> SubjectName(const Identity& identity, NameUse use) {
  // A request's name is only a wish (the CA takes the join token's), so
  // an enrolling node may leave out what it does not know yet.
  const bool partial = use == NameUse::kRequest;
  if (identity.id.empty() && !partial) {
    return absl::InvalidArgumentError("identity has an empty id (the certificate's CN)");
  }
  if (Utf8Length(identity.id) > kMaxNameChars ||
      Utf8Length(identity.organization) > kMaxNameChars) {
    return absl::InvalidArgumentError(absl::StrCat("identity id and organization are limited to ",
                                                   kMaxNameChars, " characters (X.520)"));
  }
  if (!IsCountryCode(identity.country) && !(partial && identity.country.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat("country \"", identity.country,
                     "\" is not an ISO 3166-1 alpha-2 code (two upper-case letters, e.g. VN)"));
  }
  X509NamePtr name(X509_NAME_new());
  if (!name) return OpenSslError("allocating a name");
  struct Field {
    int nid;
    std::string value;
  };
  const Field fields[] = {{NID_countryName, identity.country},
                          {NID_organizationName, identity.organization},
                          {NID_organizationalUnitName, std::string(RoleName(identity.role))},
                          {NID_commonName, identity.id}};
  for (const Field& f : fields) {
    if (f.value.empty()) continue;  // optional, as checked above
    if (X509_NAME_add_entry_by_NID(name.get(), f.nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(f.value.data()),
                                   static_cast<int>(f.value.size()), -1, 0) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("cannot put \"", f.value, "\" in ",
                                                     OBJ_nid2sn(f.nid), ": ",
                                                     crypto::DrainOpenSslErrors()));
    }
  }
  return name;
}

Bytes KeyIdentifier(X509_PUBKEY* pubkey) {
  const unsigned char* bits = nullptr;
  int len = 0;
  if (pubkey == nullptr || X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, pubkey) != 1) {
    return {};
  }
  crypto::Sm3Digest d = crypto::Sm3::Hash(ByteView(bits, static_cast<size_t>(len)));
  return Bytes(d.begin(), d.begin() + kKeyIdSize);
}

}  // namespace beibu::pki::internal
