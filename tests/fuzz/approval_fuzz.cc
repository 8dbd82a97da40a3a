// Fuzzes the verification of officers' approvals (docs/review.md): an
// approval's certificate PEM, signature and fields are untrusted bytes from
// the review desk or the fast channel. The input is split into approval
// fields and checked with VerifyApproval and EvaluateQuorum under a fixed
// test trust bundle. Both must return, never crash; an approval that
// verifies must be one this process signed (only it holds the keys).
//
// Input: u8 flags || u8 verdict || u64 signed_at_ms || four fields, each
// u16 big-endian length || bytes (digest, role, certificate PEM, signature).
// flags bit 0: use the ticket's real digest instead of the digest field;
// bit 1: use the VN officer's real certificate instead of the PEM field;
// bit 2: append a valid approval by the CN officer to the quorum.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "beibu/pki/authority.h"
#include "beibu/review/approval.h"

namespace {

using namespace beibu;
using review::Approval;

struct World {
  pki::TrustBundle trust;
  review::TicketSubject subject;
  review::Parties parties{.from_country = "VN", .to_country = "CN", .from_enterprise = "acme-vn"};
  std::string vn_officer_pem;
  Approval cn_approval;
  std::vector<Approval> seeds;
  std::set<std::string> signed_messages;  // CanonicalApprovalBytes of every seed
};

crypto::Sm2PrivateKey Key() { return crypto::Sm2PrivateKey::Generate().value(); }

World* Make() {
  auto* w = new World;
  pki::CertificateAuthority ca =
      pki::CertificateAuthority::CreateRoot(Key(), "Fuzz Root", "CN").value();
  if (!w->trust.AddRoot(ca.certificate()).ok()) std::abort();
  w->subject.transfer_id = "tx-fuzz";
  w->subject.header_sm3_hex = std::string(64, 'a');
  w->subject.payload_sm3_hex = std::string(64, 'b');
  w->subject.requirement = {
      .rule_id = "default",
      .approvals = 2,
      .roles = {review::kSourceOfficer, review::kDestinationOfficer, review::kDataOwner},
      .deadline_ms = int64_t{1795000000000}};
  const std::string digest = review::TicketDigestHex(w->subject);
  auto sign = [&](const char* id, pki::Role role, const char* country, const char* as,
                  review::Verdict verdict) {
    crypto::Sm2PrivateKey key = Key();
    pki::Certificate cert =
        ca.Issue(key.PublicKey(), {.id = id, .role = role, .country = country}).value();
    Approval a =
        review::SignApproval(digest, verdict, as, 1794000000000, key, cert.ToPem()).value();
    w->signed_messages.insert(review::CanonicalApprovalBytes(a));
    w->seeds.push_back(a);
    return a;
  };
  Approval vn = sign("officer-vn", pki::Role::kOfficer, "VN", review::kSourceOfficer,
                     review::Verdict::kApprove);
  w->vn_officer_pem = vn.signer_certificate;
  w->cn_approval = sign("officer-cn", pki::Role::kOfficer, "CN", review::kDestinationOfficer,
                        review::Verdict::kApprove);
  sign("officer-cn-2", pki::Role::kOfficer, "CN", review::kDestinationOfficer,
       review::Verdict::kReject);
  sign("acme-vn", pki::Role::kEnterprise, "VN", review::kDataOwner, review::Verdict::kApprove);
  sign("officer-th", pki::Role::kOfficer, "TH", review::kSourceOfficer, review::Verdict::kApprove);
  return w;
}

World& Get() {
  static World* w = Make();
  return *w;
}

void PutField(std::string* out, const std::string& s) {
  const size_t n = std::min<size_t>(s.size(), 0xffff);
  out->push_back(static_cast<char>(n >> 8));
  out->push_back(static_cast<char>(n));
  out->append(s, 0, n);
}

std::string Encode(const Approval& a, uint8_t flags) {
  std::string out;
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(a.verdict));
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(static_cast<uint64_t>(a.signed_at_ms) >> shift));
  PutField(&out, a.ticket_digest_hex);
  PutField(&out, a.role);
  PutField(&out, a.signer_certificate);
  PutField(&out, a.signature);
  return out;
}

// Seeds (BEIBU_FUZZ_SEED_DIR): every signed approval, as fields and with the
// real-digest / real-certificate flags.
void MaybeWriteSeeds() {
  const char* dir = std::getenv("BEIBU_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  int n = 0;
  for (const Approval& a : Get().seeds) {
    for (uint8_t flags : {0, 1, 3, 4}) {
      std::ofstream(std::string(dir) + "/approval_" + std::to_string(n++), std::ios::binary)
          << Encode(a, flags);
    }
  }
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  uint8_t U8() { return p_ < end_ ? *p_++ : 0; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | U8();
    return v;
  }
  std::string Field() {
    size_t n = size_t{U8()} << 8;
    n |= U8();
    n = std::min<size_t>(n, end_ - p_);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Get();
  MaybeWriteSeeds();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 18)) return 0;
  World& w = Get();
  Reader r(data, size);
  const uint8_t flags = r.U8();
  Approval a;
  a.verdict = static_cast<review::Verdict>(r.U8());
  a.signed_at_ms = static_cast<int64_t>(r.U64());
  a.ticket_digest_hex = r.Field();
  a.role = r.Field();
  a.signer_certificate = r.Field();
  a.signature = r.Field();
  if (flags & 1) a.ticket_digest_hex = review::TicketDigestHex(w.subject);
  if (flags & 2) a.signer_certificate = w.vn_officer_pem;

  const pki::Clock::time_point now = pki::Clock::now();
  absl::StatusOr<review::VerifiedApproval> v =
      review::VerifyApproval(a, w.subject, w.parties, w.trust, now);
  if (v.ok() && w.signed_messages.count(review::CanonicalApprovalBytes(a)) == 0) std::abort();

  std::vector<Approval> set = {a, a};
  if (flags & 4) set.push_back(w.cn_approval);
  review::Quorum q = review::EvaluateQuorum(set, w.subject, w.parties, w.trust, now);
  std::set<std::string> roles;
  for (const review::VerifiedApproval& c : q.counted) {
    if (c.verdict != review::Verdict::kApprove || !roles.insert(c.role).second) std::abort();
  }
  if (q.met && (q.rejected || q.counted.size() < w.subject.requirement.approvals)) std::abort();
  if (q.counted.size() + q.refused.size() > set.size()) std::abort();
  return 0;
}
