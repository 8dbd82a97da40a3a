// The handshake matrix: every way a peer is refused, with the status it gets,
// and the successful paths (mutual authentication, anonymous enrolment with a
// pinned CA, mutual recognition of a foreign root).
#include "beibu/channel/handshake.h"

#include <gtest/gtest.h>

#include "beibu/crypto/crypto.h"
#include "pki_fixture.h"

namespace beibu::channel {
namespace {

using pki::Role;
using testing::TestPki;

struct Outcome {
  absl::Status status;  // the first refusal, from either side
  std::optional<Session> client;
  std::optional<Session> server;
};

struct Tamper {
  std::function<void(v1::ClientHello&)> client_hello;
  std::function<void(v1::ServerFlight&)> server_flight;
  std::function<void(v1::HandshakeAuth&)> client_auth;
};

Outcome RunHandshake(HandshakeConfig client_cfg, HandshakeConfig server_cfg, Tamper t = {}) {
  Outcome out;
  absl::StatusOr<ClientHandshake> client = ClientHandshake::Start(std::move(client_cfg));
  if (!client.ok()) return {client.status(), std::nullopt, std::nullopt};
  Bytes ch = client->client_hello();
  if (t.client_hello) {
    v1::ClientHello msg;
    EXPECT_TRUE(msg.ParseFromArray(ch.data(), ch.size()));
    t.client_hello(msg);
    ch = ToBytes(msg.SerializeAsString());
  }
  absl::StatusOr<ServerHandshake> server = ServerHandshake::Accept(std::move(server_cfg), ch);
  if (!server.ok()) return {server.status(), std::nullopt, std::nullopt};
  v1::ServerFlight flight = server->server_flight();
  if (t.server_flight) t.server_flight(flight);
  auto finished = client->Finish(flight);
  if (!finished.ok()) return {finished.status(), std::nullopt, std::nullopt};
  v1::HandshakeAuth auth = finished->first;
  if (t.client_auth) t.client_auth(auth);
  absl::StatusOr<Session> server_session = server->Finish(auth);
  if (!server_session.ok()) return {server_session.status(), std::nullopt, std::nullopt};
  out.client = std::move(finished->second);
  out.server = *std::move(server_session);
  return out;
}

void ExpectRefused(const Outcome& o, absl::StatusCode code, const std::string& words) {
  ASSERT_FALSE(o.status.ok()) << "expected a refusal mentioning '" << words << "'";
  EXPECT_EQ(o.status.code(), code) << o.status;
  EXPECT_NE(o.status.message().find(words), std::string::npos) << o.status;
}

class HandshakeTest : public ::testing::Test {
 protected:
  TestPki pki_;
  HandshakeConfig HubServer(std::set<Role> allowed = {Role::kEdge, Role::kOperator}) {
    return pki_.Config(pki_.Issue("hub", Role::kHub), allowed);
  }
  HandshakeConfig EdgeClient(const std::string& id = "edge-vn") {
    return pki_.Config(pki_.Issue(id, Role::kEdge, "VN"), {Role::kHub});
  }
};

TEST_F(HandshakeTest, MutualAuthenticationEstablishesBothDirections) {
  Outcome o = RunHandshake(EdgeClient(), HubServer());
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.client->peer->id, "hub");
  EXPECT_EQ(o.client->peer->role, Role::kHub);
  EXPECT_EQ(o.server->peer->id, "edge-vn");
  EXPECT_EQ(o.server->peer->country, "VN");
  EXPECT_EQ(o.client->suite, v1::SM4_CTR_HMAC_SM3);
  EXPECT_EQ(o.client->id_hex, o.server->id_hex);
  Bytes up = o.client->sealer.Seal(RecordType::kData, AsBytes("to hub")).value();
  EXPECT_EQ(AsChars(o.server->opener.Open(up).value().payload), "to hub");
  Bytes down = o.server->sealer.Seal(RecordType::kData, AsBytes("to edge")).value();
  EXPECT_EQ(AsChars(o.client->opener.Open(down).value().payload), "to edge");
}

TEST_F(HandshakeTest, EachSessionHasFreshKeys) {
  Outcome a = RunHandshake(EdgeClient(), HubServer());
  Outcome b = RunHandshake(EdgeClient(), HubServer());
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_NE(a.client->id_hex, b.client->id_hex);
  Bytes rec = a.client->sealer.Seal(RecordType::kData, AsBytes("x")).value();
  EXPECT_FALSE(b.server->opener.Open(rec).ok()) << "sessions must not share keys";
}

TEST_F(HandshakeTest, UnknownCaRefusedByServer) {
  HandshakeConfig client = pki_.Config(pki_.Issue(pki_.foreign, "edge-sg", Role::kEdge, "SG"));
  ExpectRefused(RunHandshake(client, HubServer()), absl::StatusCode::kUnauthenticated,
                "unknown CA");
}

TEST_F(HandshakeTest, UnknownCaRefusedByClient) {
  HandshakeConfig server = pki_.Config(pki_.Issue(pki_.foreign, "hub", Role::kHub, "SG"));
  ExpectRefused(RunHandshake(EdgeClient(), server), absl::StatusCode::kUnauthenticated,
                "unknown CA");
}

TEST_F(HandshakeTest, MutuallyRecognisedForeignRootAccepted) {
  HandshakeConfig client = pki_.Config(pki_.Issue(pki_.foreign, "edge-sg", Role::kEdge, "SG"));
  HandshakeConfig server = HubServer();
  auto bundle = pki_.Bundle();
  ASSERT_TRUE(bundle->AddRoot(pki_.foreign.certificate()).ok());
  server.trust = bundle;
  Outcome o = RunHandshake(client, server);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.server->peer->id, "edge-sg");
}

TEST_F(HandshakeTest, ExpiredClientCertificateRefused) {
  pki::IssueOptions past{.validity = std::chrono::hours(1),
                         .not_before = pki::Clock::now() - std::chrono::hours(3)};
  HandshakeConfig client = pki_.Config(pki_.Issue("edge-vn", Role::kEdge, "VN", past));
  ExpectRefused(RunHandshake(client, HubServer()), absl::StatusCode::kUnauthenticated, "expired");
}

TEST_F(HandshakeTest, ExpiredServerCertificateRefused) {
  pki::IssueOptions past{.validity = std::chrono::hours(1),
                         .not_before = pki::Clock::now() - std::chrono::hours(3)};
  HandshakeConfig server = pki_.Config(pki_.Issue("hub", Role::kHub, "CN", past));
  ExpectRefused(RunHandshake(EdgeClient(), server), absl::StatusCode::kUnauthenticated, "expired");
}

TEST_F(HandshakeTest, RevokedClientCertificateRefused) {
  Credentials edge = pki_.Issue("edge-vn", Role::kEdge, "VN");
  auto bundle = pki_.Bundle();
  std::string serial = edge.chain.front().SerialHex();
  ASSERT_TRUE(bundle->AddCrl(pki_.ca.IssueCrl({{serial, pki::Clock::now()}}, 1).value()).ok());
  HandshakeConfig server = HubServer();
  server.trust = bundle;
  ExpectRefused(RunHandshake(pki_.Config(edge), server), absl::StatusCode::kPermissionDenied,
                "revoked");
  // A sibling certificate from the same CA still gets in.
  EXPECT_TRUE(RunHandshake(EdgeClient("edge-my"), server).status.ok());
}

TEST_F(HandshakeTest, WrongClientRoleRefused) {
  HandshakeConfig client = pki_.Config(pki_.Issue("acme", Role::kEnterprise, "VN"));
  ExpectRefused(RunHandshake(client, HubServer()), absl::StatusCode::kPermissionDenied, "role");
}

TEST_F(HandshakeTest, WrongServerRoleRefused) {
  // The client wants a hub; an edge answers.
  HandshakeConfig server = pki_.Config(pki_.Issue("edge-sg", Role::kEdge, "SG"));
  ExpectRefused(RunHandshake(EdgeClient(), server), absl::StatusCode::kPermissionDenied, "role");
}

TEST_F(HandshakeTest, UnexpectedServerIdRefused) {
  HandshakeConfig client = EdgeClient();
  client.expected_peer_id = "hub";
  HandshakeConfig server = pki_.Config(pki_.Issue("hub-impostor", Role::kHub));
  Outcome o = RunHandshake(client, server);
  ASSERT_FALSE(o.status.ok());
  // The server notices first that it is not the one asked for.
  EXPECT_EQ(o.status.code(), absl::StatusCode::kNotFound) << o.status;
}

TEST_F(HandshakeTest, StolenCertificateWithoutItsKeyRefused) {
  Credentials real = pki_.Issue("edge-vn", Role::kEdge, "VN");
  Credentials thief{testing::NewKey(), real.chain};
  ExpectRefused(RunHandshake(pki_.Config(thief), HubServer()), absl::StatusCode::kUnauthenticated,
                "client signature");
}

TEST_F(HandshakeTest, ServerWithoutItsKeyRefused) {
  Credentials real = pki_.Issue("hub", Role::kHub);
  Credentials impostor{testing::NewKey(), real.chain};
  ExpectRefused(RunHandshake(EdgeClient(), pki_.Config(impostor)),
                absl::StatusCode::kUnauthenticated, "server signature");
}

TEST_F(HandshakeTest, SuiteStrippedInTransitIsDetected) {
  // Both sides claim SM4-GCM; a man in the middle removes it from the offer.
  HandshakeConfig client = EdgeClient();
  client.suites = {v1::SM4_GCM_SM3, v1::SM4_CTR_HMAC_SM3};
  HandshakeConfig server = HubServer();
  server.suites = {v1::SM4_GCM_SM3, v1::SM4_CTR_HMAC_SM3};
  Tamper t;
  t.client_hello = [](v1::ClientHello& ch) {
    ch.clear_suites();
    ch.add_suites(v1::SM4_CTR_HMAC_SM3);
  };
  ExpectRefused(RunHandshake(client, server, t), absl::StatusCode::kUnauthenticated, "downgrade");
}

TEST_F(HandshakeTest, ServerChoosingWeakerSuiteIsDetected) {
  HandshakeConfig client = EdgeClient();
  client.suites = {v1::SM4_GCM_SM3, v1::SM4_CTR_HMAC_SM3};
  HandshakeConfig server = HubServer();
  server.suites = {v1::SM4_GCM_SM3, v1::SM4_CTR_HMAC_SM3};
  Tamper t;
  t.server_flight = [](v1::ServerFlight& f) {
    v1::ServerHello sh;
    sh.ParseFromString(f.server_hello());
    sh.set_suite(v1::SM4_CTR_HMAC_SM3);
    f.set_server_hello(sh.SerializeAsString());
  };
  ExpectRefused(RunHandshake(client, server, t), absl::StatusCode::kUnauthenticated,
                "suite downgrade");
}

TEST_F(HandshakeTest, TamperedServerHelloRefused) {
  Tamper t;
  t.server_flight = [](v1::ServerFlight& f) {
    v1::ServerHello sh;
    sh.ParseFromString(f.server_hello());
    std::string r = sh.random();
    r[0] ^= 1;
    sh.set_random(r);
    f.set_server_hello(sh.SerializeAsString());
  };
  ExpectRefused(RunHandshake(EdgeClient(), HubServer(), t), absl::StatusCode::kUnauthenticated,
                "tampered");
}

TEST_F(HandshakeTest, TamperedServerFinishedRefused) {
  Tamper t;
  t.server_flight = [](v1::ServerFlight& f) {
    std::string fin = f.auth().finished();
    fin[3] ^= 1;
    f.mutable_auth()->set_finished(fin);
  };
  ExpectRefused(RunHandshake(EdgeClient(), HubServer(), t), absl::StatusCode::kUnauthenticated,
                "finished");
}

TEST_F(HandshakeTest, TamperedClientFinishedRefused) {
  Tamper t;
  t.client_auth = [](v1::HandshakeAuth& a) {
    std::string fin = a.finished();
    fin[0] ^= 1;
    a.set_finished(fin);
  };
  ExpectRefused(RunHandshake(EdgeClient(), HubServer(), t), absl::StatusCode::kUnauthenticated,
                "finished");
}

TEST_F(HandshakeTest, ReplayedClientAuthFromAnotherSessionRefused) {
  // Record a genuine client's HandshakeAuth, then replay it into a new session.
  v1::HandshakeAuth recorded;
  Tamper capture;
  capture.client_auth = [&](v1::HandshakeAuth& a) { recorded = a; };
  ASSERT_TRUE(RunHandshake(EdgeClient(), HubServer(), capture).status.ok());
  Tamper replay;
  replay.client_auth = [&](v1::HandshakeAuth& a) { a = recorded; };
  ExpectRefused(RunHandshake(EdgeClient(), HubServer(), replay), absl::StatusCode::kUnauthenticated,
                "signature");
}

TEST_F(HandshakeTest, AnonymousClientRefusedUnlessAllowed) {
  HandshakeConfig client;
  client.trust = pki_.Bundle();
  ExpectRefused(RunHandshake(client, HubServer()), absl::StatusCode::kUnauthenticated,
                "certificate required");
  HandshakeConfig server = HubServer();
  server.allow_anonymous_peer = true;
  Outcome o = RunHandshake(client, server);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_FALSE(o.server->peer.has_value());
}

TEST_F(HandshakeTest, EnrolmentPinsTheCaByFingerprint) {
  HandshakeConfig server = HubServer();
  server.allow_anonymous_peer = true;
  HandshakeConfig client;
  client.pinned_root_fingerprint = pki_.ca.certificate().FingerprintHex();
  client.allowed_peer_roles = {Role::kHub};
  Outcome o = RunHandshake(client, server);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.client->peer->id, "hub");

  client.pinned_root_fingerprint = pki_.foreign.certificate().FingerprintHex();
  ExpectRefused(RunHandshake(client, server), absl::StatusCode::kUnauthenticated, "fingerprint");
}

TEST_F(HandshakeTest, MalformedClientHelloRefused) {
  HandshakeConfig server = HubServer();
  EXPECT_TRUE(absl::IsInvalidArgument(
      ServerHandshake::Accept(server, AsBytes("\xff\xff\xff garbage")).status()));
  Tamper bad_share;
  bad_share.client_hello = [](v1::ClientHello& ch) {
    std::string p = ch.key_share();
    p[40] ^= 0x55;  // off the curve
    ch.set_key_share(p);
  };
  ExpectRefused(RunHandshake(EdgeClient(), HubServer(), bad_share),
                absl::StatusCode::kInvalidArgument, "curve");
  Tamper bad_version;
  bad_version.client_hello = [](v1::ClientHello& ch) { ch.set_version(7); };
  ExpectRefused(RunHandshake(EdgeClient(), HubServer(), bad_version),
                absl::StatusCode::kInvalidArgument, "version");
}

TEST_F(HandshakeTest, NoCommonSuiteRefused) {
  HandshakeConfig client = EdgeClient();
  client.suites = {v1::SM4_GCM_SM3};
  HandshakeConfig server = HubServer();
  server.suites = {v1::SM4_CTR_HMAC_SM3};
  ExpectRefused(RunHandshake(client, server), absl::StatusCode::kFailedPrecondition,
                "no cipher suite");
}

}  // namespace
}  // namespace beibu::channel
