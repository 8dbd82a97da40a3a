// Sm2KeyShare persistence: a share written to PEM and read back must agree on
// the ECDH secret with every peer, exactly as the original share did.
#include <gtest/gtest.h>

#include <string>

#include "beibu/crypto/sm2.h"

namespace beibu::crypto {
namespace {

TEST(KeySharePersist, RestoredShareDerivesTheSameSecret) {
  Sm2KeyShare original = Sm2KeyShare::Generate().value();
  Sm2KeyShare peer = Sm2KeyShare::Generate().value();
  std::string pem = original.ToPrivatePem().value();
  EXPECT_NE(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);

  Sm2KeyShare restored = Sm2KeyShare::FromPrivatePem(pem).value();
  EXPECT_EQ(restored.public_point(), original.public_point());

  Bytes from_original = original.Derive(peer.public_point()).value();
  Bytes from_restored = restored.Derive(peer.public_point()).value();
  Bytes from_peer = peer.Derive(original.public_point()).value();
  EXPECT_EQ(from_restored.size(), 32u);
  EXPECT_EQ(from_restored, from_original);
  EXPECT_EQ(from_restored, from_peer);
}

TEST(KeySharePersist, RestoredShareWritesAndRestoresAgain) {
  Sm2KeyShare original = Sm2KeyShare::Generate().value();
  Sm2KeyShare once = Sm2KeyShare::FromPrivatePem(original.ToPrivatePem().value()).value();
  Sm2KeyShare twice = Sm2KeyShare::FromPrivatePem(once.ToPrivatePem().value()).value();
  Sm2KeyShare peer = Sm2KeyShare::Generate().value();
  EXPECT_EQ(twice.public_point(), original.public_point());
  EXPECT_EQ(twice.Derive(peer.public_point()).value(),
            peer.Derive(original.public_point()).value());
}

TEST(KeySharePersist, RestoredShareRefusesBadPoints) {
  Sm2KeyShare restored =
      Sm2KeyShare::FromPrivatePem(Sm2KeyShare::Generate()->ToPrivatePem().value()).value();
  Bytes off_curve = Sm2KeyShare::Generate()->public_point();
  off_curve[64] ^= 1;
  EXPECT_EQ(restored.Derive(off_curve).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(restored.Derive(Bytes(10, 4)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeySharePersist, RefusesNonKeyPem) {
  EXPECT_EQ(Sm2KeyShare::FromPrivatePem("not a pem").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sm2KeyShare::FromPrivatePem("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeySharePersist, AcceptsAnSm2SigningKeyPemOnlyAsSm2Curve) {
  // An SM2 signing key is a valid scalar on the same curve: it loads, and
  // derives consistently with a peer.
  Sm2PrivateKey signing = Sm2PrivateKey::Generate().value();
  Sm2KeyShare share = Sm2KeyShare::FromPrivatePem(signing.ToPem()).value();
  Sm2KeyShare peer = Sm2KeyShare::Generate().value();
  EXPECT_EQ(share.Derive(peer.public_point()).value(), peer.Derive(share.public_point()).value());
}

}  // namespace
}  // namespace beibu::crypto
