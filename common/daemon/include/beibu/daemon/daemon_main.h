// What beibu-hub and beibu-edge share around their own logic: the command
// line (--config, --port-file, --help, --version), the exit-code convention,
// the optional TLS transport, and running until SIGINT/SIGTERM.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/daemon/server_host.h"

namespace beibu::daemon {

inline constexpr int kExitClean = 0;
inline constexpr int kExitBadConfig = 2;  // bad command line or configuration
inline constexpr int kExitCannotStart = 3;

struct DaemonArgs {
  std::string config_path;
  std::string port_file;  // empty: none
};

// Blocks the shutdown signals (before any thread starts), parses the command
// line and calls `run`, whose result is the exit code.
int DaemonMain(int argc, char** argv, const std::string& description, const std::string& version,
               const std::function<int(const DaemonArgs&)>& run);

// TLS under the secure channel from PEM files; nullptr (plaintext) when
// `cert_path` is empty.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerTransport(
    const std::string& cert_path, const std::string& key_path);

// Writes the bound port to `path` (atomically); nothing when `path` is empty.
absl::Status WritePortFile(const std::string& path, int port);

// Waits for SIGINT or SIGTERM, runs `before_stop`, then shuts `host` down,
// logging each step.
void ServeUntilSignal(ServerHost& host, const std::function<void()>& before_stop = {});

}  // namespace beibu::daemon
