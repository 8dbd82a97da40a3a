#include "beibu/envelope/transfer_keys.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "beibu/crypto/kdf.h"
#include "beibu/envelope/epoch_key.h"
#include "beibu/envelope/epoch_secret_cache.h"

namespace beibu::envelope {
namespace {

struct Edges {
  crypto::Sm2KeyShare sender = crypto::Sm2KeyShare::Generate().value();
  crypto::Sm2KeyShare recipient = crypto::Sm2KeyShare::Generate().value();
  TransferIds ids{"t-0001", "edge-vn", "edge-cn", EpochKeyId(sender.public_point()),
                  EpochKeyId(recipient.public_point())};
};

TEST(TransferKeys, BothSidesDeriveTheSameKeys) {
  Edges e;
  TransferKeys at_sender = DeriveTransferKeys(e.sender, e.recipient.public_point(), e.ids).value();
  TransferKeys at_recipient =
      DeriveTransferKeys(e.recipient, e.sender.public_point(), e.ids).value();
  EXPECT_EQ(at_sender.enc_key.size(), 16u);
  EXPECT_EQ(at_sender.mac_key.size(), 32u);
  EXPECT_EQ(at_sender.enc_key, at_recipient.enc_key);
  EXPECT_EQ(at_sender.mac_key, at_recipient.mac_key);
}

TEST(TransferKeys, MatchesTheDocumentedSchedule) {
  Edges e;
  // Recomputed from the primitives following transfer_keys.h.
  Bytes secret = e.sender.Derive(e.recipient.public_point()).value();
  Bytes prk = crypto::HkdfSm3Extract(AsBytes("beibu e2e v1"), secret).value();
  std::string info = "transfer";
  for (const std::string* s : {&e.ids.transfer_id, &e.ids.from_edge, &e.ids.to_edge,
                               &e.ids.sender_key_id, &e.ids.recipient_key_id}) {
    uint32_t n = s->size();
    info += {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
    info += *s;
  }
  Bytes okm = crypto::HkdfSm3Expand(prk, AsBytes(info), 48).value();
  TransferKeys keys = DeriveTransferKeys(e.sender, e.recipient.public_point(), e.ids).value();
  EXPECT_EQ(keys.enc_key, Bytes(okm.begin(), okm.begin() + 16));
  EXPECT_EQ(keys.mac_key, Bytes(okm.begin() + 16, okm.end()));
}

TEST(TransferKeys, EveryIdChangesTheKeys) {
  Edges e;
  Bytes prk = DeriveEpochPrk(e.sender, e.recipient.public_point()).value();
  TransferKeys base = DeriveTransferKeysFromPrk(prk, e.ids).value();
  for (int i = 0; i < 5; ++i) {
    TransferIds ids = e.ids;
    std::string* fields[] = {&ids.transfer_id, &ids.from_edge, &ids.to_edge, &ids.sender_key_id,
                             &ids.recipient_key_id};
    *fields[i] += "x";
    TransferKeys other = DeriveTransferKeysFromPrk(prk, ids).value();
    EXPECT_NE(other.enc_key, base.enc_key) << i;
    EXPECT_NE(other.mac_key, base.mac_key) << i;
  }
  // Length prefixes keep ("ab","c") and ("a","bc") apart.
  TransferIds a = e.ids, b = e.ids;
  a.from_edge = "ab";
  a.to_edge = "c";
  b.from_edge = "a";
  b.to_edge = "bc";
  EXPECT_NE(DeriveTransferKeysFromPrk(prk, a)->enc_key, DeriveTransferKeysFromPrk(prk, b)->enc_key);
}

TEST(TransferKeys, WrongShareGivesOtherKeys) {
  Edges e;
  crypto::Sm2KeyShare stranger = crypto::Sm2KeyShare::Generate().value();
  TransferKeys good = DeriveTransferKeys(e.sender, e.recipient.public_point(), e.ids).value();
  TransferKeys bad = DeriveTransferKeys(stranger, e.sender.public_point(), e.ids).value();
  EXPECT_NE(good.mac_key, bad.mac_key);
}

TEST(TransferKeys, RefusesBadInput) {
  Edges e;
  TransferIds ids = e.ids;
  ids.transfer_id.clear();
  EXPECT_EQ(DeriveTransferKeys(e.sender, e.recipient.public_point(), ids).status().code(),
            absl::StatusCode::kInvalidArgument);
  Bytes bad = e.recipient.public_point();
  bad[40] ^= 1;
  EXPECT_EQ(DeriveTransferKeys(e.sender, bad, e.ids).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DeriveTransferKeys(e.sender, Bytes(), e.ids).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EpochSecretCache, ReturnsTheSamePrkAsADirectDerivation) {
  Edges e;
  EpochSecretCache cache(4);
  Bytes direct = DeriveEpochPrk(e.sender, e.recipient.public_point()).value();
  Bytes first = cache
                    .GetOrDerive(e.ids.sender_key_id, e.ids.recipient_key_id, e.sender,
                                 e.recipient.public_point())
                    .value();
  Bytes second = cache
                     .GetOrDerive(e.ids.sender_key_id, e.ids.recipient_key_id, e.sender,
                                  e.recipient.public_point())
                     .value();
  EXPECT_EQ(first, direct);
  EXPECT_EQ(second, direct);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(EpochSecretCache, IsBounded) {
  crypto::Sm2KeyShare own = crypto::Sm2KeyShare::Generate().value();
  std::string own_id = EpochKeyId(own.public_point());
  EpochSecretCache cache(3);
  std::vector<crypto::Sm2KeyShare> peers;
  for (int i = 0; i < 5; ++i) {
    peers.push_back(crypto::Sm2KeyShare::Generate().value());
    const Bytes& p = peers.back().public_point();
    ASSERT_TRUE(cache.GetOrDerive(own_id, EpochKeyId(p), own, p).ok());
    EXPECT_LE(cache.size(), 3u);
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.capacity(), 3u);
}

TEST(EpochSecretCache, RefusesAPointThatDoesNotMatchItsId) {
  Edges e;
  EpochSecretCache cache;
  crypto::Sm2KeyShare other = crypto::Sm2KeyShare::Generate().value();
  absl::StatusOr<Bytes> prk = cache.GetOrDerive(e.ids.sender_key_id, e.ids.recipient_key_id,
                                                e.sender, other.public_point());
  EXPECT_EQ(prk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(EpochSecretCache, ConcurrentCallersAgree) {
  Edges e;
  EpochSecretCache cache(8);
  Bytes direct = DeriveEpochPrk(e.sender, e.recipient.public_point()).value();
  std::vector<Bytes> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      results[t] = cache
                       .GetOrDerive(e.ids.sender_key_id, e.ids.recipient_key_id, e.sender,
                                    e.recipient.public_point())
                       .value();
    });
  }
  for (std::thread& th : threads) th.join();
  for (const Bytes& r : results) EXPECT_EQ(r, direct);
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace beibu::envelope
