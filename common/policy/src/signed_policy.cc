#include "beibu/policy/signed_policy.h"

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/pki/identity.h"
#include "beibu/pki/signed_by.h"

namespace beibu::policy {
namespace {

constexpr char kMagic[] = "BBPL1";

void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

absl::Status PutField(std::string* out, const std::string& what, const std::string& bytes) {
  if (bytes.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", bytes.size(), " bytes, more than a signed policy can carry"));
  }
  uint32_t n = static_cast<uint32_t>(bytes.size());
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(n >> shift));
  out->append(bytes);
  return absl::OkStatus();
}

absl::Status Unauthenticated(const SignedPolicy& p, const std::string& why) {
  return absl::UnauthenticatedError(
      absl::StrCat("policy version ", p.version, " refused: ", why,
                   "; only a version signed by the hub of this space is applied"));
}

}  // namespace

absl::StatusOr<std::string> CanonicalPolicyBytes(const SignedPolicy& p) {
  std::string out(kMagic);
  PutU64(&out, p.version);
  if (absl::Status s = PutField(&out, "digest", p.digest_hex); !s.ok()) return s;
  PutU64(&out, static_cast<uint64_t>(p.published_at_ms));
  for (const auto& [path, content] : p.files) {  // std::map: path order
    if (absl::Status s = PutField(&out, "path " + path.substr(0, 64), path); !s.ok()) return s;
    if (absl::Status s = PutField(&out, path, content); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<SignedPolicy> SignPolicy(const PolicyFiles& files, int64_t published_at_ms,
                                        const crypto::Sm2PrivateKey& key,
                                        const std::string& signer_certificate_pem) {
  absl::StatusOr<Database> db = LoadDatabase(files);
  if (!db.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy database does not load: ", db.status().message()));
  }
  if (db->version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest.yaml: version ", db->version, " is negative"));
  }
  SignedPolicy p;
  p.version = static_cast<uint64_t>(db->version);
  p.digest_hex = db->digest_hex;
  p.files = files;
  p.published_at_ms = published_at_ms;
  p.signer_certificate = signer_certificate_pem;
  absl::StatusOr<std::string> canonical = CanonicalPolicyBytes(p);
  if (!canonical.ok()) return canonical.status();
  absl::StatusOr<Bytes> sig = key.Sign(AsBytes(*canonical));
  if (!sig.ok()) return sig.status();
  p.signature.assign(sig->begin(), sig->end());
  return p;
}

absl::StatusOr<Database> VerifyPolicy(const SignedPolicy& p, const pki::TrustBundle& trust,
                                      pki::Clock::time_point now) {
  if (p.signature.empty()) return Unauthenticated(p, "it is unsigned");
  absl::StatusOr<std::string> canonical = CanonicalPolicyBytes(p);
  if (!canonical.ok()) return canonical.status();
  absl::StatusOr<pki::Identity> signer = pki::VerifySignedBy(
      p.signer_certificate, AsBytes(*canonical), AsBytes(p.signature), trust, now);
  if (!signer.ok()) return Unauthenticated(p, std::string(signer.status().message()));
  if (signer->role != pki::Role::kHub) {
    return Unauthenticated(p, absl::StrCat("signer ", pki::Describe(*signer), " is not the hub"));
  }
  absl::StatusOr<Database> db = LoadDatabase(p.files);
  if (!db.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("signed policy version ", p.version,
                                                   " does not load: ", db.status().message()));
  }
  if (db->digest_hex != p.digest_hex) {
    return absl::InvalidArgumentError(absl::StrCat("signed policy version ", p.version,
                                                   " claims digest ", p.digest_hex,
                                                   " but its files have digest ", db->digest_hex));
  }
  if (db->version < 0 || static_cast<uint64_t>(db->version) != p.version) {
    return absl::InvalidArgumentError(absl::StrCat("signed policy claims version ", p.version,
                                                   " but its manifest.yaml says ", db->version));
  }
  return db;
}

}  // namespace beibu::policy
