#include "beibu/pki/identity.h"

#include <gtest/gtest.h>

namespace beibu::pki {
namespace {

TEST(IdentityTest, RoleNamesRoundTrip) {
  for (Role role : {Role::kHub, Role::kEdge, Role::kEnterprise, Role::kOfficer, Role::kRegulator,
                    Role::kOperator}) {
    std::optional<Role> parsed = ParseRole(RoleName(role));
    ASSERT_TRUE(parsed.has_value()) << RoleName(role);
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_EQ(RoleName(Role::kHub), "hub");
  EXPECT_EQ(RoleName(Role::kEnterprise), "enterprise");
}

TEST(IdentityTest, UnknownRoleNamesAreRefused) {
  EXPECT_FALSE(ParseRole("admin").has_value());
  EXPECT_FALSE(ParseRole("Edge").has_value());  // role names are exact
  EXPECT_FALSE(ParseRole("").has_value());
}

TEST(IdentityTest, CountryCodes) {
  EXPECT_TRUE(IsCountryCode("CN"));
  EXPECT_TRUE(IsCountryCode("VN"));
  EXPECT_FALSE(IsCountryCode("cn"));
  EXPECT_FALSE(IsCountryCode("CHN"));
  EXPECT_FALSE(IsCountryCode("C"));
  EXPECT_FALSE(IsCountryCode(""));
  EXPECT_FALSE(IsCountryCode("C1"));
}

TEST(IdentityTest, Describe) {
  Identity id;
  id.id = "edge-vn";
  id.role = Role::kEdge;
  id.country = "VN";
  EXPECT_EQ(Describe(id), "edge-vn (edge, VN)");
}

}  // namespace
}  // namespace beibu::pki
