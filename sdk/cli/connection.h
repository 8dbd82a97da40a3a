// Connection flags shared by every `beibu` command that talks to a daemon,
// and the connect step itself.
//   --server ADDR   (BEIBU_SERVER)    hub or edge, host:port
//   --identity DIR  (BEIBU_IDENTITY)  DIR/key.pem, DIR/cert.pem, DIR/trust-bundle.pem
//   --key, --cert, --trust            (BEIBU_KEY, BEIBU_CERT, BEIBU_TRUST) override
//   --tls-ca FILE   (BEIBU_TLS_CA)    when the daemon's transport uses TLS
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/client/client.h"
#include "beibu/rpc/tunnel_client.h"

namespace beibu::cli {

struct ConnectionFlags {
  std::string server;
  std::string identity_dir;
  std::string key;
  std::string cert;
  std::string trust;
  std::string tls_ca;

  void AddTo(CLI::App* cmd);
  // Connects and authenticates; `server_roles` are the roles the server may have.
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> Connect(
      std::set<pki::Role> server_roles) const;
  // The same settings for the SDK (beibu::Client::Connect).
  ClientOptions ToClientOptions(bool allow_hub = false) const;
};

// Prints "beibu: <message>" to stderr and returns the exit code for `s`.
int ReportError(const absl::Status& s);

}  // namespace beibu::cli
