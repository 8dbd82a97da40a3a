// Sign/verify of the compliance database (common/policy signed_policy.h).
#include "beibu/policy/signed_policy.h"

#include <gtest/gtest.h>

#include "signed_test_util.h"

namespace beibu::policy {
namespace {

using testing::FilesWithVersion;
using testing::Pki;

constexpr int64_t kPublishedMs = 1795000000000;

SignedPolicy SignOrDie(const Pki& p, const PolicyFiles& files) {
  absl::StatusOr<SignedPolicy> s = SignPolicy(files, kPublishedMs, p.key, p.cert_pem);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

// Re-signs `s` as it is now (for tests that need a valid signature over
// inconsistent fields).
void Resign(const Pki& p, SignedPolicy* s) {
  absl::StatusOr<std::string> canonical = CanonicalPolicyBytes(*s);
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  absl::StatusOr<Bytes> sig = p.key.Sign(AsBytes(*canonical));
  ASSERT_TRUE(sig.ok()) << sig.status();
  s->signature.assign(sig->begin(), sig->end());
}

TEST(SignedPolicy, RoundTrip) {
  Pki hub;
  PolicyFiles files = FilesWithVersion(7);
  SignedPolicy s = SignOrDie(hub, files);
  EXPECT_EQ(s.version, 7u);
  EXPECT_EQ(s.digest_hex, ContentDigest(files));
  EXPECT_EQ(s.published_at_ms, kPublishedMs);
  EXPECT_FALSE(s.signature.empty());
  absl::StatusOr<Database> db = VerifyPolicy(s, hub.bundle, pki::Clock::now());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->version, 7);
  EXPECT_EQ(db->digest_hex, s.digest_hex);
}

TEST(SignedPolicy, CanonicalBytesStartWithMagicAndVersion) {
  SignedPolicy s;
  s.version = 0x0102;
  s.digest_hex = "ab";
  s.published_at_ms = 3;
  s.files = {{"b", "2"}, {"a", "1"}};
  absl::StatusOr<std::string> c = CanonicalPolicyBytes(s);
  ASSERT_TRUE(c.ok());
  const std::string want = std::string("BBPL1") + std::string("\0\0\0\0\0\0\x01\x02", 8) +
                           std::string("\0\0\0\x02", 4) + "ab" +
                           std::string("\0\0\0\0\0\0\0\x03", 8) + std::string("\0\0\0\x01", 4) +
                           "a" + std::string("\0\0\0\x01", 4) + "1" + std::string("\0\0\0\x01", 4) +
                           "b" + std::string("\0\0\0\x01", 4) + "2";
  EXPECT_EQ(*c, want);
}

TEST(SignedPolicy, RefusesUnsigned) {
  Pki hub;
  SignedPolicy s = SignOrDie(hub, FilesWithVersion(2));
  s.signature.clear();
  absl::StatusOr<Database> db = VerifyPolicy(s, hub.bundle, pki::Clock::now());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(db.status().message().find("unsigned"), std::string::npos) << db.status();
}

TEST(SignedPolicy, RefusesWrongSignerKey) {
  Pki hub;
  absl::StatusOr<SignedPolicy> s =
      SignPolicy(FilesWithVersion(2), kPublishedMs, testing::NewKey(), hub.cert_pem);
  ASSERT_TRUE(s.ok());
  absl::StatusOr<Database> db = VerifyPolicy(*s, hub.bundle, pki::Clock::now());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(db.status().message().find("does not verify"), std::string::npos) << db.status();
}

TEST(SignedPolicy, RefusesCertificateFromAnotherCa) {
  Pki hub;
  Pki other;  // a hub of another space, with its own CA
  SignedPolicy s = SignOrDie(other, FilesWithVersion(2));
  absl::StatusOr<Database> db = VerifyPolicy(s, hub.bundle, pki::Clock::now());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(db.status().message().find("not trusted"), std::string::npos) << db.status();
}

TEST(SignedPolicy, RefusesSignerThatIsNotTheHub) {
  Pki edge(pki::Role::kEdge, "edge-vn");
  SignedPolicy s = SignOrDie(edge, FilesWithVersion(2));
  absl::StatusOr<Database> db = VerifyPolicy(s, edge.bundle, pki::Clock::now());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(db.status().message().find("is not the hub"), std::string::npos) << db.status();
}

TEST(SignedPolicy, RefusesUnreadableCertificate) {
  Pki hub;
  SignedPolicy s = SignOrDie(hub, FilesWithVersion(2));
  s.signer_certificate = "not a certificate";
  EXPECT_EQ(VerifyPolicy(s, hub.bundle, pki::Clock::now()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignedPolicy, RefusesChangedFile) {
  Pki hub;
  SignedPolicy s = SignOrDie(hub, FilesWithVersion(2));
  s.files.at("rules.yaml") += "\n# an edit after signing\n";
  EXPECT_EQ(VerifyPolicy(s, hub.bundle, pki::Clock::now()).status().code(),
            absl::StatusCode::kUnauthenticated);
  SignedPolicy added = SignOrDie(hub, FilesWithVersion(2));
  added.files["extra.yaml"] = "x: 1\n";
  EXPECT_EQ(VerifyPolicy(added, hub.bundle, pki::Clock::now()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignedPolicy, RefusesChangedVersionOrTime) {
  Pki hub;
  SignedPolicy s = SignOrDie(hub, FilesWithVersion(2));
  s.version = 3;
  EXPECT_EQ(VerifyPolicy(s, hub.bundle, pki::Clock::now()).status().code(),
            absl::StatusCode::kUnauthenticated);
  SignedPolicy t = SignOrDie(hub, FilesWithVersion(2));
  t.published_at_ms += 1;
  EXPECT_EQ(VerifyPolicy(t, hub.bundle, pki::Clock::now()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignedPolicy, RefusesSignedDigestMismatch) {
  Pki hub;
  SignedPolicy s = SignOrDie(hub, FilesWithVersion(2));
  s.digest_hex = std::string(64, '0');
  Resign(hub, &s);
  absl::StatusOr<Database> db = VerifyPolicy(s, hub.bundle, pki::Clock::now());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(db.status().message().find("digest"), std::string::npos) << db.status();
}

TEST(SignedPolicy, RefusesSignedVersionMismatch) {
  Pki hub;
  SignedPolicy s = SignOrDie(hub, FilesWithVersion(2));
  s.version = 9;  // the manifest says 2
  Resign(hub, &s);
  absl::StatusOr<Database> db = VerifyPolicy(s, hub.bundle, pki::Clock::now());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(db.status().message().find("manifest.yaml says 2"), std::string::npos) << db.status();
}

TEST(SignedPolicy, RefusesSignedFilesThatDoNotLoad) {
  Pki hub;
  SignedPolicy s = SignOrDie(hub, FilesWithVersion(2));
  s.files.erase("taxonomy.yaml");
  Resign(hub, &s);
  EXPECT_EQ(VerifyPolicy(s, hub.bundle, pki::Clock::now()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SignedPolicy, SignRefusesFilesThatDoNotLoad) {
  Pki hub;
  PolicyFiles files = FilesWithVersion(2);
  files.at("manifest.yaml") = "version: [\n";
  EXPECT_EQ(SignPolicy(files, kPublishedMs, hub.key, hub.cert_pem).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace beibu::policy
