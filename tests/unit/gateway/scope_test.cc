// Scope text forms: parse/print round trip, refusals, and what each covers.
#include "beibu/gateway/scope.h"

#include <gtest/gtest.h>

namespace beibu::gateway {
namespace {

TEST(ScopeTest, ParseAndToStringRoundTrip) {
  for (const char* text :
       {"global", "route:VN>CN", "enterprise:vn-shipper", "enterprise:a.b:c/d"}) {
    absl::StatusOr<Scope> s = Scope::Parse(text);
    ASSERT_TRUE(s.ok()) << text << ": " << s.status();
    EXPECT_EQ(s->ToString(), text);
  }
  EXPECT_EQ(Scope::Parse("route:VN>CN").value(), Scope::Route("VN", "CN"));
  EXPECT_EQ(Scope::Parse("enterprise:x").value(), Scope::Enterprise("x"));
  EXPECT_EQ(Scope::Parse("global").value(), Scope::Global());
  EXPECT_EQ(Scope::Route("TH", "MY").ToString(), "route:TH>MY");
}

TEST(ScopeTest, RefusesOtherFormsListingTheAcceptedOnes) {
  std::string long_id(129, 'a');
  for (std::string text :
       {std::string(""), std::string("Global"), std::string("route:vn>CN"),
        std::string("route:VNM>CN"), std::string("route:VN-CN"), std::string("route:VN>"),
        std::string("enterprise:"), std::string("enterprise:has space"), "enterprise:" + long_id,
        std::string("enterprise:\x01", 12), std::string("country:VN")}) {
    absl::StatusOr<Scope> s = Scope::Parse(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("\"global\""), absl::string_view::npos);
    EXPECT_NE(s.status().message().find("route:VN>CN"), absl::string_view::npos);
    EXPECT_NE(s.status().message().find("enterprise:<certificate id>"), absl::string_view::npos);
  }
  EXPECT_TRUE(Scope::Parse("enterprise:" + std::string(128, 'a')).ok());
}

TEST(ScopeTest, CoversItsSends) {
  EXPECT_TRUE(Scope::Global().Covers("anyone", "VN", "CN"));
  Scope route = Scope::Route("VN", "CN");
  EXPECT_TRUE(route.Covers("a", "VN", "CN"));
  EXPECT_FALSE(route.Covers("a", "CN", "VN"));
  EXPECT_FALSE(route.Covers("a", "VN", "TH"));
  Scope ent = Scope::Enterprise("vn-shipper");
  EXPECT_TRUE(ent.Covers("vn-shipper", "VN", "TH"));
  EXPECT_FALSE(ent.Covers("vn-shipper2", "VN", "TH"));
  EXPECT_FALSE(ent.Covers("cn-buyer", "VN", "TH"));
}

}  // namespace
}  // namespace beibu::gateway
