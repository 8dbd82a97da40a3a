#include "beibu/channel/handshake.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/crypto.h"
#include "key_schedule.h"

namespace beibu::channel {

using internal::kRandomSize;

std::vector<v1::CipherSuite> DefaultSuites() {
  std::vector<v1::CipherSuite> suites;
  if (crypto::Sm4Gcm::Available()) suites.push_back(v1::SM4_GCM_SM3);
  suites.push_back(v1::SM4_CTR_HMAC_SM3);
  return suites;
}

namespace {

std::vector<v1::CipherSuite> ConfiguredSuites(const HandshakeConfig& config) {
  return config.suites.empty() ? DefaultSuites() : config.suites;
}

template <typename Repeated>
void AddChain(const std::vector<pki::Certificate>& chain, Repeated* out) {
  for (const pki::Certificate& c : chain) {
    Bytes der = c.ToDer();
    out->Add(std::string(der.begin(), der.end()));
  }
}

}  // namespace

// --- Client -----------------------------------------------------------------

struct ClientHandshake::State {
  HandshakeConfig config;
  std::optional<crypto::Sm2KeyShare> share;
  std::vector<v1::CipherSuite> offered;
  Bytes client_hello;
  bool finished = false;
};

ClientHandshake::ClientHandshake() : state_(std::make_unique<State>()) {}
ClientHandshake::~ClientHandshake() = default;
ClientHandshake::ClientHandshake(ClientHandshake&&) noexcept = default;
ClientHandshake& ClientHandshake::operator=(ClientHandshake&&) noexcept = default;

absl::StatusOr<ClientHandshake> ClientHandshake::Start(HandshakeConfig config) {
  if (!config.trust && config.pinned_root_fingerprint.empty()) {
    return absl::InvalidArgumentError(
        "client handshake needs a trust bundle or a pinned CA fingerprint");
  }
  absl::StatusOr<crypto::Sm2KeyShare> share = crypto::Sm2KeyShare::Generate();
  if (!share.ok()) return share.status();
  ClientHandshake hs;
  State& st = *hs.state_;
  st.offered = ConfiguredSuites(config);
  v1::ClientHello hello;
  hello.set_version(kProtocolVersion);
  Bytes random = crypto::RandomBytes(kRandomSize);
  hello.set_random(std::string(random.begin(), random.end()));
  for (v1::CipherSuite s : st.offered) hello.add_suites(s);
  hello.set_key_share(std::string(share->public_point().begin(), share->public_point().end()));
  if (config.credentials) AddChain(config.credentials->chain, hello.mutable_certificate_chain());
  hello.set_server_id(config.expected_peer_id);
  std::string bytes = hello.SerializeAsString();
  st.client_hello.assign(bytes.begin(), bytes.end());
  st.share.emplace(*std::move(share));
  st.config = std::move(config);
  return hs;
}

const Bytes& ClientHandshake::client_hello() const { return state_->client_hello; }

absl::StatusOr<std::pair<v1::HandshakeAuth, Session>> ClientHandshake::Finish(
    const v1::ServerFlight& flight) {
  State& st = *state_;
  if (st.finished) return absl::FailedPreconditionError("handshake already finished");
  st.finished = true;
  v1::ServerHello sh;
  if (!sh.ParseFromString(flight.server_hello())) {
    return absl::InvalidArgumentError("ServerHello is not a valid protobuf message");
  }
  if (sh.version() != kProtocolVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("server speaks BBSC version ", sh.version(), ", this client only 1"));
  }
  if (sh.random().size() != kRandomSize || sh.supported_suites_size() > internal::kMaxSuites) {
    return absl::InvalidArgumentError("ServerHello has a malformed random or suite list");
  }
  absl::StatusOr<std::vector<pki::Certificate>> chain =
      internal::ParseChain(sh.certificate_chain());
  if (!chain.ok()) return chain.status();
  absl::StatusOr<pki::Identity> server = internal::VerifyPeer(st.config, *chain);
  if (!server.ok()) return server.status();
  if (!st.config.expected_peer_id.empty() && server->id != st.config.expected_peer_id) {
    return absl::PermissionDeniedError(absl::StrCat("server identifies as ", server->id,
                                                    ", expected ", st.config.expected_peer_id));
  }
  // The server's signature covers our ClientHello as we sent it, so a suite
  // list stripped in transit shows up as a bad signature below; a server that
  // picks a weaker suite than both sides support is refused here.
  std::vector<v1::CipherSuite> server_supported;
  for (int s : sh.supported_suites()) server_supported.push_back(static_cast<v1::CipherSuite>(s));
  v1::CipherSuite best = internal::SelectSuite(st.offered, server_supported);
  if (sh.suite() != best) {
    return absl::UnauthenticatedError(absl::StrCat("suite downgrade: server chose ",
                                                   SuiteName(sh.suite()),
                                                   " but both sides support ", SuiteName(best)));
  }
  absl::StatusOr<crypto::Sm2PublicKey> server_key = chain->front().PublicKey();
  if (!server_key.ok()) return server_key.status();
  Bytes th1 = internal::TranscriptHash1(st.client_hello, AsBytes(flight.server_hello()));
  if (!server_key
           ->Verify(internal::SignedContent("BBSC/1 server signature", th1),
                    AsBytes(flight.auth().signature()))
           .ok()) {
    return absl::UnauthenticatedError(
        "server signature over the handshake does not verify: transcript tampered or "
        "downgraded in transit");
  }
  absl::StatusOr<Bytes> shared = st.share->Derive(AsBytes(sh.key_share()));
  if (!shared.ok()) return shared.status();
  absl::StatusOr<internal::Secrets> secrets = internal::DeriveSecrets(*shared, th1);
  if (!secrets.ok()) return secrets.status();
  Bytes expected_fin =
      internal::FinishedMac(secrets->server_finished_key, th1, AsBytes(flight.auth().signature()));
  if (!crypto::ConstantTimeEquals(expected_fin, AsBytes(flight.auth().finished()))) {
    return absl::UnauthenticatedError("server finished MAC does not verify: key schedule mismatch");
  }
  Bytes th2 = internal::TranscriptHash2(th1, flight.auth());
  v1::HandshakeAuth auth;
  if (st.config.credentials) {
    absl::StatusOr<Bytes> sig =
        st.config.credentials->key.Sign(internal::SignedContent("BBSC/1 client signature", th2));
    if (!sig.ok()) return sig.status();
    auth.set_signature(std::string(sig->begin(), sig->end()));
  }
  Bytes fin = internal::FinishedMac(secrets->client_finished_key, th2, AsBytes(auth.signature()));
  auth.set_finished(std::string(fin.begin(), fin.end()));
  absl::StatusOr<Session> session =
      internal::MakeSession(st.config, best, *secrets, /*is_client=*/true, *server, th1);
  if (!session.ok()) return session.status();
  return std::make_pair(std::move(auth), *std::move(session));
}

// --- Server -----------------------------------------------------------------

struct ServerHandshake::State {
  HandshakeConfig config;
  std::optional<pki::Identity> claimed_peer;
  std::optional<crypto::Sm2PublicKey> peer_key;
  v1::CipherSuite suite = v1::CIPHER_SUITE_UNSPECIFIED;
  v1::ServerFlight flight;
  Bytes th1;
  internal::Secrets secrets;
  bool finished = false;
};

ServerHandshake::ServerHandshake() : state_(std::make_unique<State>()) {}
ServerHandshake::~ServerHandshake() = default;
ServerHandshake::ServerHandshake(ServerHandshake&&) noexcept = default;
ServerHandshake& ServerHandshake::operator=(ServerHandshake&&) noexcept = default;

const v1::ServerFlight& ServerHandshake::server_flight() const { return state_->flight; }
const std::optional<pki::Identity>& ServerHandshake::claimed_peer() const {
  return state_->claimed_peer;
}

absl::StatusOr<ServerHandshake> ServerHandshake::Accept(HandshakeConfig config,
                                                        ByteView client_hello) {
  if (!config.credentials || config.credentials->chain.empty()) {
    return absl::FailedPreconditionError("server handshake needs credentials");
  }
  v1::ClientHello ch;
  if (!ch.ParseFromArray(client_hello.data(), static_cast<int>(client_hello.size()))) {
    return absl::InvalidArgumentError("ClientHello is not a valid protobuf message");
  }
  if (ch.version() != kProtocolVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("client speaks BBSC version ", ch.version(), ", this server only 1"));
  }
  if (ch.random().size() != kRandomSize || ch.suites_size() == 0 ||
      ch.suites_size() > internal::kMaxSuites) {
    return absl::InvalidArgumentError("ClientHello has a malformed random or suite list");
  }
  ServerHandshake hs;
  State& st = *hs.state_;
  if (ch.certificate_chain_size() == 0) {
    if (!config.allow_anonymous_peer) {
      return absl::UnauthenticatedError(
          "client certificate required: enrol first (beibu enroll) and connect with its key");
    }
  } else {
    absl::StatusOr<std::vector<pki::Certificate>> chain =
        internal::ParseChain(ch.certificate_chain());
    if (!chain.ok()) return chain.status();
    absl::StatusOr<pki::Identity> peer = internal::VerifyPeer(config, *chain);
    if (!peer.ok()) return peer.status();
    absl::StatusOr<crypto::Sm2PublicKey> key = chain->front().PublicKey();
    if (!key.ok()) return key.status();
    st.claimed_peer = *std::move(peer);
    st.peer_key.emplace(*std::move(key));
  }
  const std::string own_id =
      config.credentials->chain.front().GetIdentity().value_or(pki::Identity{}).id;
  if (!ch.server_id().empty() && ch.server_id() != own_id) {
    return absl::NotFoundError(
        absl::StrCat("client asked for server ", ch.server_id(), " but this is ", own_id));
  }
  std::vector<v1::CipherSuite> offered;
  for (int s : ch.suites()) offered.push_back(static_cast<v1::CipherSuite>(s));
  std::vector<v1::CipherSuite> supported = ConfiguredSuites(config);
  st.suite = internal::SelectSuite(offered, supported);
  if (st.suite == v1::CIPHER_SUITE_UNSPECIFIED) {
    return absl::FailedPreconditionError("no cipher suite in common with the client");
  }
  absl::StatusOr<crypto::Sm2KeyShare> share = crypto::Sm2KeyShare::Generate();
  if (!share.ok()) return share.status();
  absl::StatusOr<Bytes> shared = share->Derive(AsBytes(ch.key_share()));
  if (!shared.ok()) return shared.status();

  v1::ServerHello sh;
  sh.set_version(kProtocolVersion);
  Bytes random = crypto::RandomBytes(kRandomSize);
  sh.set_random(std::string(random.begin(), random.end()));
  sh.set_suite(st.suite);
  for (v1::CipherSuite s : supported) sh.add_supported_suites(s);
  sh.set_key_share(std::string(share->public_point().begin(), share->public_point().end()));
  AddChain(config.credentials->chain, sh.mutable_certificate_chain());
  std::string sh_bytes = sh.SerializeAsString();

  st.th1 = internal::TranscriptHash1(client_hello, AsBytes(sh_bytes));
  absl::StatusOr<internal::Secrets> secrets = internal::DeriveSecrets(*shared, st.th1);
  if (!secrets.ok()) return secrets.status();
  st.secrets = *std::move(secrets);
  absl::StatusOr<Bytes> sig =
      config.credentials->key.Sign(internal::SignedContent("BBSC/1 server signature", st.th1));
  if (!sig.ok()) return sig.status();
  Bytes fin = internal::FinishedMac(st.secrets.server_finished_key, st.th1, *sig);
  st.flight.set_server_hello(std::move(sh_bytes));
  st.flight.mutable_auth()->set_signature(std::string(sig->begin(), sig->end()));
  st.flight.mutable_auth()->set_finished(std::string(fin.begin(), fin.end()));
  st.config = std::move(config);
  return hs;
}

absl::StatusOr<Session> ServerHandshake::Finish(const v1::HandshakeAuth& client_auth) {
  State& st = *state_;
  if (st.finished) return absl::FailedPreconditionError("handshake already finished");
  st.finished = true;
  Bytes th2 = internal::TranscriptHash2(st.th1, st.flight.auth());
  if (st.peer_key) {
    if (!st.peer_key
             ->Verify(internal::SignedContent("BBSC/1 client signature", th2),
                      AsBytes(client_auth.signature()))
             .ok()) {
      return absl::UnauthenticatedError(
          "client signature over the handshake does not verify: the client does not hold the "
          "certificate's key, or the transcript was tampered with");
    }
  } else if (!client_auth.signature().empty()) {
    return absl::InvalidArgumentError("anonymous client sent a signature");
  }
  Bytes expected =
      internal::FinishedMac(st.secrets.client_finished_key, th2, AsBytes(client_auth.signature()));
  if (!crypto::ConstantTimeEquals(expected, AsBytes(client_auth.finished()))) {
    return absl::UnauthenticatedError("client finished MAC does not verify: key schedule mismatch");
  }
  return internal::MakeSession(st.config, st.suite, st.secrets, /*is_client=*/false,
                               st.claimed_peer, st.th1);
}

}  // namespace beibu::channel
