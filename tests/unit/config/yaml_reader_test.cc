// The config reader: typed settings, and a clear file:line refusal for every
// mistake an operator makes in a YAML file.
#include "beibu/config/yaml_reader.h"

#include <gtest/gtest.h>

#include "beibu/config/files.h"
#include "temp_dir.h"

namespace beibu::config {
namespace {

absl::Status Check(const std::string& yaml, const std::function<void(YamlReader&)>& read) {
  absl::StatusOr<YamlReader> r = YamlReader::Parse(yaml, "test.yaml");
  if (!r.ok()) return r.status();
  read(*r);
  return r->Finish();
}

void ExpectRefused(const std::string& yaml, const std::function<void(YamlReader&)>& read,
                   const std::string& words) {
  absl::Status s = Check(yaml, read);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(words), std::string::npos) << s;
}

TEST(YamlReaderTest, ReadsTypedAndNestedSettings) {
  absl::StatusOr<YamlReader> r = YamlReader::Parse(
      "listen: 127.0.0.1:7400\ncount: 5\non: true\nroots: [a, b]\ntls:\n  cert: c.pem\n", "t.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Address("listen", ""), "127.0.0.1:7400");
  EXPECT_EQ(r->Int("count", 0, 0, 10), 5);
  EXPECT_TRUE(r->Bool("on", false));
  EXPECT_EQ(r->StringList("roots"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->String("tls.cert", ""), "c.pem");
  EXPECT_EQ(r->String("missing", "fallback"), "fallback");
  EXPECT_TRUE(r->Finish().ok());
}

TEST(YamlReaderTest, RefusesEachMistakeWithFileAndLine) {
  auto listen = [](YamlReader& r) { r.Address("listen", ""); };
  ExpectRefused("listen: 127.0.0.1:1\ntypo: 2\n", listen, "test.yaml:2: unknown setting 'typo'");
  ExpectRefused("listen: 127.0.0.1\n", listen, "must be host:port");
  ExpectRefused("listen: 127.0.0.1:99999\n", listen, "must be host:port");
  ExpectRefused(
      "count: many\n", [](YamlReader& r) { r.Int("count", 0, 0, 9); }, "must be an integer");
  ExpectRefused(
      "count: 11\n", [](YamlReader& r) { r.Int("count", 0, 0, 9); }, "out of range");
  ExpectRefused(
      "x: 1\n", [](YamlReader& r) { r.RequiredString("node_id"); },
      "missing required setting 'node_id'");
  ExpectRefused(
      "tls.cert: a\n", [](YamlReader& r) { r.String("tls.cert", ""); }, "nested");
  ExpectRefused(
      "roots: [{a: b}]\n", [](YamlReader& r) { r.StringList("roots"); }, "list of strings");
  ExpectRefused(
      "on: maybe\n", [](YamlReader& r) { r.Bool("on", false); }, "true or false");
  absl::Status s = Check("a: [unclosed\n", [](YamlReader&) {});
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("not valid YAML"), std::string::npos) << s;
  s = Check("- a list\n", [](YamlReader&) {});
  EXPECT_NE(s.message().find("mapping"), std::string::npos) << s;
}

TEST(FilesTest, AtomicWritesKeepModeAndNeverReplaceWhenAsked) {
  testing::TempDir dir;
  std::string key = (dir / "k/key.pem").string();
  ASSERT_TRUE(WriteFileAtomic(key, "secret", 0600).ok());
  EXPECT_EQ(ReadFile(key).value(), "secret");
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  absl::Status s = WriteFileAtomic(key, "other", 0600, /*overwrite=*/false);
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_EQ(ReadFile(key).value(), "secret");
  ASSERT_TRUE(WriteFileAtomic(key, "new", 0600).ok());
  EXPECT_EQ(ReadFile(key).value(), "new");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "k")) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "no temporary files left behind";
  EXPECT_TRUE(absl::IsNotFound(ReadFile((dir / "absent").string()).status()));
}

}  // namespace
}  // namespace beibu::config
