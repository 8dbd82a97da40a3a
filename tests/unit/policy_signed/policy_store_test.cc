// The edge's store (edge-node/policy_store.h): applies newer signed versions,
// refuses older or unsigned ones, survives a restart, falls back to the
// baseline when its file is bad. Versions come from a real PolicyPublisher,
// as the hub would push them.
#include "policy_store.h"

#include <gtest/gtest.h>

#include "policy_publisher.h"
#include "signed_test_util.h"
#include "temp_dir.h"

namespace beibu::edge {
namespace {

using policy::testing::BaselineVersion;
using policy::testing::FilesWithVersion;
using policy::testing::Pki;

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<hub::PolicyPublisher>> pub =
        hub::PolicyPublisher::Open({.data_dir = (hub_dir_ / "hub").string(),
                                    .key = pki_.key,
                                    .certificate_pem = pki_.cert_pem});
    ASSERT_TRUE(pub.ok()) << pub.status();
    publisher_ = *std::move(pub);
    trust_ = std::make_shared<const pki::TrustBundle>(pki_.bundle);
  }

  // The hub's signed message for `version`.
  v1::SignedPolicy Signed(int64_t version) {
    v1::PublishPolicyRequest req;
    for (const auto& [path, content] : FilesWithVersion(version)) {
      v1::PolicyFile* f = req.add_files();
      f->set_path(path);
      f->set_content(content);
    }
    pki::Identity op;
    op.id = "ops";
    op.role = pki::Role::kOperator;
    op.country = "CN";
    absl::StatusOr<v1::PublishPolicyResponse> r = publisher_->Publish(req, op);
    EXPECT_TRUE(r.ok()) << r.status();
    return *publisher_->current();
  }

  std::unique_ptr<PolicyHolder> NewHolder() {
    absl::StatusOr<std::unique_ptr<PolicyHolder>> h = PolicyHolder::CreateWithBaseline();
    EXPECT_TRUE(h.ok()) << h.status();
    return *std::move(h);
  }

  std::unique_ptr<PolicyStore> OpenStore(PolicyHolder* holder) {
    absl::StatusOr<std::unique_ptr<PolicyStore>> s =
        PolicyStore::Open({.data_dir = edge_dir_.path().string(),
                           .trust = [this] { return trust_; },
                           .holder = holder});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  beibu::testing::TempDir hub_dir_;
  beibu::testing::TempDir edge_dir_;
  Pki pki_;
  std::unique_ptr<hub::PolicyPublisher> publisher_;
  std::shared_ptr<const pki::TrustBundle> trust_;
};

TEST_F(PolicyStoreTest, StartsWithTheBaseline) {
  auto holder = NewHolder();
  auto store = OpenStore(holder.get());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Enforced().first, static_cast<uint64_t>(BaselineVersion()));
  EXPECT_EQ(store->Enforced().second, policy::ContentDigest(policy::BaselineFiles()));
}

TEST_F(PolicyStoreTest, AppliesANewerVersion) {
  auto holder = NewHolder();
  auto store = OpenStore(holder.get());
  ASSERT_NE(store, nullptr);
  v1::SignedPolicy v2 = Signed(BaselineVersion() + 1);
  ASSERT_TRUE(store->Apply(v2).ok());
  EXPECT_EQ(holder->current()->db.version, BaselineVersion() + 1);
  EXPECT_EQ(store->Enforced(), std::make_pair(v2.version(), v2.digest_hex()));
  EXPECT_TRUE(std::filesystem::exists(edge_dir_ / "policy/current.pb"));
}

TEST_F(PolicyStoreTest, RefusesOlderOrEqualVersions) {
  auto holder = NewHolder();
  auto store = OpenStore(holder.get());
  ASSERT_NE(store, nullptr);
  v1::SignedPolicy baseline = *publisher_->current();  // the signed baseline
  EXPECT_EQ(store->Apply(baseline).code(), absl::StatusCode::kFailedPrecondition);
  v1::SignedPolicy v3 = Signed(BaselineVersion() + 2);
  v1::SignedPolicy v4 = Signed(BaselineVersion() + 3);
  ASSERT_TRUE(store->Apply(v4).ok());
  EXPECT_EQ(store->Apply(v3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Apply(v4).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(holder->current()->db.version, BaselineVersion() + 3);
}

TEST_F(PolicyStoreTest, RefusesUnsignedOrTamperedVersions) {
  auto holder = NewHolder();
  auto store = OpenStore(holder.get());
  ASSERT_NE(store, nullptr);
  v1::SignedPolicy unsigned_policy = Signed(BaselineVersion() + 1);
  unsigned_policy.clear_signature();
  EXPECT_EQ(store->Apply(unsigned_policy).code(), absl::StatusCode::kUnauthenticated);
  v1::SignedPolicy tampered = *publisher_->current();
  tampered.mutable_files(0)->mutable_content()->append("\n# tampered\n");
  EXPECT_EQ(store->Apply(tampered).code(), absl::StatusCode::kUnauthenticated);
  v1::SignedPolicy twice = *publisher_->current();
  *twice.add_files() = twice.files(0);
  EXPECT_EQ(store->Apply(twice).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(holder->current()->db.version, BaselineVersion());
  EXPECT_FALSE(std::filesystem::exists(edge_dir_ / "policy/current.pb"));
}

TEST_F(PolicyStoreTest, ReloadsThePersistedVersionAfterARestart) {
  v1::SignedPolicy v3 = Signed(BaselineVersion() + 2);
  {
    auto holder = NewHolder();
    auto store = OpenStore(holder.get());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Apply(v3).ok());
  }
  auto holder = NewHolder();  // a restarted edge starts from the baseline...
  auto store = OpenStore(holder.get());
  ASSERT_NE(store, nullptr);
  // ...and enforces what it had applied.
  EXPECT_EQ(holder->current()->db.version, BaselineVersion() + 2);
  EXPECT_EQ(store->Enforced().second, v3.digest_hex());
}

TEST_F(PolicyStoreTest, CorruptPersistedFileFallsBackToTheBaseline) {
  beibu::testing::WriteFile(edge_dir_ / "policy/current.pb", "\xff\xff not a message");
  auto holder = NewHolder();
  auto store = OpenStore(holder.get());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(holder->current()->db.version, BaselineVersion());
  // And it still applies what the hub pushes next.
  EXPECT_TRUE(store->Apply(Signed(BaselineVersion() + 1)).ok());
}

TEST_F(PolicyStoreTest, PersistedVersionNoLongerTrustedFallsBackToTheBaseline) {
  {
    auto holder = NewHolder();
    auto store = OpenStore(holder.get());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Apply(Signed(BaselineVersion() + 1)).ok());
  }
  trust_ = std::make_shared<const pki::TrustBundle>(Pki().bundle);  // another CA
  auto holder = NewHolder();
  auto store = OpenStore(holder.get());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(holder->current()->db.version, BaselineVersion());
}

}  // namespace
}  // namespace beibu::edge
