// The ticket digest officers sign (review/ticket.h): the exact canonical
// bytes, and that every field, the requirement included, changes it.
#include "beibu/review/ticket.h"

#include <gtest/gtest.h>

#include <functional>

#include "beibu/crypto/sm3.h"
#include "review_test_util.h"

namespace beibu::review {
namespace {

using testing::Subject;

std::string U32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

TEST(Ticket, CanonicalBytesFollowTheContract) {
  TicketSubject s;
  s.transfer_id = "tx";
  s.header_sm3_hex = "h1";
  s.payload_sm3_hex = "p";
  s.preview_sm3_hex = "";
  s.requirement = {.rule_id = "R", .approvals = 2, .roles = {"ab", "c"}, .deadline_ms = 0x0102};
  const std::string want = "BBRT1" + U32(2) + "tx" + U32(2) + "h1" + U32(1) + "p" + U32(0) +
                           U32(1) + "R" + U32(2) + U32(2) + U32(2) + "ab" + U32(1) + "c" +
                           std::string("\0\0\0\0\0\0\x01\x02", 8);
  EXPECT_EQ(CanonicalTicketBytes(s), want);
  EXPECT_EQ(TicketDigestHex(s), HexEncode(crypto::Sm3::Hash(AsBytes(want))));
}

TEST(Ticket, DigestIsLowerCaseHexOfSm3) {
  const std::string d = TicketDigestHex(Subject());
  EXPECT_EQ(d.size(), 64u);
  EXPECT_EQ(d.find_first_not_of("0123456789abcdef"), std::string::npos) << d;
  EXPECT_EQ(d, TicketDigestHex(Subject()));  // deterministic
}

TEST(Ticket, EveryFieldChangesTheDigest) {
  const std::string base = TicketDigestHex(Subject());
  const std::vector<std::pair<const char*, std::function<void(TicketSubject&)>>> edits = {
      {"transfer id", [](TicketSubject& s) { s.transfer_id += "x"; }},
      {"header", [](TicketSubject& s) { s.header_sm3_hex[0] = 'f'; }},
      {"payload", [](TicketSubject& s) { s.payload_sm3_hex[63] = 'f'; }},
      {"preview", [](TicketSubject& s) { s.preview_sm3_hex.clear(); }},
      {"rule id", [](TicketSubject& s) { s.requirement.rule_id = "AUTH-X"; }},
      {"M lowered", [](TicketSubject& s) { s.requirement.approvals = 1; }},
      {"role dropped", [](TicketSubject& s) { s.requirement.roles.pop_back(); }},
      {"roles reordered",
       [](TicketSubject& s) { std::swap(s.requirement.roles[0], s.requirement.roles[1]); }},
      {"deadline later", [](TicketSubject& s) { s.requirement.deadline_ms += 1; }},
  };
  for (const auto& [what, edit] : edits) {
    TicketSubject s = Subject();
    edit(s);
    EXPECT_NE(TicketDigestHex(s), base) << what;
  }
}

// The framing keeps bytes from moving between adjacent fields.
TEST(Ticket, BytesCannotMoveBetweenFields) {
  TicketSubject a = Subject();
  a.transfer_id = "tx-1";
  a.header_sm3_hex = "ab";
  TicketSubject b = a;
  b.transfer_id = "tx-1a";
  b.header_sm3_hex = "b";
  EXPECT_NE(TicketDigestHex(a), TicketDigestHex(b));
  TicketSubject c = Subject();
  c.requirement.roles = {"ab", "c"};
  TicketSubject d = Subject();
  d.requirement.roles = {"a", "bc"};
  EXPECT_NE(TicketDigestHex(c), TicketDigestHex(d));
}

}  // namespace
}  // namespace beibu::review
