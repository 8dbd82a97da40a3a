// RocksDB on disk: durable writes, atomic batches, prefix scans, reopening,
// and a clear refusal when another process holds the database.
#include "beibu/storage/db.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "temp_dir.h"

namespace beibu::storage {
namespace {

TEST(DbTest, PutGetDeleteAndScanByPrefix) {
  testing::TempDir dir;
  auto db = Db::Open((dir / "db").string()).value();
  ASSERT_TRUE(db->Put("node/b", "2").ok());
  ASSERT_TRUE(db->Put("node/a", "1").ok());
  ASSERT_TRUE(db->Put("token/x", "t").ok());
  EXPECT_EQ(db->Get("node/a").value(), "1");
  EXPECT_TRUE(absl::IsNotFound(db->Get("node/c").status()));
  std::vector<std::string> keys;
  ASSERT_TRUE(db->Scan("node/", [&](std::string_view k, std::string_view) {
                  keys.emplace_back(k);
                  return true;
                }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"node/a", "node/b"}));
  ASSERT_TRUE(db->Delete("node/a").ok());
  EXPECT_TRUE(absl::IsNotFound(db->Get("node/a").status()));
}

TEST(DbTest, BatchIsAtomicAndSurvivesReopen) {
  testing::TempDir dir;
  {
    auto db = Db::Open((dir / "db").string()).value();
    WriteBatch b;
    b.Put("a", "1");
    b.Put("b", "2");
    b.Delete("a");
    ASSERT_TRUE(db->Write(b).ok());
  }
  auto db = Db::Open((dir / "db").string()).value();
  EXPECT_TRUE(absl::IsNotFound(db->Get("a").status()));
  EXPECT_EQ(db->Get("b").value(), "2");
}

TEST(DbTest, AcknowledgedWriteSurvivesKill9) {
  testing::TempDir dir;
  std::string path = (dir / "db").string();
  pid_t child = fork();
  if (child == 0) {
    auto db = Db::Open(path).value();
    (void)db->Put("acked", "yes");
    _exit(0 * kill(getpid(), SIGKILL));  // die without closing the database
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto db = Db::Open(path).value();
  EXPECT_EQ(db->Get("acked").value(), "yes");
}

TEST(DbTest, SecondOpenOfAHeldDatabaseIsRefusedClearly) {
  testing::TempDir dir;
  auto db = Db::Open((dir / "db").string()).value();
  absl::StatusOr<std::unique_ptr<Db>> second = Db::Open((dir / "db").string());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("another process"), std::string::npos);
}

}  // namespace
}  // namespace beibu::storage
