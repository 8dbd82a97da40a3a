#include "beibu/review/ticket.h"

#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "canonical.h"

namespace beibu::review {

namespace {
constexpr char kMagic[] = "BBRT1";
}  // namespace

std::string CanonicalTicketBytes(const TicketSubject& subject) {
  using internal::PutField;
  using internal::PutU32;
  std::string out(kMagic);
  PutField(&out, subject.transfer_id);
  PutField(&out, subject.header_sm3_hex);
  PutField(&out, subject.payload_sm3_hex);
  PutField(&out, subject.preview_sm3_hex);
  const Requirement& r = subject.requirement;
  PutField(&out, r.rule_id);
  PutU32(&out, r.approvals);
  PutU32(&out, static_cast<uint32_t>(r.roles.size()));
  for (const std::string& role : r.roles) PutField(&out, role);
  internal::PutU64(&out, static_cast<uint64_t>(r.deadline_ms));
  return out;
}

std::string TicketDigestHex(const TicketSubject& subject) {
  const crypto::Sm3Digest digest = crypto::Sm3::Hash(AsBytes(CanonicalTicketBytes(subject)));
  return HexEncode(digest);
}

}  // namespace beibu::review
