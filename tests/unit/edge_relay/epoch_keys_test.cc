// EpochKeys: own keys on disk (persist, rotate, destroy), peer keys verified
// against the trust bundle, and both edges of a transfer deriving its keys.
#include "exchange/epoch_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "beibu/crypto/sm2.h"
#include "beibu/envelope/epoch_key.h"
#include "test_edges.h"

namespace beibu::edge {
namespace {

using ::beibu::edge::testing::MakeEdge;
using ::beibu::edge::testing::NewCa;
using ::beibu::edge::testing::TestEdge;

// One clock for every edge of a test, moved by hand.
// Starts a little ahead: certificates issued during the test are valid from
// the current second, which may lie after a clock read at fixture setup.
struct FakeClock {
  absl::Time now = absl::Now() + absl::Seconds(2);
};

class EpochKeysTest : public ::testing::Test {
 protected:
  std::unique_ptr<EpochKeys> OpenKeys(const TestEdge& edge,
                                      std::chrono::seconds rotation = std::chrono::hours(24),
                                      std::chrono::seconds lifetime = std::chrono::hours(72)) {
    EpochKeyOptions o;
    o.dir = edge.data_dir + "/epoch";
    o.rotation = rotation;
    o.lifetime = lifetime;
    o.now = [c = clock_] { return c->now; };
    absl::StatusOr<std::unique_ptr<EpochKeys>> keys = EpochKeys::Open(o, edge.identity.get());
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? *std::move(keys) : nullptr;
  }

  v1::EnvelopeHeader Header(const std::string& from_edge, const std::string& from_country,
                            const std::string& to_country, const std::string& id = "t-1") {
    v1::EnvelopeHeader h;
    h.set_transfer_id(id);
    h.set_from_edge(from_edge);
    h.set_from_country(from_country);
    h.set_to_country(to_country);
    return h;
  }

  beibu::testing::TempDir dir_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  pki::CertificateAuthority ca_ = NewCa("Beibu Root CA");
};

TEST_F(EpochKeysTest, GeneratesPersistsPrivateHalfWithMode0600AndReloadsSameKey) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  std::string id;
  {
    auto keys = OpenKeys(vn);
    ASSERT_NE(keys, nullptr);
    v1::EpochKey cur = keys->current();
    id = cur.key_id();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(cur.edge_id(), "edge-vn");
    EXPECT_FALSE(cur.edge_certificate().empty());
  }
  const std::string pem = vn.data_dir + "/epoch/own/" + id + ".pem";
  ASSERT_TRUE(std::filesystem::exists(pem));
  ASSERT_TRUE(std::filesystem::exists(vn.data_dir + "/epoch/own/" + id + ".key"));
  struct stat st {};
  ASSERT_EQ(stat(pem.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto reopened = OpenKeys(vn);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->current().key_id(), id);
  EXPECT_EQ(reopened->own_keys().size(), 1u);
}

TEST_F(EpochKeysTest, ADamagedOwnKeyIsSkippedAndANewOneMade) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  std::string id = OpenKeys(vn)->current().key_id();
  const std::string key_file = vn.data_dir + "/epoch/own/" + id + ".key";
  beibu::testing::WriteFile(key_file, "not a record");
  auto keys = OpenKeys(vn);
  ASSERT_NE(keys, nullptr);
  EXPECT_NE(keys->current().key_id(), id);
  EXPECT_TRUE(std::filesystem::exists(key_file));  // left for the operator
}

TEST_F(EpochKeysTest, RotatesWhenTheCurrentKeyIsOlderThanTheRotationPeriod) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  auto keys = OpenKeys(vn, std::chrono::hours(1), std::chrono::hours(3));
  const std::string first = keys->current().key_id();
  clock_->now += absl::Minutes(30);
  ASSERT_TRUE(keys->RotateIfDue().ok());
  EXPECT_EQ(keys->current().key_id(), first);
  clock_->now += absl::Minutes(31);
  ASSERT_TRUE(keys->RotateIfDue().ok());
  const std::string second = keys->current().key_id();
  EXPECT_NE(second, first);
  // The old share stays for transfers sealed to it.
  ASSERT_EQ(keys->own_keys().size(), 2u);
  EXPECT_EQ(keys->own_keys()[0].key_id(), first);
  // A restart keeps the newer one current.
  keys.reset();
  EXPECT_EQ(OpenKeys(vn, std::chrono::hours(1), std::chrono::hours(3))->current().key_id(), second);
}

TEST_F(EpochKeysTest, DestroysOwnSharesPastNotAfter) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  TestEdge cn = MakeEdge(dir_.path(), ca_, "edge-cn", "CN");
  auto vk = OpenKeys(vn, std::chrono::hours(1), std::chrono::hours(2));
  auto ck = OpenKeys(cn, std::chrono::hours(1), std::chrono::hours(2));
  const std::string first = ck->current().key_id();
  ASSERT_TRUE(ck->AddPeerKey(vk->current()).ok());
  ASSERT_TRUE(vk->AddPeerKey(ck->current()).ok());
  v1::EnvelopeHeader h = Header("edge-vn", "VN", "CN");
  ASSERT_TRUE(vk->PrepareSend(&h).ok());
  ASSERT_TRUE(ck->KeysFor(h).ok());

  clock_->now += absl::Hours(2) + absl::Seconds(1);
  ASSERT_TRUE(ck->RotateIfDue().ok());
  EXPECT_FALSE(std::filesystem::exists(cn.data_dir + "/epoch/own/" + first + ".pem"));
  EXPECT_FALSE(std::filesystem::exists(cn.data_dir + "/epoch/own/" + first + ".key"));
  EXPECT_NE(ck->current().key_id(), first);
  ASSERT_EQ(ck->own_keys().size(), 1u);
  // A transfer sealed to the destroyed share can no longer be opened.
  absl::StatusOr<envelope::TransferKeys> gone = ck->KeysFor(h);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find(first), absl::string_view::npos) << gone.status();
  // The expired peer key is forgotten too.
  EXPECT_EQ(ck->peer_key_count(), 0u);
}

TEST_F(EpochKeysTest, TwoEdgesDeriveIdenticalKeysInBothDirections) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  TestEdge cn = MakeEdge(dir_.path(), ca_, "edge-cn", "CN");
  auto vk = OpenKeys(vn);
  auto ck = OpenKeys(cn);
  absl::Status added = vk->AddPeerKey(ck->current());
  ASSERT_TRUE(added.ok()) << added;
  ASSERT_TRUE(ck->AddPeerKey(vk->current()).ok());
  EXPECT_EQ(vk->peer_key_count(), 1u);

  v1::EnvelopeHeader to_cn = Header("edge-vn", "VN", "CN", "t-vn-cn");
  absl::StatusOr<envelope::TransferKeys> sent = vk->PrepareSend(&to_cn);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(to_cn.to_edge(), "edge-cn");
  EXPECT_EQ(to_cn.sender_key_id(), vk->current().key_id());
  EXPECT_EQ(to_cn.recipient_key_id(), ck->current().key_id());
  absl::StatusOr<envelope::TransferKeys> got = ck->KeysFor(to_cn);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->enc_key, sent->enc_key);
  EXPECT_EQ(got->mac_key, sent->mac_key);

  v1::EnvelopeHeader to_vn = Header("edge-cn", "CN", "VN", "t-cn-vn");
  absl::StatusOr<envelope::TransferKeys> back = ck->PrepareSend(&to_vn);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(to_vn.to_edge(), "edge-vn");
  absl::StatusOr<envelope::TransferKeys> back_got = vk->KeysFor(to_vn);
  ASSERT_TRUE(back_got.ok()) << back_got.status();
  EXPECT_EQ(back_got->enc_key, back->enc_key);
  EXPECT_EQ(back_got->mac_key, back->mac_key);
  EXPECT_NE(back->enc_key, sent->enc_key);  // another transfer, other keys

  // The destination is not the sender: it cannot open what it sent itself.
  EXPECT_EQ(ck->KeysFor(to_vn).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(EpochKeysTest, PeerKeysSurviveARestartSoNoHubIsNeededToDecrypt) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  TestEdge cn = MakeEdge(dir_.path(), ca_, "edge-cn", "CN");
  auto vk = OpenKeys(vn);
  auto ck = OpenKeys(cn);
  ASSERT_TRUE(vk->AddPeerKey(ck->current()).ok());
  ASSERT_TRUE(ck->AddPeerKey(vk->current()).ok());
  v1::EnvelopeHeader h = Header("edge-vn", "VN", "CN");
  absl::StatusOr<envelope::TransferKeys> sent = vk->PrepareSend(&h);
  ASSERT_TRUE(sent.ok());
  ck.reset();
  auto reopened = OpenKeys(cn);
  EXPECT_EQ(reopened->peer_key_count(), 1u);
  absl::StatusOr<envelope::TransferKeys> got = reopened->KeysFor(h);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->enc_key, sent->enc_key);
}

TEST_F(EpochKeysTest, PrepareSendIsUnavailableWithoutAKeyOfTheDestinationCountry) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  TestEdge sg = MakeEdge(dir_.path(), ca_, "edge-sg", "SG");
  auto vk = OpenKeys(vn);
  auto sk = OpenKeys(sg);
  v1::EnvelopeHeader h = Header("edge-vn", "VN", "CN");
  absl::StatusOr<envelope::TransferKeys> k = vk->PrepareSend(&h);
  EXPECT_EQ(k.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(k.status().message().find("serving CN"), absl::string_view::npos) << k.status();
  // A key of another country does not help.
  ASSERT_TRUE(vk->AddPeerKey(sk->current()).ok());
  EXPECT_EQ(vk->PrepareSend(&h).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(h.to_edge().empty());
}

TEST_F(EpochKeysTest, SeveralEdgesOfOneCountryTheNewestKeyWins) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  TestEdge cn1 = MakeEdge(dir_.path(), ca_, "edge-cn-1", "CN");
  TestEdge cn2 = MakeEdge(dir_.path(), ca_, "edge-cn-2", "CN");
  auto vk = OpenKeys(vn);
  auto k1 = OpenKeys(cn1);
  clock_->now += absl::Minutes(1);
  auto k2 = OpenKeys(cn2);
  ASSERT_TRUE(vk->AddPeerKey(k2->current()).ok());
  ASSERT_TRUE(vk->AddPeerKey(k1->current()).ok());
  v1::EnvelopeHeader h = Header("edge-vn", "VN", "CN");
  ASSERT_TRUE(vk->PrepareSend(&h).ok());
  EXPECT_EQ(h.to_edge(), "edge-cn-2");
}

TEST_F(EpochKeysTest, KeysForIsNotFoundForUnknownKeyIds) {
  TestEdge vn = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
  TestEdge cn = MakeEdge(dir_.path(), ca_, "edge-cn", "CN");
  TestEdge sg = MakeEdge(dir_.path(), ca_, "edge-sg", "SG");
  auto vk = OpenKeys(vn);
  auto ck = OpenKeys(cn);
  auto sk = OpenKeys(sg);
  ASSERT_TRUE(ck->AddPeerKey(sk->current()).ok());

  v1::EnvelopeHeader h = Header("edge-vn", "VN", "CN");
  h.set_to_edge("edge-cn");
  h.set_sender_key_id(vk->current().key_id());  // not fetched by cn
  h.set_recipient_key_id(ck->current().key_id());
  absl::Status unknown_sender = ck->KeysFor(h).status();
  EXPECT_EQ(unknown_sender.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown_sender.message().find(vk->current().key_id()), absl::string_view::npos);

  // A known key, but of another edge than the header's sender.
  h.set_sender_key_id(sk->current().key_id());
  EXPECT_EQ(ck->KeysFor(h).status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(ck->AddPeerKey(vk->current()).ok());
  h.set_sender_key_id(vk->current().key_id());
  h.set_recipient_key_id("00112233445566778899aabbccddeeff");
  absl::Status unknown_own = ck->KeysFor(h).status();
  EXPECT_EQ(unknown_own.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown_own.message().find("00112233445566778899aabbccddeeff"),
            absl::string_view::npos);
}

// --- Verification of peers' keys ------------------------------------------

class PeerKeyVerificationTest : public EpochKeysTest {
 protected:
  void SetUp() override {
    vn_ = MakeEdge(dir_.path(), ca_, "edge-vn", "VN");
    cn_ = MakeEdge(dir_.path(), ca_, "edge-cn", "CN");
    sg_ = MakeEdge(dir_.path(), ca_, "edge-sg", "SG");
    vk_ = OpenKeys(*vn_);
    ck_ = OpenKeys(*cn_);
  }
  void ExpectRefused(const v1::EpochKey& key, absl::StatusCode code, const std::string& words) {
    absl::Status s = vk_->AddPeerKey(key);
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_NE(s.message().find(words), absl::string_view::npos) << s;
    EXPECT_EQ(vk_->peer_key_count(), 0u);
    v1::EnvelopeHeader h = Header("edge-vn", "VN", "CN");
    EXPECT_EQ(vk_->PrepareSend(&h).status().code(), absl::StatusCode::kUnavailable);
  }
  v1::EpochKey Generate(const crypto::Sm2PrivateKey& signer, const std::string& edge_id,
                        absl::Time not_before) {
    absl::StatusOr<envelope::EpochKeyPair> pair =
        envelope::EpochKeyPair::Generate(signer, edge_id, not_before, not_before + absl::Hours(24));
    EXPECT_TRUE(pair.ok()) << pair.status();
    return pair->key;
  }

  std::optional<TestEdge> vn_, cn_, sg_;
  std::unique_ptr<EpochKeys> vk_, ck_;
};

TEST_F(PeerKeyVerificationTest, RefusesAKeySignedByAnotherEdgesKey) {
  v1::EpochKey forged = Generate(sg_->key, "edge-cn", clock_->now);
  forged.set_edge_certificate(cn_->cert.ToPem());
  ExpectRefused(forged, absl::StatusCode::kUnauthenticated, "is not signed by");
}

TEST_F(PeerKeyVerificationTest, RefusesTheCertificateOfAnotherEdge) {
  v1::EpochKey key = ck_->current();
  key.set_edge_certificate(sg_->cert.ToPem());
  ExpectRefused(key, absl::StatusCode::kPermissionDenied, "its certificate is of 'edge-sg'");
}

TEST_F(PeerKeyVerificationTest, RefusesACertificateFromAnUnknownCa) {
  pki::CertificateAuthority rogue = NewCa("Rogue CA");
  TestEdge xx = MakeEdge(dir_.path() / "rogue", rogue, "edge-cn", "CN");
  v1::EpochKey key = Generate(xx.key, "edge-cn", clock_->now);
  key.set_edge_certificate(xx.cert.ToPem());
  ExpectRefused(key, absl::StatusCode::kUnauthenticated, "unknown CA");
}

TEST_F(PeerKeyVerificationTest, RefusesATamperedPublicKey) {
  v1::EpochKey key = ck_->current();
  crypto::Sm2KeyShare other = crypto::Sm2KeyShare::Generate().value();
  key.set_public_key(std::string(AsChars(other.public_point())));
  // With the key id left alone the record is malformed...
  ExpectRefused(key, absl::StatusCode::kInvalidArgument, "key_id");
  // ...and with it recomputed the signature no longer covers it.
  key.set_key_id(envelope::EpochKeyId(other.public_point()));
  ExpectRefused(key, absl::StatusCode::kUnauthenticated, "is not signed by");
}

TEST_F(PeerKeyVerificationTest, RefusesTheKeyOfARevokedEdge) {
  absl::StatusOr<pki::RevocationList> crl =
      ca_.IssueCrl({{cn_->cert.SerialHex(), std::chrono::system_clock::now()}}, 1);
  ASSERT_TRUE(crl.ok()) << crl.status();
  TestEdge strict = MakeEdge(dir_.path() / "strict", ca_, "edge-vn", "VN", {}, {*crl});
  auto keys = OpenKeys(strict);
  absl::Status s = keys->AddPeerKey(ck_->current());
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_NE(s.message().find("revoked"), absl::string_view::npos) << s;
  EXPECT_EQ(keys->peer_key_count(), 0u);
}

TEST_F(PeerKeyVerificationTest, AcceptsANotBeforeWithinTheClockSkewOnly) {
  v1::EpochKey soon = Generate(cn_->key, "edge-cn", clock_->now + absl::Minutes(2));
  soon.set_edge_certificate(cn_->cert.ToPem());
  EXPECT_TRUE(vk_->AddPeerKey(soon).ok());
  EXPECT_EQ(vk_->peer_key_count(), 1u);
  v1::EpochKey later = Generate(cn_->key, "edge-cn", clock_->now + absl::Minutes(10));
  later.set_edge_certificate(cn_->cert.ToPem());
  absl::Status s = vk_->AddPeerKey(later);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(vk_->peer_key_count(), 1u);
}

TEST_F(PeerKeyVerificationTest, IgnoresItsOwnKeyAndAcceptsAGoodOne) {
  EXPECT_TRUE(vk_->AddPeerKey(vk_->current()).ok());
  EXPECT_EQ(vk_->peer_key_count(), 0u);
  EXPECT_TRUE(vk_->AddPeerKey(ck_->current()).ok());
  EXPECT_TRUE(vk_->AddPeerKey(ck_->current()).ok());  // again: no duplicate
  EXPECT_EQ(vk_->peer_key_count(), 1u);
}

}  // namespace
}  // namespace beibu::edge
