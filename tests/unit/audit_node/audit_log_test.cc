// A node's audit log: events in, signed checkpoints out, and a node that
// refuses to serve a log which does not contain its last signed checkpoint.
#include "beibu/audit/audit_log.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "beibu/crypto/crypto.h"
#include "temp_dir.h"

namespace beibu::audit {
namespace {

v1::AuditEvent Event(const std::string& op) {
  v1::AuditEvent e;
  e.set_operation(op);
  e.mutable_who()->set_id("ops");
  e.mutable_who()->set_role("operator");
  return e;
}

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogOptions Options(const std::string& sub = "audit") {
    return {.dir = (dir_ / sub).string(), .node_id = "edge-vn", .key = key_,
            .node_country = "VN", .checkpoint_interval = std::chrono::milliseconds(0),
            .now_ms = [this] { return now_ms_; }};
  }
  testing::TempDir dir_;
  crypto::Sm2PrivateKey key_ = crypto::Sm2PrivateKey::Generate().value();
  uint64_t now_ms_ = 1'800'000'000'000;
};

TEST_F(AuditLogTest, EventsRoundTripWithWhereFilledIn) {
  auto log = AuditLog::Open(Options()).value();
  uint64_t i = log->Append(Event("admin.revoke")).value();
  EXPECT_EQ(i, 0u);
  v1::AuditEvent back = DecodeAuditEvent(log->store().Entry(0).value()).value();
  EXPECT_EQ(back.operation(), "admin.revoke");
  EXPECT_EQ(back.node_id(), "edge-vn");
  EXPECT_EQ(back.node_country(), "VN");
  EXPECT_EQ(back.schema_version(), 1u);
  EXPECT_TRUE(back.has_time());
  EXPECT_FALSE(DecodeAuditEvent(AsBytes("BBNZ\x01 not an event")).ok());
}

TEST_F(AuditLogTest, CheckpointsAreSignedMonotonicAndPersisted) {
  std::string first;
  {
    auto log = AuditLog::Open(Options()).value();
    EXPECT_EQ(log->Checkpoint().value(), "") << "nothing to sign for an empty log";
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(Event("op")).ok());
    first = log->Checkpoint().value();
    EXPECT_EQ(log->Checkpoint().value(), first) << "no new entries, no new checkpoint";
    SignedNote note = ParseSignedNote(first).value();
    ASSERT_TRUE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
    audit::Checkpoint cp = ParseCheckpoint(note.body).value();
    EXPECT_EQ(cp.size, 5u);
    EXPECT_EQ(cp.origin, LogOrigin("edge-vn"));
    EXPECT_EQ(cp.root, log->store().Root(5).value());
    // The clock going backwards does not make the timestamp go backwards.
    now_ms_ -= 60'000;
    ASSERT_TRUE(log->Append(Event("op")).ok());
    audit::Checkpoint later =
        ParseCheckpoint(ParseSignedNote(log->Checkpoint().value()).value().body).value();
    EXPECT_EQ(later.size, 6u);
    EXPECT_GE(later.timestamp_ms, cp.timestamp_ms);
  }
  auto reopened = AuditLog::Open(Options()).value();
  EXPECT_EQ(reopened->store().size(), 6u);
  EXPECT_NE(reopened->last_checkpoint_note(), first);
}

TEST_F(AuditLogTest, RefusesALogThatDoesNotContainItsLastCheckpoint) {
  {
    auto log = AuditLog::Open(Options()).value();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->Append(Event("genuine")).ok());
    ASSERT_FALSE(log->Checkpoint().value().empty());
  }
  {
    // Someone rebuilds the log from scratch with other entries (a consistent
    // rewrite the store itself cannot notice) and puts the note back.
    auto other = AuditLog::Open(Options("forged")).value();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(other->Append(Event("forged")).ok());
  }
  std::filesystem::remove_all(dir_ / "audit/log");
  std::filesystem::rename(dir_ / "forged/log", dir_ / "audit/log");
  absl::StatusOr<std::unique_ptr<AuditLog>> refused = AuditLog::Open(Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("last signed checkpoint"), std::string::npos)
      << refused.status();
}

TEST_F(AuditLogTest, RefusesACheckpointSignedByAnotherKey) {
  {
    auto log = AuditLog::Open(Options()).value();
    ASSERT_TRUE(log->Append(Event("op")).ok());
    ASSERT_FALSE(log->Checkpoint().value().empty());
  }
  key_ = crypto::Sm2PrivateKey::Generate().value();
  absl::StatusOr<std::unique_ptr<AuditLog>> refused = AuditLog::Open(Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
}

}  // namespace
}  // namespace beibu::audit
