// DbBreakerStore on a real RocksDB: save, load, erase, reopen, and an
// unreadable record skipped.
#include "beibu/gateway/breaker_store.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace beibu::gateway {
namespace {

v1::Breaker Open(const std::string& scope, const std::string& reason) {
  v1::Breaker b;
  b.set_scope(scope);
  b.set_state(v1::BREAKER_OPEN);
  b.set_reason(reason);
  b.set_tripped_by("operator:alice");
  return b;
}

TEST(DbBreakerStoreTest, SavesLoadsAndErasesAcrossReopen) {
  testing::TempDir dir;
  const std::string path = (dir / "gateway").string();
  {
    auto store = DbBreakerStore::Open(path).value();
    EXPECT_TRUE(store->LoadAll().value().empty());
    ASSERT_TRUE(store->Save(Open("route:VN>CN", "one")).ok());
    ASSERT_TRUE(store->Save(Open("global", "two")).ok());
    ASSERT_TRUE(store->Save(Open("route:VN>CN", "replaced")).ok());
    ASSERT_TRUE(store->Save(Open("enterprise:x", "three")).ok());
    ASSERT_TRUE(store->Erase("enterprise:x").ok());
    ASSERT_TRUE(store->Erase("enterprise:never").ok());  // absent: nothing to do
  }
  auto store = DbBreakerStore::Open(path).value();
  std::vector<v1::Breaker> all = store->LoadAll().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].scope(), "global");
  EXPECT_EQ(all[0].reason(), "two");
  EXPECT_EQ(all[1].scope(), "route:VN>CN");
  EXPECT_EQ(all[1].reason(), "replaced");
  EXPECT_EQ(all[1].state(), v1::BREAKER_OPEN);
}

TEST(DbBreakerStoreTest, UnreadableRecordIsSkipped) {
  testing::TempDir dir;
  const std::string path = (dir / "gateway").string();
  {
    auto db = storage::Db::Open(path).value();
    ASSERT_TRUE(db->Put("b/global", std::string("\x0a\x50truncated", 11)).ok());
    v1::Breaker good = Open("route:VN>CN", "fine");
    ASSERT_TRUE(db->Put("b/route:VN>CN", good.SerializeAsString()).ok());
    ASSERT_TRUE(db->Put("other/key", "not ours").ok());
  }
  auto store = DbBreakerStore::Open(path).value();
  std::vector<v1::Breaker> all = store->LoadAll().value();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].scope(), "route:VN>CN");
}

TEST(DbBreakerStoreTest, OpenFailsClearlyWhenTheDirectoryIsUnusable) {
  testing::TempDir dir;
  testing::WriteFile(dir / "file", "x");
  auto store = DbBreakerStore::Open((dir / "file" / "gateway").string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("breaker store"), absl::string_view::npos)
      << store.status();
}

}  // namespace
}  // namespace beibu::gateway
