#include "beibu/pki/trust_bundle.h"

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "beibu/crypto/sm3.h"
#include "internal.h"

namespace beibu::pki {
namespace {

using StorePtr = std::unique_ptr<X509_STORE, internal::Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, internal::Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
inline void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_free(s); }  // borrows, does not own
using X509StackPtr =
    std::unique_ptr<STACK_OF(X509), internal::Deleter<STACK_OF(X509), FreeX509Stack>>;
using AkidPtr =
    std::unique_ptr<AUTHORITY_KEYID, internal::Deleter<AUTHORITY_KEYID, AUTHORITY_KEYID_free>>;

// The keyIdentifier of a CRL's authorityKeyIdentifier, empty if absent.
Bytes CrlAuthorityKeyId(X509_CRL* crl) {
  AkidPtr akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, nullptr, nullptr)));
  if (!akid || akid->keyid == nullptr) return {};
  const unsigned char* p = ASN1_STRING_get0_data(akid->keyid);
  return Bytes(p, p + ASN1_STRING_length(akid->keyid));
}

Bytes SubjectKeyId(X509* x) {
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(x);
  if (skid == nullptr) return {};
  const unsigned char* p = ASN1_STRING_get0_data(skid);
  return Bytes(p, p + ASN1_STRING_length(skid));
}

// True if `crl` speaks for the CA `issuer`: same name and, where both carry
// key identifiers, the same key (two roots may share a name across a key
// rollover).
bool CrlBelongsTo(X509_CRL* crl, X509* issuer) {
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) return false;
  Bytes crl_kid = CrlAuthorityKeyId(crl);
  Bytes ca_kid = SubjectKeyId(issuer);
  return crl_kid.empty() || ca_kid.empty() || crl_kid == ca_kid;
}

bool SameCrlIssuer(X509_CRL* a, X509_CRL* b) {
  return X509_NAME_cmp(X509_CRL_get_issuer(a), X509_CRL_get_issuer(b)) == 0 &&
         CrlAuthorityKeyId(a) == CrlAuthorityKeyId(b);
}

// Turns a failed X509_verify_cert into the statuses trust_bundle.h promises.
absl::Status ChainError(X509_STORE_CTX* ctx) {
  int err = X509_STORE_CTX_get_error(ctx);
  X509* bad = X509_STORE_CTX_get_current_cert(ctx);
  std::string subject = bad ? internal::NameLine(X509_get_subject_name(bad)) : "(unknown)";
  std::string issuer = bad ? internal::NameLine(X509_get_issuer_name(bad)) : "(unknown)";
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return absl::UnauthenticatedError(
          absl::StrCat("certificate issued by an unknown CA: ", issuer, " (subject ", subject,
                       "; add that CA's root to the trust bundle if it is to be trusted)"));
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::UnauthenticatedError(absl::StrCat(
          "certificate expired at ",
          internal::FormatTime(internal::FromAsn1Time(X509_get0_notAfter(bad))), ": ", subject));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::UnauthenticatedError(
          absl::StrCat("certificate not yet valid until ",
                       internal::FormatTime(internal::FromAsn1Time(X509_get0_notBefore(bad))), ": ",
                       subject, " (check the clocks)"));
    default:
      return absl::UnauthenticatedError(absl::StrCat(
          "certificate ", subject, " does not verify: ", X509_verify_cert_error_string(err)));
  }
}

absl::Status CheckRevocation(STACK_OF(X509) * verified, const std::vector<RevocationList>& crls) {
  // Every certificate but the root is checked against its issuer's CRL. A
  // mutually recognised root may come without a CRL; then nothing of it is
  // revoked as far as this bundle knows.
  for (int i = 0; i + 1 < sk_X509_num(verified); ++i) {
    X509* cert = sk_X509_value(verified, i);
    X509* issuer = sk_X509_value(verified, i + 1);
    for (const RevocationList& crl : crls) {
      if (!CrlBelongsTo(crl.crl(), issuer)) continue;
      X509_REVOKED* entry = nullptr;
      if (X509_CRL_get0_by_serial(crl.crl(), &entry, X509_get0_serialNumber(cert)) == 1) {
        return absl::PermissionDeniedError(
            absl::StrCat("certificate ", internal::SerialToHex(X509_get0_serialNumber(cert)),
                         " of ", internal::NameLine(X509_get_subject_name(cert)), " is revoked"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Identity> LeafIdentity(const Certificate& leaf,
                                      const std::set<Role>& allowed_roles) {
  if (leaf.IsCa()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate ", leaf.SubjectLine(), " is a CA certificate, not an end-entity identity"));
  }
  absl::StatusOr<Identity> id = leaf.GetIdentity();
  if (!id.ok()) return absl::UnauthenticatedError(std::string(id.status().message()));
  if (!allowed_roles.empty() && !allowed_roles.contains(id->role)) {
    std::vector<std::string> names;
    for (Role r : allowed_roles) names.emplace_back(RoleName(r));
    return absl::PermissionDeniedError(
        absl::StrCat("role ", std::string(RoleName(id->role)),
                     " is not allowed here (allowed: ", absl::StrJoin(names, ", "), ")"));
  }
  return id;
}

}  // namespace

absl::StatusOr<TrustBundle> TrustBundle::FromPem(std::string_view pem) {
  absl::StatusOr<std::vector<internal::PemBlock>> blocks = internal::ReadPemBlocks(pem);
  if (!blocks.ok()) return blocks.status();
  TrustBundle bundle;
  std::vector<const internal::PemBlock*> crl_blocks;
  for (const internal::PemBlock& block : *blocks) {
    if (block.label == PEM_STRING_X509 || block.label == PEM_STRING_X509_OLD) {
      absl::StatusOr<Certificate> root = Certificate::FromDer(block.der);
      absl::Status s = root.ok() ? bundle.AddRoot(*std::move(root)) : root.status();
      if (!s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trust bundle root #", bundle.roots_.size() + 1, ": ", s.message()));
      }
    } else if (block.label == PEM_STRING_X509_CRL) {
      crl_blocks.push_back(&block);  // after the roots, which must sign them
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("trust bundle holds a ", block.label,
                       " block; only CERTIFICATE and X509 CRL blocks belong there"));
    }
  }
  if (bundle.roots_.empty()) {
    return absl::InvalidArgumentError(
        "trust bundle holds no root certificate (expected -----BEGIN CERTIFICATE-----)");
  }
  for (const internal::PemBlock* block : crl_blocks) {
    absl::StatusOr<RevocationList> crl =
        RevocationList::FromPem(internal::WritePem(block->label, block->der));
    absl::Status s = crl.ok() ? bundle.AddCrl(*std::move(crl)) : crl.status();
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("trust bundle CRL: ", s.message()));
  }
  return bundle;
}

absl::Status TrustBundle::AddRoot(Certificate root) {
  std::string subject = root.SubjectLine();
  if (!root.IsCa()) {
    return absl::InvalidArgumentError(
        absl::StrCat(subject, " is not a CA certificate (no basicConstraints CA:TRUE)"));
  }
  if (X509_check_issued(root.x509(), root.x509()) != X509_V_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat(subject, " is not self-signed; a trust bundle holds roots only"));
  }
  if (!root.PublicKey().ok()) {
    return absl::InvalidArgumentError(absl::StrCat(subject, " does not have an SM2 key"));
  }
  // X509_verify_cert never checks a trust anchor's own signature; a bundle
  // should not carry a root that was altered in transit, so check it here.
  int rc = X509_get_signature_nid(root.x509()) == NID_SM2_with_SM3
               ? X509_verify(root.x509(), X509_get0_pubkey(root.x509()))
               : 0;
  crypto::DrainOpenSslErrors();
  if (rc != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(subject, " does not carry a valid SM2-with-SM3 self-signature"));
  }
  Bytes der = root.ToDer();
  for (const Certificate& existing : roots_) {
    if (existing.ToDer() == der) return absl::OkStatus();  // already trusted
  }
  roots_.push_back(std::move(root));
  return absl::OkStatus();
}

absl::Status TrustBundle::AddCrl(RevocationList crl) {
  const Certificate* signer = nullptr;
  for (const Certificate& root : roots_) {
    if (CrlBelongsTo(crl.crl(), root.x509()) &&
        internal::VerifyCrlSignature(crl.crl(), X509_get0_pubkey(root.x509())).ok()) {
      signer = &root;
      break;
    }
  }
  if (signer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRL issued by ", crl.IssuerLine(),
                     " is not signed by any root in the trust bundle; add its root first"));
  }
  for (RevocationList& existing : crls_) {
    if (!SameCrlIssuer(existing.crl(), crl.crl())) continue;
    // Only move forward: distribution may deliver an older list late, and
    // accepting it would silently un-revoke certificates.
    if (crl.Number() > existing.Number()) existing = std::move(crl);
    return absl::OkStatus();
  }
  crls_.push_back(std::move(crl));
  return absl::OkStatus();
}

std::string TrustBundle::ToPem() const {
  std::string pem;
  for (const Certificate& root : roots_) pem += root.ToPem();
  for (const RevocationList& crl : crls_) pem += crl.ToPem();
  return pem;
}

std::string TrustBundle::DigestHex() const {
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(ToPem()));
  return HexEncode(d);
}

absl::StatusOr<Identity> TrustBundle::Verify(const std::vector<Certificate>& chain,
                                             Clock::time_point now,
                                             const std::set<Role>& allowed_roles) const {
  if (chain.empty()) return absl::UnauthenticatedError("no certificate presented");
  StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return internal::OpenSslError("allocating X509 store");
  for (const Certificate& root : roots_) {
    if (X509_STORE_add_cert(store.get(), root.x509()) != 1) {
      return internal::OpenSslError("adding root to X509 store");
    }
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (sk_X509_push(untrusted.get(), chain[i].x509()) <= 0) {
      return internal::OpenSslError("building untrusted chain");
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].x509(), untrusted.get()) != 1) {
    return internal::OpenSslError("initialising chain verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(now));
  int rc = X509_verify_cert(ctx.get());
  crypto::DrainOpenSslErrors();
  if (rc != 1) return ChainError(ctx.get());

  if (absl::Status s = CheckRevocation(X509_STORE_CTX_get0_chain(ctx.get()), crls_); !s.ok())
    return s;
  return LeafIdentity(chain[0], allowed_roles);
}

bool TrustBundle::IsRevoked(const Identity& leaf) const {
  for (const RevocationList& crl : crls_) {
    if (crl.IssuerLine() == leaf.issuer && crl.IsRevoked(leaf.serial_hex)) return true;
  }
  return false;
}

}  // namespace beibu::pki
