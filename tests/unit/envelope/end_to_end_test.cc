// The whole path between two edges: publish and verify epoch keys, derive the
// transfer keys on each side from the header's ids, seal, open.
#include <gtest/gtest.h>

#include "beibu/crypto/random.h"
#include "beibu/envelope/epoch_key.h"
#include "beibu/envelope/epoch_secret_cache.h"
#include "beibu/envelope/seal.h"
#include "beibu/envelope/transfer_keys.h"

namespace beibu::envelope {
namespace {

TEST(EndToEnd, SenderSealsAndRecipientOpensWithItsOwnShare) {
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  crypto::Sm2PrivateKey vn_cert = crypto::Sm2PrivateKey::Generate().value();
  crypto::Sm2PrivateKey cn_cert = crypto::Sm2PrivateKey::Generate().value();
  EpochKeyPair vn =
      EpochKeyPair::Generate(vn_cert, "edge-vn", now - absl::Hours(1), now + absl::Hours(23))
          .value();
  EpochKeyPair cn =
      EpochKeyPair::Generate(cn_cert, "edge-cn", now - absl::Hours(1), now + absl::Hours(23))
          .value();
  // Each side checks the other's published key before using it.
  ASSERT_TRUE(VerifyEpochKey(cn.key, cn_cert.PublicKey(), now).ok());
  ASSERT_TRUE(VerifyEpochKey(vn.key, vn_cert.PublicKey(), now).ok());

  v1::EnvelopeHeader header;
  header.set_transfer_id("t-e2e-1");
  header.set_from_edge("edge-vn");
  header.set_to_edge("edge-cn");
  header.set_sender_key_id(vn.key.key_id());
  header.set_recipient_key_id(cn.key.key_id());
  header.set_decision("FAST");

  EpochSecretCache vn_cache, cn_cache;
  Bytes vn_prk =
      vn_cache.GetOrDerive(vn.key.key_id(), cn.key.key_id(), vn.share, AsBytes(cn.key.public_key()))
          .value();
  TransferKeys send_keys = DeriveTransferKeysFromPrk(vn_prk, TransferIdsOf(header)).value();
  Bytes payload = crypto::RandomBytes(3000);
  v1::Envelope env = SealEnvelope(send_keys, header, payload, 1024).value();

  // The recipient reads the ids from the authenticated header bytes it got.
  v1::EnvelopeHeader received;
  ASSERT_TRUE(received.ParseFromString(env.header()));
  Bytes cn_prk = cn_cache
                     .GetOrDerive(cn.key.key_id(), received.sender_key_id(), cn.share,
                                  AsBytes(vn.key.public_key()))
                     .value();
  TransferKeys recv_keys = DeriveTransferKeysFromPrk(cn_prk, TransferIdsOf(received)).value();
  EXPECT_EQ(OpenEnvelope(recv_keys, env).value(), payload);

  // A third edge that intercepts the envelope cannot open it with its share.
  crypto::Sm2PrivateKey sg_cert = crypto::Sm2PrivateKey::Generate().value();
  EpochKeyPair sg =
      EpochKeyPair::Generate(sg_cert, "edge-sg", now - absl::Hours(1), now + absl::Hours(1))
          .value();
  TransferKeys sg_keys =
      DeriveTransferKeys(sg.share, AsBytes(vn.key.public_key()), TransferIdsOf(received)).value();
  EXPECT_EQ(OpenEnvelope(sg_keys, env).status().code(), absl::StatusCode::kUnauthenticated);

  // Another transfer between the same edges gets other keys.
  header.set_transfer_id("t-e2e-2");
  TransferKeys next = DeriveTransferKeysFromPrk(vn_prk, TransferIdsOf(header)).value();
  EXPECT_NE(next.enc_key, send_keys.enc_key);
}

}  // namespace
}  // namespace beibu::envelope
