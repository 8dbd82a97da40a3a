#include "beibu/pki/identity.h"

#include <gtest/gtest.h>

#include <cctype>

#include "beibu/pki/authority.h"

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

TEST(CanonicalSerialHexTest, MatchesTheFormCertificatesPrint) {
  EXPECT_EQ(CanonicalSerialHex("0A1B").value(), "0a1b");
  EXPECT_EQ(CanonicalSerialHex("serial=0A1B").value(), "0a1b");
  EXPECT_EQ(CanonicalSerialHex("0a:1b").value(), "0a1b");
  EXPECT_EQ(CanonicalSerialHex("a1b").value(), "0a1b");
  EXPECT_EQ(CanonicalSerialHex("000a1b").value(), "0a1b");
  EXPECT_EQ(CanonicalSerialHex("0").value(), "00");
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalSerialHex("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalSerialHex("xyz").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalSerialHex(std::string(42, 'a')).status()));
}

TEST(CanonicalSerialHexTest, RoundTripsEveryIssuedSerial) {
  // About one serial in sixteen has a leading zero nibble: issue enough.
  auto ca = CertificateAuthority::CreateRoot(crypto::Sm2PrivateKey::Generate().value(), "R", "CN").value();
  auto key = crypto::Sm2PrivateKey::Generate().value();
  for (int i = 0; i < 64; ++i) {
    Certificate c = ca.Issue(key.PublicKey(), {.id = "x", .role = Role::kEdge, .country = "VN"}).value();
    std::string upper = c.SerialHex();
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_EQ(CanonicalSerialHex(upper).value(), c.SerialHex());
  }
}

}  // namespace
}  // namespace beibu::pki
