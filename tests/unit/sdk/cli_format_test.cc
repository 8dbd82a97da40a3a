// The CLI's pure parts: flags to header, plain-words status, exit codes,
// state names, progress bar.
#include <gtest/gtest.h>

#include "progress.h"
#include "transfer_format.h"

namespace beibu::cli {
namespace {

TransferFlags Flags() {
  TransferFlags f;
  f.to = "cn";
  f.to_enterprise = "cn-importer";
  f.category = "logistics.track";
  return f;
}

TEST(TransferFlagsTest, BuildsAValidatedHeaderWithARandomId) {
  TransferFlags f = Flags();
  f.level = "important";
  f.attest = {"asean-mcc"};
  absl::StatusOr<v1::TransferHeader> h = f.ToHeader();
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->to_country(), "CN");
  EXPECT_EQ(h->declared_level(), "IMPORTANT");
  EXPECT_EQ(h->transfer_id().size(), 32u);
  EXPECT_EQ(h->attested_size(), 1);
}

TEST(TransferFlagsTest, SpiImpliesPiAndPersonsNeedsPi) {
  TransferFlags f = Flags();
  f.spi = true;
  absl::StatusOr<v1::TransferHeader> h = f.ToHeader();
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->declared_pi());
  f = Flags();
  f.persons = 10;
  EXPECT_TRUE(absl::IsInvalidArgument(f.ToHeader().status()));
}

TEST(TransferFlagsTest, BadIdIsRejected) {
  TransferFlags f = Flags();
  f.id = "x y";
  EXPECT_TRUE(absl::IsInvalidArgument(f.ToHeader().status()));
}

TEST(DescribeStatusTest, FastSaysWhereItWentAndWhichRules) {
  v1::TransferStatus s;
  s.set_transfer_id("abc");
  s.set_state(v1::IN_FLIGHT);
  s.set_to_country("CN");
  s.mutable_decision()->set_decision("FAST");
  s.mutable_decision()->add_rules("asean.general.fast");
  std::string line = DescribeStatus(s);
  EXPECT_NE(line.find("transfer abc: FAST"), std::string::npos) << line;
  EXPECT_NE(line.find("outbox"), std::string::npos) << line;
  EXPECT_NE(line.find("CN"), std::string::npos) << line;
  EXPECT_NE(line.find("rules: asean.general.fast"), std::string::npos) << line;
  EXPECT_EQ(TransferExitCode(s), 0);
}

TEST(DescribeStatusTest, RefusalsExitOneAndSayWhy) {
  v1::TransferStatus s;
  s.set_transfer_id("abc");
  s.set_state(v1::DENIED);
  s.mutable_decision()->set_decision("DENY");
  s.mutable_decision()->set_reason("core data may not leave");
  EXPECT_NE(DescribeStatus(s).find("core data may not leave"), std::string::npos);
  EXPECT_EQ(TransferExitCode(s), 1);
  s.set_state(v1::SANDBOX_ONLY);
  s.mutable_decision()->set_decision("SANDBOX_ONLY");
  s.set_sandbox_hint("sandbox.edge-cn");
  EXPECT_NE(DescribeStatus(s).find("sandbox.edge-cn"), std::string::npos);
  EXPECT_EQ(TransferExitCode(s), 1);
  s.set_state(v1::HELD_FOR_REVIEW);
  s.mutable_decision()->set_decision("REVIEW");
  EXPECT_EQ(TransferExitCode(s), 0);
}

TEST(DescribeTransferTest, ListsStepsInTimeOrder) {
  v1::TransferStatus s;
  s.set_transfer_id("abc");
  s.set_state(v1::DELIVERED);
  (*s.mutable_steps())["DELIVERED"].set_seconds(2000000000);
  (*s.mutable_steps())["ACCEPTED"].set_seconds(1999999990);
  std::string text = DescribeTransfer(s);
  size_t steps = text.find("steps:");
  ASSERT_NE(steps, std::string::npos) << text;
  size_t accepted = text.find("ACCEPTED", steps), delivered = text.find("DELIVERED", steps);
  ASSERT_NE(accepted, std::string::npos) << text;
  ASSERT_NE(delivered, std::string::npos) << text;
  EXPECT_LT(accepted, delivered) << text;
}

TEST(ParseTransferStateTest, AcceptsAnyCaseAndListsNamesOnError) {
  absl::StatusOr<v1::TransferState> s = ParseTransferState("delivered");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, v1::DELIVERED);
  absl::Status bad = ParseTransferState("arrived").status();
  EXPECT_TRUE(absl::IsInvalidArgument(bad));
  EXPECT_NE(bad.message().find("ACKNOWLEDGED"), std::string_view::npos);
  EXPECT_FALSE(ParseTransferState("TRANSFER_STATE_UNSPECIFIED").ok());
}

TEST(ToJsonTest, UsesProtoFieldNames) {
  v1::TransferStatus s;
  s.set_transfer_id("abc");
  s.set_payload_sm3("00");
  std::string j = ToJson(s);
  EXPECT_NE(j.find("\"transfer_id\":\"abc\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"payload_sm3\""), std::string::npos) << j;
}

TEST(ProgressBarTest, Renders) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(3ull << 20), "3.0 MiB");
  EXPECT_EQ(RenderProgressBar(5 << 20, 10 << 20, 2.0, 10),
            "[#####.....]  50%  5.0 MiB / 10.0 MiB  2.5 MiB/s");
  EXPECT_EQ(RenderProgressBar(10, 10, 0, 4), "[####] 100%  10 B / 10 B  -");
  EXPECT_EQ(RenderProgressBar(20, 10, 1, 4), "[####] 100%  10 B / 10 B  20 B/s")
      << "never more than full";
  EXPECT_EQ(RenderProgressBar(2048, 0, 1), "2.0 KiB  2.0 KiB/s");
}

}  // namespace
}  // namespace beibu::cli
