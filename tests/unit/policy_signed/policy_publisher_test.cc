// The hub's publisher (hub/policy_publisher.h): baseline at first start,
// monotonic versions, persistence, refusals.
#include "policy_publisher.h"

#include <gtest/gtest.h>

#include "beibu/policy/signed_policy.h"
#include "signed_test_util.h"
#include "temp_dir.h"

namespace beibu::hub {
namespace {

using policy::testing::BaselineVersion;
using policy::testing::FilesWithVersion;
using policy::testing::Pki;

std::unique_ptr<PolicyPublisher> OpenOrDie(const std::string& dir, const Pki& p) {
  absl::StatusOr<std::unique_ptr<PolicyPublisher>> pub =
      PolicyPublisher::Open({.data_dir = dir, .key = p.key, .certificate_pem = p.cert_pem});
  EXPECT_TRUE(pub.ok()) << pub.status();
  return pub.ok() ? *std::move(pub) : nullptr;
}

v1::PublishPolicyRequest Request(const policy::PolicyFiles& files) {
  v1::PublishPolicyRequest req;
  for (const auto& [path, content] : files) {
    v1::PolicyFile* f = req.add_files();
    f->set_path(path);
    f->set_content(content);
  }
  return req;
}

pki::Identity Operator() {
  pki::Identity op;
  op.id = "ops-1";
  op.role = pki::Role::kOperator;
  op.country = "CN";
  return op;
}

// What an edge would do with the hub's current version.
absl::Status VerifyProto(const v1::SignedPolicy& p, const pki::TrustBundle& trust) {
  policy::SignedPolicy s;
  s.version = p.version();
  s.digest_hex = p.digest_hex();
  for (const v1::PolicyFile& f : p.files()) s.files[f.path()] = f.content();
  s.published_at_ms = p.published_at().seconds() * 1000 + p.published_at().nanos() / 1000000;
  s.signer_certificate = p.signer_certificate();
  s.signature = p.signature();
  return policy::VerifyPolicy(s, trust, pki::Clock::now()).status();
}

TEST(PolicyPublisher, FirstStartSignsTheBaseline) {
  beibu::testing::TempDir dir;
  Pki hub;
  std::unique_ptr<PolicyPublisher> pub = OpenOrDie(dir.path().string(), hub);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->version(), static_cast<uint64_t>(BaselineVersion()));
  EXPECT_EQ(pub->current()->digest_hex(), policy::ContentDigest(policy::BaselineFiles()));
  EXPECT_TRUE(std::filesystem::exists(dir / "policy/current.pb"));
  EXPECT_TRUE(VerifyProto(*pub->current(), hub.bundle).ok());
}

TEST(PolicyPublisher, PublishesIncreasingVersions) {
  beibu::testing::TempDir dir;
  Pki hub;
  std::unique_ptr<PolicyPublisher> pub = OpenOrDie(dir.path().string(), hub);
  ASSERT_NE(pub, nullptr);
  const uint64_t seen = pub->version();
  for (int64_t v : {BaselineVersion() + 1, BaselineVersion() + 5}) {
    absl::StatusOr<v1::PublishPolicyResponse> r =
        pub->Publish(Request(FilesWithVersion(v)), Operator());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->version(), static_cast<uint64_t>(v));
    EXPECT_EQ(r->digest_hex(), policy::ContentDigest(FilesWithVersion(v)));
    EXPECT_EQ(pub->version(), static_cast<uint64_t>(v));
    EXPECT_TRUE(VerifyProto(*pub->current(), hub.bundle).ok());
  }
  // A waiter that saw an older version returns at once with the new one.
  EXPECT_EQ(pub->WaitForChange(seen, std::chrono::seconds(30)),
            static_cast<uint64_t>(BaselineVersion() + 5));
}

TEST(PolicyPublisher, ReportsChangesAgainstThePreviousVersion) {
  beibu::testing::TempDir dir;
  Pki hub;
  std::unique_ptr<PolicyPublisher> pub = OpenOrDie(dir.path().string(), hub);
  ASSERT_NE(pub, nullptr);
  policy::PolicyFiles files = FilesWithVersion(BaselineVersion() + 1);
  absl::StatusOr<policy::Database> before = policy::LoadDatabase(files);
  ASSERT_TRUE(before.ok());
  ASSERT_FALSE(before->categories.empty());
  // Drop a category's description: a one-line, always-valid change.
  const std::string& any = before->categories.begin()->second.description;
  std::string& taxonomy = files.at("taxonomy.yaml");
  size_t at = taxonomy.find(any);
  ASSERT_NE(at, std::string::npos);
  taxonomy.replace(at, any.size(), "changed by the publisher test");
  absl::StatusOr<v1::PublishPolicyResponse> r = pub->Publish(Request(files), Operator());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GE(r->changes_size(), 1);
  EXPECT_EQ(r->changes(0).rfind("~ category ", 0), 0u) << r->changes(0);
}

TEST(PolicyPublisher, RefusesOlderOrEqualVersions) {
  beibu::testing::TempDir dir;
  Pki hub;
  std::unique_ptr<PolicyPublisher> pub = OpenOrDie(dir.path().string(), hub);
  ASSERT_NE(pub, nullptr);
  const int64_t v = BaselineVersion() + 2;
  ASSERT_TRUE(pub->Publish(Request(FilesWithVersion(v)), Operator()).ok());
  for (int64_t older : {v, v - 1}) {
    absl::StatusOr<v1::PublishPolicyResponse> r =
        pub->Publish(Request(FilesWithVersion(older)), Operator());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find(absl::StrCat("current version ", v)), std::string::npos)
        << r.status();
  }
  EXPECT_EQ(pub->version(), static_cast<uint64_t>(v));
}

TEST(PolicyPublisher, RefusesBadRequests) {
  beibu::testing::TempDir dir;
  Pki hub;
  std::unique_ptr<PolicyPublisher> pub = OpenOrDie(dir.path().string(), hub);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->Publish(v1::PublishPolicyRequest(), Operator()).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::PublishPolicyRequest twice = Request(FilesWithVersion(BaselineVersion() + 1));
  *twice.add_files() = twice.files(0);
  EXPECT_EQ(pub->Publish(twice, Operator()).status().code(), absl::StatusCode::kInvalidArgument);
  policy::PolicyFiles broken = FilesWithVersion(BaselineVersion() + 1);
  broken.erase("taxonomy.yaml");
  absl::StatusOr<v1::PublishPolicyResponse> r = pub->Publish(Request(broken), Operator());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("taxonomy.yaml"), std::string::npos) << r.status();
  EXPECT_EQ(pub->version(), static_cast<uint64_t>(BaselineVersion()));
}

TEST(PolicyPublisher, PersistsAcrossReopen) {
  beibu::testing::TempDir dir;
  Pki hub;
  v1::SignedPolicy published;
  {
    std::unique_ptr<PolicyPublisher> pub = OpenOrDie(dir.path().string(), hub);
    ASSERT_NE(pub, nullptr);
    ASSERT_TRUE(pub->Publish(Request(FilesWithVersion(BaselineVersion() + 3)), Operator()).ok());
    published = *pub->current();
  }
  std::unique_ptr<PolicyPublisher> again = OpenOrDie(dir.path().string(), hub);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->version(), published.version());
  EXPECT_EQ(again->current()->SerializeAsString(), published.SerializeAsString());
  // Still refuses what is not above the reloaded version.
  EXPECT_EQ(
      again->Publish(Request(FilesWithVersion(BaselineVersion() + 3)), Operator()).status().code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST(PolicyPublisher, ResignsWhenTheHubCertificateChanged) {
  beibu::testing::TempDir dir;
  Pki hub;
  {
    std::unique_ptr<PolicyPublisher> pub = OpenOrDie(dir.path().string(), hub);
    ASSERT_NE(pub, nullptr);
    ASSERT_TRUE(pub->Publish(Request(FilesWithVersion(BaselineVersion() + 1)), Operator()).ok());
  }
  // The same CA issues the hub a new key and certificate.
  Pki renewed = hub;
  renewed.key = policy::testing::NewKey();
  pki::Identity who;
  who.id = "hub";
  who.role = pki::Role::kHub;
  who.country = "CN";
  renewed.cert_pem = hub.ca.Issue(renewed.key.PublicKey(), who)->ToPem();
  std::unique_ptr<PolicyPublisher> again = OpenOrDie(dir.path().string(), renewed);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->version(), static_cast<uint64_t>(BaselineVersion() + 1));
  EXPECT_EQ(again->current()->signer_certificate(), renewed.cert_pem);
  EXPECT_TRUE(VerifyProto(*again->current(), hub.bundle).ok());
}

TEST(PolicyPublisher, CorruptStateRefusesToStart) {
  beibu::testing::TempDir dir;
  Pki hub;
  beibu::testing::WriteFile(dir / "policy/current.pb", "\xff\xff garbage");
  absl::StatusOr<std::unique_ptr<PolicyPublisher>> pub = PolicyPublisher::Open(
      {.data_dir = dir.path().string(), .key = hub.key, .certificate_pem = hub.cert_pem});
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(pub.status().message().find("current.pb"), std::string::npos) << pub.status();
}

}  // namespace
}  // namespace beibu::hub
