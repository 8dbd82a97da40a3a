#include "connection.h"

#include <iostream>

#include "beibu/daemon/identity_files.h"
#include "beibu/enroll/enroll.h"
#include "commands.h"

namespace beibu::cli {

void ConnectionFlags::AddTo(CLI::App* cmd) {
  cmd->add_option("--server", server, "daemon address host:port")
      ->envname("BEIBU_SERVER")
      ->required();
  cmd->add_option("--identity", identity_dir,
                  "directory with key.pem, cert.pem and trust-bundle.pem (from `beibu enroll`); "
                  "for the operator files of `beibu pki init` use --key, --cert and --trust")
      ->envname("BEIBU_IDENTITY");
  cmd->add_option("--key", key, "private key PEM")->envname("BEIBU_KEY");
  cmd->add_option("--cert", cert, "certificate PEM")->envname("BEIBU_CERT");
  cmd->add_option("--trust", trust, "trust bundle PEM")->envname("BEIBU_TRUST");
  cmd->add_option("--tls-ca", tls_ca,
                  "PEM roots for the daemon's TLS transport (only when it runs with tls.cert)")
      ->envname("BEIBU_TLS_CA");
}

absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> ConnectionFlags::Connect(
    std::set<pki::Role> server_roles) const {
  auto pick = [&](const std::string& explicit_path, const char* file) {
    if (!explicit_path.empty()) return explicit_path;
    return identity_dir.empty() ? std::string() : identity_dir + "/" + file;
  };
  std::string key_path = pick(key, enroll::kKeyFile), cert_path = pick(cert, enroll::kCertFile),
              trust_path = pick(trust, enroll::kTrustFile);
  if (key_path.empty() || cert_path.empty() || trust_path.empty()) {
    return absl::InvalidArgumentError(
        "no identity: pass --identity DIR (from `beibu enroll`) or --key, --cert and --trust");
  }
  absl::StatusOr<channel::Credentials> creds = daemon::LoadCredentials(key_path, cert_path);
  if (!creds.ok()) return creds.status();
  absl::StatusOr<std::shared_ptr<pki::TrustBundle>> bundle = daemon::LoadTrustBundle(trust_path);
  if (!bundle.ok()) return bundle.status();
  channel::HandshakeConfig hs;
  hs.credentials = *std::move(creds);
  hs.trust = *std::move(bundle);
  hs.allowed_peer_roles = std::move(server_roles);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> transport =
      daemon::LoadClientTransport(tls_ca);
  if (!transport.ok()) return transport.status();
  return rpc::TunnelClient::Connect(
      {.address = server, .handshake = std::move(hs), .transport = *transport});
}

ClientOptions ConnectionFlags::ToClientOptions(bool allow_hub) const {
  ClientOptions o;
  o.server = server;
  o.identity_dir = identity_dir;
  o.key_file = key;
  o.cert_file = cert;
  o.trust_file = trust;
  o.tls_ca = tls_ca;
  o.allow_hub = allow_hub;
  return o;
}

int ReportError(const absl::Status& s) {
  std::cerr << "beibu: " << s.message() << "\n";
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

}  // namespace beibu::cli
