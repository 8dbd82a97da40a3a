// A review ticket's identity: the digest every officer signs (docs/review.md).
// It binds the exact envelope header (route, parties, category, decision,
// rules, policy version, size), the payload that will be delivered, the
// preview the officers were shown and the requirement; so an approval can be
// neither moved to another transfer nor stretched to a weaker requirement.
// The destination edge recomputes it from what it received. Pure.
#pragma once

#include <string>

#include "beibu/review/requirement.h"

namespace beibu::review {

struct TicketSubject {
  std::string transfer_id;
  std::string header_sm3_hex;   // SM3 of the serialized EnvelopeHeader (the AAD bytes)
  std::string payload_sm3_hex;  // SM3 of the payload as delivered (after masking, if any)
  std::string preview_sm3_hex;  // SM3 of the masked preview shown to officers; "" if none
  Requirement requirement;
};

// "BBRT1" || len transfer_id || len header_sm3_hex || len payload_sm3_hex ||
// len preview_sm3_hex || len rule_id || u32 approvals || u32 role count ||
// each role len-prefixed (in the order given) || u64 deadline_ms.
// Lengths u32, integers big-endian.
std::string CanonicalTicketBytes(const TicketSubject& subject);
// SM3 of CanonicalTicketBytes, lower-case hex.
std::string TicketDigestHex(const TicketSubject& subject);

}  // namespace beibu::review
