// Officers' signed decisions (review/approval.h) with a real SM2 test CA:
// verification of one approval in the contract's order, quorums, and the
// signature format against the openssl CLI.
#include "beibu/review/approval.h"

#include <gtest/gtest.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "review_test_util.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu::review {
namespace {

using testing::Issue;
using testing::kDeadlineMs;
using testing::kHeldAtMs;
using testing::Signer;
using testing::Subject;
using testing::VnToCn;

constexpr int64_t kSignedMs = kHeldAtMs + 3600 * 1000;

class ApprovalTest : public ::testing::Test {
 protected:
  // One CA and the parties' certificates for the whole suite: SM2 keys and
  // certificates are real but need not be fresh per test.
  struct World {
    pki::CertificateAuthority ca = testing::NewCa();
    pki::CertificateAuthority other_ca = testing::NewCa("Other Root CA");
    Signer vn_officer = Issue(ca, "officer-vn-1", pki::Role::kOfficer, "VN");
    Signer vn_officer2 = Issue(ca, "officer-vn-2", pki::Role::kOfficer, "VN");
    Signer cn_officer = Issue(ca, "officer-cn-1", pki::Role::kOfficer, "CN");
    Signer acme = Issue(ca, "acme-vn", pki::Role::kEnterprise, "VN");
    Signer other_enterprise = Issue(ca, "globex-vn", pki::Role::kEnterprise, "VN");
    Signer stranger = Issue(other_ca, "officer-cn-9", pki::Role::kOfficer, "CN");
    pki::TrustBundle trust;
    World() { EXPECT_TRUE(trust.AddRoot(ca.certificate()).ok()); }
  };
  static void SetUpTestSuite() { world_ = new World(); }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  static World& w() { return *world_; }

  static Approval Sign(const Signer& s, const std::string& role,
                       const TicketSubject& subject = Subject(),
                       Verdict verdict = Verdict::kApprove, int64_t at = kSignedMs) {
    absl::StatusOr<Approval> a =
        SignApproval(TicketDigestHex(subject), verdict, role, at, s.key, s.pem());
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : Approval{};
  }
  static absl::StatusOr<VerifiedApproval> Verify(const Approval& a,
                                                 const TicketSubject& subject = Subject(),
                                                 const Parties& parties = VnToCn()) {
    return VerifyApproval(a, subject, parties, w().trust, pki::Clock::now());
  }
  static Quorum Evaluate(const std::vector<Approval>& approvals,
                         const TicketSubject& subject = Subject(),
                         const Parties& parties = VnToCn()) {
    return EvaluateQuorum(approvals, subject, parties, w().trust, pki::Clock::now());
  }
  // A ticket whose requirement also names the data owner (2 of 3).
  static TicketSubject WithDataOwner() {
    TicketSubject s = Subject();
    s.requirement.roles.push_back(kDataOwner);
    return s;
  }

  static World* world_;
};
ApprovalTest::World* ApprovalTest::world_ = nullptr;

void ExpectCode(const absl::StatusOr<VerifiedApproval>& v, absl::StatusCode code,
                const std::string& reason) {
  EXPECT_EQ(v.status().code(), code) << v.status();
  EXPECT_NE(v.status().message().find(reason), std::string_view::npos) << v.status();
}

TEST_F(ApprovalTest, SignVerifyRoundTrip) {
  Approval a = Sign(w().vn_officer, kSourceOfficer);
  EXPECT_EQ(a.ticket_digest_hex, TicketDigestHex(Subject()));
  EXPECT_EQ(a.signer_certificate, w().vn_officer.pem());
  EXPECT_FALSE(a.signature.empty());
  absl::StatusOr<VerifiedApproval> v = Verify(a);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->signer.id, "officer-vn-1");
  EXPECT_EQ(v->signer.role, pki::Role::kOfficer);
  EXPECT_EQ(v->signer.country, "VN");
  EXPECT_EQ(v->signer.serial_hex, w().vn_officer.cert.SerialHex());
  EXPECT_EQ(v->role, kSourceOfficer);
  EXPECT_EQ(v->verdict, Verdict::kApprove);
  EXPECT_EQ(v->signed_at_ms, kSignedMs);
}

TEST_F(ApprovalTest, CanonicalBytesFollowTheContract) {
  Approval a;
  a.ticket_digest_hex = "ab";
  a.verdict = Verdict::kReject;
  a.role = "r";
  a.signed_at_ms = 0x0304;
  a.signer_certificate = "not covered";
  a.signature = "not covered";
  EXPECT_EQ(CanonicalApprovalBytes(a), std::string("BBAP1\0\0\0\x02"
                                                   "ab\x02\0\0\0\x01r\0\0\0\0\0\0\x03\x04",
                                                   5 + 4 + 2 + 1 + 4 + 1 + 8));
}

TEST_F(ApprovalTest, SourceAndDestinationOfficersMeetTwoOfTwo) {
  Quorum q =
      Evaluate({Sign(w().vn_officer, kSourceOfficer), Sign(w().cn_officer, kDestinationOfficer)});
  EXPECT_TRUE(q.met);
  EXPECT_FALSE(q.rejected);
  ASSERT_EQ(q.counted.size(), 2u);
  EXPECT_EQ(q.counted[0].signer.id, "officer-vn-1");
  EXPECT_EQ(q.counted[1].signer.id, "officer-cn-1");
  EXPECT_TRUE(q.refused.empty());
}

TEST_F(ApprovalTest, OneApprovalIsNotEnough) {
  Quorum q = Evaluate({Sign(w().cn_officer, kDestinationOfficer)});
  EXPECT_FALSE(q.met);
  EXPECT_EQ(q.counted.size(), 1u);
  EXPECT_FALSE(Evaluate({}).met);
}

TEST_F(ApprovalTest, ARejectionRejects) {
  Approval no = Sign(w().cn_officer, kDestinationOfficer, Subject(), Verdict::kReject);
  ASSERT_TRUE(Verify(no).ok());
  EXPECT_EQ(Verify(no)->verdict, Verdict::kReject);
  Quorum q = Evaluate(
      {Sign(w().vn_officer, kSourceOfficer), no, Sign(w().acme, kDataOwner, WithDataOwner())});
  EXPECT_TRUE(q.rejected);
  EXPECT_FALSE(q.met);
  // Even with the quorum otherwise met.
  TicketSubject s = WithDataOwner();
  Quorum q2 = Evaluate({Sign(w().vn_officer, kSourceOfficer, s), Sign(w().acme, kDataOwner, s),
                        Sign(w().cn_officer, kDestinationOfficer, s, Verdict::kReject)},
                       s);
  EXPECT_EQ(q2.counted.size(), 2u);
  EXPECT_TRUE(q2.rejected);
  EXPECT_FALSE(q2.met);
}

TEST_F(ApprovalTest, ForgedSignatureIsUnauthenticated) {
  Approval a = Sign(w().vn_officer, kSourceOfficer);
  for (size_t byte : {size_t{0}, a.signature.size() / 2, a.signature.size() - 1}) {
    Approval forged = a;
    forged.signature[byte] ^= 0x01;
    ExpectCode(Verify(forged), absl::StatusCode::kUnauthenticated, "");
  }
  Approval truncated = a;
  truncated.signature.pop_back();
  ExpectCode(Verify(truncated), absl::StatusCode::kUnauthenticated, "");
  Approval empty = a;
  empty.signature.clear();
  ExpectCode(Verify(empty), absl::StatusCode::kUnauthenticated, "not an SM2 signature");
}

TEST_F(ApprovalTest, FieldsChangedAfterSigningAreUnauthenticated) {
  Approval no = Sign(w().cn_officer, kDestinationOfficer, Subject(), Verdict::kReject);
  Approval flipped = no;
  flipped.verdict = Verdict::kApprove;  // a rejection turned into an approval
  ExpectCode(Verify(flipped), absl::StatusCode::kUnauthenticated, "does not verify");
  Approval earlier = Sign(w().cn_officer, kDestinationOfficer);
  earlier.signed_at_ms -= 1;
  ExpectCode(Verify(earlier), absl::StatusCode::kUnauthenticated, "does not verify");
  // A data owner's approval moved to another role it cannot fill: the
  // signature check comes first.
  Approval moved = Sign(w().acme, kDataOwner, WithDataOwner());
  moved.role = kSourceOfficer;
  ExpectCode(Verify(moved, WithDataOwner()), absl::StatusCode::kUnauthenticated, "does not verify");
}

TEST_F(ApprovalTest, SignedByAnotherKeyIsUnauthenticated) {
  // The CN officer's certificate with a signature by some other key.
  Approval a = Sign(w().cn_officer, kDestinationOfficer);
  absl::StatusOr<Bytes> sig = testing::NewKey().Sign(AsBytes(CanonicalApprovalBytes(a)));
  ASSERT_TRUE(sig.ok());
  a.signature.assign(sig->begin(), sig->end());
  ExpectCode(Verify(a), absl::StatusCode::kUnauthenticated, "officer-cn-1");
}

TEST_F(ApprovalTest, ApprovalOfAnotherTicketIsInvalid) {
  Approval a = Sign(w().vn_officer, kSourceOfficer, Subject("tx-0002"));
  ExpectCode(Verify(a), absl::StatusCode::kInvalidArgument, "not this ticket");
  // Nor can it count for the same transfer under a weaker requirement.
  TicketSubject weaker = Subject();
  weaker.requirement.approvals = 1;
  Approval strong = Sign(w().vn_officer, kSourceOfficer);
  ExpectCode(Verify(strong, weaker), absl::StatusCode::kInvalidArgument, "not this ticket");
  Quorum q = Evaluate({a, Sign(w().cn_officer, kDestinationOfficer)});
  EXPECT_FALSE(q.met);
  ASSERT_EQ(q.refused.size(), 1u);
  EXPECT_EQ(q.refused[0].rfind("approval #0: ", 0), 0u) << q.refused[0];
}

TEST_F(ApprovalTest, OfficerOfTheWrongCountryIsDenied) {
  ExpectCode(Verify(Sign(w().vn_officer, kDestinationOfficer)), absl::StatusCode::kPermissionDenied,
             "needs an officer of CN");
  ExpectCode(Verify(Sign(w().cn_officer, kSourceOfficer)), absl::StatusCode::kPermissionDenied,
             "needs an officer of VN");
}

TEST_F(ApprovalTest, EnterpriseIsNotAnOfficer) {
  ExpectCode(Verify(Sign(w().acme, kSourceOfficer)), absl::StatusCode::kPermissionDenied,
             "is not an officer");
}

TEST_F(ApprovalTest, DataOwnerIsTheSendingEnterpriseOnly) {
  TicketSubject s = WithDataOwner();
  EXPECT_TRUE(Verify(Sign(w().acme, kDataOwner, s), s).ok());
  ExpectCode(Verify(Sign(w().other_enterprise, kDataOwner, s), s),
             absl::StatusCode::kPermissionDenied, "not the sending enterprise acme-vn");
  ExpectCode(Verify(Sign(w().vn_officer, kDataOwner, s), s), absl::StatusCode::kPermissionDenied,
             "not the sending enterprise");
  // Without a known sender nobody is the data owner.
  Parties unknown = VnToCn();
  unknown.from_enterprise.clear();
  ExpectCode(Verify(Sign(w().acme, kDataOwner, s), s, unknown), absl::StatusCode::kPermissionDenied,
             "");
}

TEST_F(ApprovalTest, RoleOutsideTheRequirementIsInvalid) {
  ExpectCode(Verify(Sign(w().acme, kDataOwner)), absl::StatusCode::kInvalidArgument,
             "is not one of rule default's roles");
}

TEST_F(ApprovalTest, UnknownRoleInARequirementCannotBeFilled) {
  TicketSubject s = Subject();
  s.requirement.roles.push_back("auditor");
  ExpectCode(Verify(Sign(w().cn_officer, "auditor", s), s), absl::StatusCode::kPermissionDenied,
             "no one may fill role");
}

TEST_F(ApprovalTest, UnknownVerdictIsInvalid) {
  Approval a = Sign(w().vn_officer, kSourceOfficer);
  a.verdict = static_cast<Verdict>(7);
  ExpectCode(Verify(a), absl::StatusCode::kInvalidArgument, "unknown verdict 7");
  EXPECT_EQ(SignApproval(a.ticket_digest_hex, static_cast<Verdict>(0), kSourceOfficer, kSignedMs,
                         w().vn_officer.key, w().vn_officer.pem())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ApprovalTest, SignedAfterTheDeadlineIsRefused) {
  EXPECT_TRUE(
      Verify(Sign(w().vn_officer, kSourceOfficer, Subject(), Verdict::kApprove, kDeadlineMs)).ok());
  ExpectCode(
      Verify(Sign(w().vn_officer, kSourceOfficer, Subject(), Verdict::kApprove, kDeadlineMs + 1)),
      absl::StatusCode::kInvalidArgument, "after the deadline");
}

TEST_F(ApprovalTest, RevokedOfficerIsRefused) {
  Signer revoked = Issue(w().ca, "officer-cn-2", pki::Role::kOfficer, "CN");
  Approval a = Sign(revoked, kDestinationOfficer);
  ASSERT_TRUE(Verify(a).ok());
  pki::TrustBundle trust = w().trust;
  absl::StatusOr<pki::RevocationList> crl =
      w().ca.IssueCrl({{revoked.cert.SerialHex(), pki::Clock::now()}}, 1);
  ASSERT_TRUE(crl.ok()) << crl.status();
  ASSERT_TRUE(trust.AddCrl(*crl).ok());
  absl::StatusOr<VerifiedApproval> v =
      VerifyApproval(a, Subject(), VnToCn(), trust, pki::Clock::now());
  ExpectCode(v, absl::StatusCode::kUnauthenticated, "revoked");
  // The others are unaffected.
  EXPECT_TRUE(VerifyApproval(Sign(w().cn_officer, kDestinationOfficer), Subject(), VnToCn(), trust,
                             pki::Clock::now())
                  .ok());
}

TEST_F(ApprovalTest, UnknownCaIsRefused) {
  ExpectCode(Verify(Sign(w().stranger, kDestinationOfficer)), absl::StatusCode::kUnauthenticated,
             "not trusted");
}

TEST_F(ApprovalTest, ExpiredCertificateIsRefusedButAcceptedAtSigningTime) {
  // A CA and an officer certificate of two days ago, valid for one day.
  const pki::Clock::time_point issued = pki::Clock::now() - std::chrono::hours(48);
  absl::StatusOr<pki::CertificateAuthority> ca = pki::CertificateAuthority::CreateRoot(
      testing::NewKey(), "Old Root CA", "CN", {.not_before = issued});
  ASSERT_TRUE(ca.ok()) << ca.status();
  pki::TrustBundle trust;
  ASSERT_TRUE(trust.AddRoot(ca->certificate()).ok());
  Signer old = Issue(*ca, "officer-cn-3", pki::Role::kOfficer, "CN",
                     {.validity = std::chrono::hours(24), .not_before = issued});
  Approval a = Sign(old, kDestinationOfficer);
  ExpectCode(VerifyApproval(a, Subject(), VnToCn(), trust, pki::Clock::now()),
             absl::StatusCode::kUnauthenticated, "expired");
  // A regulator checking old evidence passes the signing time as `now`.
  absl::StatusOr<VerifiedApproval> then =
      VerifyApproval(a, Subject(), VnToCn(), trust, issued + std::chrono::hours(1));
  EXPECT_TRUE(then.ok()) << then.status();
}

TEST_F(ApprovalTest, AuthenticationComesBeforeTheRoleCheck) {
  Approval a = Sign(w().stranger, kSourceOfficer);  // wrong country and unknown CA
  ExpectCode(Verify(a), absl::StatusCode::kUnauthenticated, "");
}

TEST_F(ApprovalTest, UnreadableCertificatesAreUnauthenticated) {
  Approval a = Sign(w().vn_officer, kSourceOfficer);
  const std::string pem = a.signer_certificate;
  for (const std::string& bad :
       {std::string(), std::string("not a certificate"), pem.substr(0, pem.size() / 2),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        std::string(100 << 10, 'A'), std::string("\0\xff\x80", 3)}) {
    Approval b = a;
    b.signer_certificate = bad;
    ExpectCode(Verify(b), absl::StatusCode::kUnauthenticated, "");
  }
}

TEST_F(ApprovalTest, TheChainMayBeCarried) {
  Approval a = Sign(w().vn_officer, kSourceOfficer);
  a.signer_certificate += w().ca.certificate().ToPem();
  EXPECT_TRUE(Verify(a).ok());
}

TEST_F(ApprovalTest, SameOfficerTwiceCountsOnce) {
  // A domestic transfer: one VN officer could fill both roles, but counts once.
  Parties domestic = VnToCn();
  domestic.to_country = "VN";
  Quorum q =
      Evaluate({Sign(w().vn_officer, kSourceOfficer), Sign(w().vn_officer, kDestinationOfficer)},
               Subject(), domestic);
  EXPECT_FALSE(q.met);
  EXPECT_EQ(q.counted.size(), 1u);
  ASSERT_EQ(q.refused.size(), 1u);
  EXPECT_NE(q.refused[0].find("approval #1: duplicate"), std::string::npos) << q.refused[0];
  // A second officer makes it.
  EXPECT_TRUE(
      Evaluate({Sign(w().vn_officer, kSourceOfficer), Sign(w().vn_officer2, kDestinationOfficer)},
               Subject(), domestic)
          .met);
}

TEST_F(ApprovalTest, SameOfficerUnderARenewedCertificateCountsOnce) {
  Parties domestic = VnToCn();
  domestic.to_country = "VN";
  Signer renewed = Issue(w().ca, "officer-vn-1", pki::Role::kOfficer, "VN");
  Quorum q = Evaluate({Sign(w().vn_officer, kSourceOfficer), Sign(renewed, kDestinationOfficer)},
                      Subject(), domestic);
  EXPECT_FALSE(q.met);
  EXPECT_EQ(q.counted.size(), 1u);
}

TEST_F(ApprovalTest, SameRoleTwiceCountsOnce) {
  Quorum q =
      Evaluate({Sign(w().vn_officer, kSourceOfficer), Sign(w().vn_officer2, kSourceOfficer)});
  EXPECT_FALSE(q.met);
  EXPECT_EQ(q.counted.size(), 1u);
  ASSERT_EQ(q.refused.size(), 1u);
  EXPECT_NE(q.refused[0].find("role source_officer is already filled by approval #0"),
            std::string::npos)
      << q.refused[0];
  // The same approval sent twice is a duplicate too.
  Approval a = Sign(w().vn_officer, kSourceOfficer);
  EXPECT_EQ(Evaluate({a, a}).counted.size(), 1u);
}

TEST_F(ApprovalTest, RefusedApprovalsAreExplainedAndTheRestCount) {
  TicketSubject s = WithDataOwner();
  Approval forged = Sign(w().acme, kDataOwner, s);
  forged.signature[4] ^= 0x10;
  Quorum q = Evaluate(
      {Sign(w().stranger, kDestinationOfficer, s), forged, Sign(w().vn_officer, kSourceOfficer, s),
       Sign(w().cn_officer, kDestinationOfficer, s)},
      s);
  EXPECT_TRUE(q.met);
  EXPECT_EQ(q.counted.size(), 2u);
  ASSERT_EQ(q.refused.size(), 2u);
  EXPECT_EQ(q.refused[0].rfind("approval #0: ", 0), 0u) << q.refused[0];
  EXPECT_EQ(q.refused[1].rfind("approval #1: ", 0), 0u) << q.refused[1];
}

TEST_F(ApprovalTest, ZeroApprovalsRequiredIsNeverMet) {
  TicketSubject s = Subject();
  s.requirement.approvals = 0;
  EXPECT_FALSE(Evaluate({}, s).met);
  EXPECT_FALSE(Evaluate({Sign(w().vn_officer, kSourceOfficer, s)}, s).met);
}

TEST_F(ApprovalTest, SignRefusesAKeyThatIsNotTheCertificates) {
  absl::StatusOr<Approval> a =
      SignApproval(TicketDigestHex(Subject()), Verdict::kApprove, kSourceOfficer, kSignedMs,
                   w().cn_officer.key, w().vn_officer.pem());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignApproval(TicketDigestHex(Subject()), Verdict::kApprove, kSourceOfficer, kSignedMs,
                         w().vn_officer.key, "garbage")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// The signature is plain SM2 with SM3 and the default ID over the canonical
// bytes: the openssl CLI verifies ours, and ours verifies its.
TEST_F(ApprovalTest, SignatureMatchesTheOpensslCli) {
  using beibu::testing::Run;
  using beibu::testing::RunResult;
  beibu::testing::TempDir dir;
  auto path = [&](const char* name) { return (dir / name).string(); };
  Approval a = Sign(w().vn_officer, kSourceOfficer);
  beibu::testing::WriteFile(dir / "cert.pem", a.signer_certificate);
  beibu::testing::WriteFile(dir / "msg", CanonicalApprovalBytes(a));
  beibu::testing::WriteFile(dir / "sig", a.signature);
  RunResult pub = Run({"openssl", "x509", "-in", path("cert.pem"), "-pubkey", "-noout"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  beibu::testing::WriteFile(dir / "pub.pem", pub.out);
  RunResult ok = Run({"openssl", "dgst", "-sm3", "-verify", path("pub.pem"), "-sigopt",
                      "distid:1234567812345678", "-signature", path("sig"), path("msg")});
  EXPECT_EQ(ok.out, "Verified OK\n") << ok.err;

  // openssl signs a rejection by the CN officer; VerifyApproval accepts it.
  Approval theirs;
  theirs.ticket_digest_hex = TicketDigestHex(Subject());
  theirs.verdict = Verdict::kReject;
  theirs.role = kDestinationOfficer;
  theirs.signed_at_ms = kSignedMs;
  theirs.signer_certificate = w().cn_officer.pem();
  beibu::testing::WriteFile(dir / "key.pem", w().cn_officer.key.ToPem());
  beibu::testing::WriteFile(dir / "msg2", CanonicalApprovalBytes(theirs));
  RunResult sig = Run({"openssl", "dgst", "-sm3", "-sign", path("key.pem"), "-sigopt",
                       "distid:1234567812345678", "-out", path("sig2"), path("msg2")});
  ASSERT_EQ(sig.exit_code, 0) << sig.err;
  theirs.signature = beibu::testing::ReadFile(dir / "sig2");
  absl::StatusOr<VerifiedApproval> v = Verify(theirs);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->verdict, Verdict::kReject);
}

}  // namespace
}  // namespace beibu::review
