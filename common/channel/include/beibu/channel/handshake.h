// The BBSC/1 handshake as two pure state machines: no sockets, no threads.
// The transport (common/rpc) moves the bytes; this code decides.
//
//   client                                   server
//   ClientHello (key share, suites, cert) ─▶ Accept(): checks the client chain
//                        ◀─ ServerFlight    (ServerHello + signature + finished)
//   Finish(): checks chain, suite, signature, finished
//   HandshakeAuth (signature, finished)   ─▶ Finish(): checks signature, finished
//
// Both sides end with a Session: the peer's identity and the record state of
// each direction. docs/secure-channel.md gives the key schedule byte by byte.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/channel/record.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/certificate.h"
#include "beibu/pki/trust_bundle.h"

namespace beibu::channel {

inline constexpr uint32_t kProtocolVersion = 1;

struct Credentials {
  crypto::Sm2PrivateKey key;
  std::vector<pki::Certificate> chain;  // leaf first; may end with the root
};

struct HandshakeConfig {
  // Required for a server; a client without credentials is anonymous (enrolment).
  std::optional<Credentials> credentials;
  // The roots and CRLs the peer's chain is checked against.
  std::shared_ptr<const pki::TrustBundle> trust;
  // Client without a trust bundle (first enrolment): accept a server chain that
  // contains a CA certificate with this SM3 fingerprint (hex), and trust that CA.
  std::string pinned_root_fingerprint;
  // Roles the peer may have; empty means any.
  std::set<pki::Role> allowed_peer_roles;
  // Server: accept clients that present no certificate.
  bool allow_anonymous_peer = false;
  // Client: the server's id (certificate CN) if known in advance.
  std::string expected_peer_id;
  // Suites in preference order; empty means DefaultSuites().
  std::vector<v1::CipherSuite> suites;
  KeyUpdateLimits limits;
  std::function<pki::Clock::time_point()> now = [] { return pki::Clock::now(); };
};

// SM4_GCM_SM3 first when the provider has SM4-GCM, then SM4_CTR_HMAC_SM3.
std::vector<v1::CipherSuite> DefaultSuites();

struct Session {
  std::optional<pki::Identity> peer;  // empty: an anonymous client
  v1::CipherSuite suite = v1::CIPHER_SUITE_UNSPECIFIED;
  RecordSealer sealer;
  RecordOpener opener;
  std::string id_hex;  // first 8 bytes of the transcript hash, for logs
};

class ClientHandshake {
 public:
  // INVALID_ARGUMENT if the config is unusable (no trust and no pin).
  static absl::StatusOr<ClientHandshake> Start(HandshakeConfig config);
  ClientHandshake(ClientHandshake&&) noexcept;
  ClientHandshake& operator=(ClientHandshake&&) noexcept;
  ~ClientHandshake();

  // The serialized ClientHello to send (TunnelFrame.client_hello).
  const Bytes& client_hello() const;

  // Checks the server's flight. On success returns the HandshakeAuth to send
  // and the established session. Refusals:
  //   UNAUTHENTICATED   unknown CA, expired certificate, bad signature or
  //                     finished (tampered transcript), suite downgrade
  //   PERMISSION_DENIED revoked certificate, wrong role, unexpected server id
  //   INVALID_ARGUMENT  malformed ServerHello
  absl::StatusOr<std::pair<v1::HandshakeAuth, Session>> Finish(const v1::ServerFlight& flight);

 private:
  ClientHandshake();
  struct State;
  std::unique_ptr<State> state_;
};

class ServerHandshake {
 public:
  // Parses and checks a ClientHello (untrusted bytes) and prepares the reply.
  // Refusals as for ClientHandshake::Finish, plus FAILED_PRECONDITION when no
  // cipher suite is shared and UNAUTHENTICATED for a missing client certificate.
  static absl::StatusOr<ServerHandshake> Accept(HandshakeConfig config, ByteView client_hello);
  ServerHandshake(ServerHandshake&&) noexcept;
  ServerHandshake& operator=(ServerHandshake&&) noexcept;
  ~ServerHandshake();

  const v1::ServerFlight& server_flight() const;
  // The client's identity as its certificate claims it (before Finish proves it).
  const std::optional<pki::Identity>& claimed_peer() const;

  // Checks the client's signature and finished MAC.
  absl::StatusOr<Session> Finish(const v1::HandshakeAuth& client_auth);

 private:
  ServerHandshake();
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace beibu::channel
