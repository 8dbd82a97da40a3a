// An officer's signed decision on one review ticket, and its verification
// (docs/review.md). Pure: the hub, the source edge and the destination edge
// all verify with the same code, and so can a regulator from the audit log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/identity.h"
#include "beibu/pki/trust_bundle.h"
#include "beibu/review/ticket.h"

namespace beibu::review {

enum class Verdict { kApprove = 1, kReject = 2 };

struct Approval {
  std::string ticket_digest_hex;  // TicketDigestHex of the ticket decided
  Verdict verdict = Verdict::kApprove;
  std::string role;               // the requirement's role this counts for
  int64_t signed_at_ms = 0;       // Unix ms, the signer's clock
  std::string signer_certificate; // PEM, leaf first (may carry the chain)
  std::string signature;          // DER SM2 (SM3, default ID) over CanonicalApprovalBytes
};

// "BBAP1" || len ticket_digest_hex || u8 verdict || len role || u64 signed_at_ms
// (lengths u32, integers big-endian).
std::string CanonicalApprovalBytes(const Approval& approval);

absl::StatusOr<Approval> SignApproval(const std::string& ticket_digest_hex, Verdict verdict,
                                      const std::string& role, int64_t signed_at_ms,
                                      const crypto::Sm2PrivateKey& key,
                                      const std::string& signer_certificate_pem);

// Who may fill a role of this ticket.
struct Parties {
  std::string from_country;
  std::string to_country;
  std::string from_enterprise;  // certificate id of the sender (the data owner)
};

struct VerifiedApproval {
  pki::Identity signer;
  std::string role;
  Verdict verdict = Verdict::kApprove;
  int64_t signed_at_ms = 0;
};

// Checks one approval for `subject`:
//   INVALID_ARGUMENT   ticket digest differs from TicketDigestHex(subject)
//                      (an approval of another ticket: replayed or forged),
//                      unknown verdict, role not one of the requirement's,
//                      signed after the deadline
//   UNAUTHENTICATED    certificate unreadable or not valid under `trust` at
//                      `now` (unknown CA, expired, revoked), signature does
//                      not verify
//   PERMISSION_DENIED  the signer may not fill the role: source_officer needs
//                      an officer of from_country, destination_officer an
//                      officer of to_country, data_owner the enterprise
//                      from_enterprise
// Authentication comes before the role check. A regulator checking old
// evidence passes the approval's signing time as `now`. Never crashes on any input
// (fuzzed: tests/fuzz/approval_fuzz.cc).
absl::StatusOr<VerifiedApproval> VerifyApproval(const Approval& approval,
                                                const TicketSubject& subject,
                                                const Parties& parties,
                                                const pki::TrustBundle& trust,
                                                pki::Clock::time_point now);

struct Quorum {
  std::vector<VerifiedApproval> counted;  // verified APPROVEs, one per role and per signer
  bool rejected = false;                  // a verified REJECT
  bool met = false;                       // !rejected && counted.size() >= M
  std::vector<std::string> refused;       // "approval #i: <reason>" for each one not counted
};

// Verifies each approval; counts each role at most once and each signer at
// most once (a second approval of the same role or by the same certificate
// is refused as a duplicate). A verified REJECT rejects the ticket.
Quorum EvaluateQuorum(const std::vector<Approval>& approvals, const TicketSubject& subject,
                      const Parties& parties, const pki::TrustBundle& trust,
                      pki::Clock::time_point now);

}  // namespace beibu::review
