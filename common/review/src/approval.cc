#include "beibu/review/approval.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "beibu/pki/certificate.h"
#include "beibu/pki/signed_by.h"
#include "canonical.h"

namespace beibu::review {
namespace {

constexpr char kMagic[] = "BBAP1";
// A leaf and a couple of intermediates are a few KiB of PEM; an SM2 DER
// signature is at most 72 bytes. Larger inputs are refused before parsing so
// that a hostile approval costs little.
constexpr size_t kMaxCertificatePemBytes = 64 << 10;
constexpr size_t kMaxSignatureBytes = 256;

bool KnownVerdict(Verdict v) { return v == Verdict::kApprove || v == Verdict::kReject; }

// Printable and short, for messages about untrusted strings.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 64) out += "...";
  return out + "\"";
}

// Whether `signer` may fill `role` for these parties; "" if so, else why not.
std::string CannotFill(const pki::Identity& signer, const std::string& role,
                       const Parties& parties) {
  const std::string who = pki::Describe(signer);
  if (role == kSourceOfficer || role == kDestinationOfficer) {
    const std::string& country = role == kSourceOfficer ? parties.from_country : parties.to_country;
    if (signer.role != pki::Role::kOfficer)
      return absl::StrCat(who, " is not an officer; ", role, " needs an officer of ", country);
    if (country.empty() || signer.country != country)
      return absl::StrCat(who, " is an officer of ", signer.country, "; ", role,
                          " needs an officer of ", country.empty() ? "(unknown)" : country);
    return "";
  }
  if (role == kDataOwner) {
    if (signer.role != pki::Role::kEnterprise || parties.from_enterprise.empty() ||
        signer.id != parties.from_enterprise)
      return absl::StrCat(who, " is not the sending enterprise ",
                          parties.from_enterprise.empty() ? "(unknown)" : parties.from_enterprise,
                          "; data_owner needs its own certificate");
    return "";
  }
  return absl::StrCat("no one may fill role ", Quote(role),
                      "; known roles: source_officer, destination_officer, data_owner");
}

// VerifyApproval with the ticket digest computed once by the caller.
absl::StatusOr<VerifiedApproval> Verify(const Approval& a, const std::string& digest_hex,
                                        const Requirement& requirement, const Parties& parties,
                                        const pki::TrustBundle& trust, pki::Clock::time_point now) {
  if (a.ticket_digest_hex != digest_hex)
    return absl::InvalidArgumentError(
        absl::StrCat("approval is for ticket ", Quote(a.ticket_digest_hex), ", not this ticket ",
                     digest_hex, " (replayed from another transfer, or the ticket changed)"));
  if (!KnownVerdict(a.verdict))
    return absl::InvalidArgumentError(
        absl::StrCat("unknown verdict ", static_cast<int>(a.verdict), "; approve=1, reject=2"));
  if (std::find(requirement.roles.begin(), requirement.roles.end(), a.role) ==
      requirement.roles.end())
    return absl::InvalidArgumentError(absl::StrCat("role ", Quote(a.role), " is not one of rule ",
                                                   requirement.rule_id, "'s roles"));
  if (a.signed_at_ms > requirement.deadline_ms)
    return absl::InvalidArgumentError(
        absl::StrCat("signed at ", a.signed_at_ms, " ms, after the deadline ",
                     requirement.deadline_ms, " ms; the transfer must be held again"));

  auto unauthenticated = [](const std::string& why) {
    return absl::UnauthenticatedError(absl::StrCat("approval refused: ", why));
  };
  if (a.signer_certificate.size() > kMaxCertificatePemBytes)
    return unauthenticated(
        absl::StrCat("signer certificate unreadable: ", a.signer_certificate.size(),
                     " bytes, more than ", kMaxCertificatePemBytes));
  if (a.signature.empty() || a.signature.size() > kMaxSignatureBytes)
    return unauthenticated(
        absl::StrCat("signature of ", a.signature.size(), " bytes is not an SM2 signature"));
  absl::StatusOr<pki::Identity> signer = pki::VerifySignedBy(
      a.signer_certificate, AsBytes(CanonicalApprovalBytes(a)), AsBytes(a.signature), trust, now);
  if (!signer.ok()) return unauthenticated(std::string(signer.status().message()));

  if (std::string why = CannotFill(*signer, a.role, parties); !why.empty())
    return absl::PermissionDeniedError(absl::StrCat("approval by ", pki::Describe(*signer),
                                                    " cannot count as ", a.role, ": ", why));
  return VerifiedApproval{*std::move(signer), a.role, a.verdict, a.signed_at_ms};
}

}  // namespace

std::string CanonicalApprovalBytes(const Approval& approval) {
  std::string out(kMagic);
  internal::PutField(&out, approval.ticket_digest_hex);
  internal::PutU8(&out, static_cast<uint8_t>(approval.verdict));
  internal::PutField(&out, approval.role);
  internal::PutU64(&out, static_cast<uint64_t>(approval.signed_at_ms));
  return out;
}

absl::StatusOr<Approval> SignApproval(const std::string& ticket_digest_hex, Verdict verdict,
                                      const std::string& role, int64_t signed_at_ms,
                                      const crypto::Sm2PrivateKey& key,
                                      const std::string& signer_certificate_pem) {
  if (!KnownVerdict(verdict))
    return absl::InvalidArgumentError(
        absl::StrCat("unknown verdict ", static_cast<int>(verdict), "; approve=1, reject=2"));
  if (role.empty()) return absl::InvalidArgumentError("an approval must name the role it fills");
  // Catch a key / certificate mix-up here, not at every verifier.
  absl::StatusOr<std::vector<pki::Certificate>> chain =
      pki::Certificate::AllFromPem(signer_certificate_pem);
  if (!chain.ok() || chain->empty())
    return absl::InvalidArgumentError(absl::StrCat(
        "signer certificate unreadable: ",
        chain.ok() ? std::string("no certificate in it") : std::string(chain.status().message())));
  absl::StatusOr<crypto::Sm2PublicKey> cert_key = chain->front().PublicKey();
  if (!cert_key.ok()) return cert_key.status();
  if (cert_key->ToDer() != key.PublicKey().ToDer())
    return absl::InvalidArgumentError(
        "the signing key does not match the signer certificate; use the key the certificate "
        "was issued for");
  Approval a;
  a.ticket_digest_hex = ticket_digest_hex;
  a.verdict = verdict;
  a.role = role;
  a.signed_at_ms = signed_at_ms;
  a.signer_certificate = signer_certificate_pem;
  absl::StatusOr<Bytes> sig = key.Sign(AsBytes(CanonicalApprovalBytes(a)));
  if (!sig.ok()) return sig.status();
  a.signature.assign(sig->begin(), sig->end());
  return a;
}

absl::StatusOr<VerifiedApproval> VerifyApproval(const Approval& approval,
                                                const TicketSubject& subject,
                                                const Parties& parties,
                                                const pki::TrustBundle& trust,
                                                pki::Clock::time_point now) {
  return Verify(approval, TicketDigestHex(subject), subject.requirement, parties, trust, now);
}

Quorum EvaluateQuorum(const std::vector<Approval>& approvals, const TicketSubject& subject,
                      const Parties& parties, const pki::TrustBundle& trust,
                      pki::Clock::time_point now) {
  Quorum q;
  const std::string digest_hex = TicketDigestHex(subject);
  std::map<std::string, size_t> role_by;    // role -> approval that filled it
  std::map<std::string, size_t> signer_by;  // signer -> approval that counted it
  for (size_t i = 0; i < approvals.size(); ++i) {
    const std::string prefix = absl::StrCat("approval #", i, ": ");
    absl::StatusOr<VerifiedApproval> v =
        Verify(approvals[i], digest_hex, subject.requirement, parties, trust, now);
    if (!v.ok()) {
      q.refused.push_back(absl::StrCat(prefix, v.status().message()));
      continue;
    }
    if (v->verdict == Verdict::kReject) {
      // Any verified objection stops the transfer, whoever else approved.
      q.rejected = true;
      continue;
    }
    // The same person under a renewed certificate is still one signer: key
    // on the subject, not the serial.
    const std::string signer = absl::StrCat(std::string(pki::RoleName(v->signer.role)), "/",
                                            v->signer.country, "/", v->signer.id);
    if (auto it = role_by.find(v->role); it != role_by.end()) {
      q.refused.push_back(absl::StrCat(prefix, "duplicate: role ", v->role,
                                       " is already filled by approval #", it->second));
      continue;
    }
    if (auto it = signer_by.find(signer); it != signer_by.end()) {
      q.refused.push_back(absl::StrCat(prefix, "duplicate: ", pki::Describe(v->signer),
                                       " already counted in approval #", it->second));
      continue;
    }
    role_by.emplace(v->role, i);
    signer_by.emplace(signer, i);
    q.counted.push_back(*std::move(v));
  }
  // M = 0 (a hand-built or hostile requirement) never counts as met: a
  // transfer held for review leaves only with at least one approval.
  q.met = !q.rejected && subject.requirement.approvals >= 1 &&
          q.counted.size() >= subject.requirement.approvals;
  return q;
}

}  // namespace beibu::review
