#include "beibu/daemon/daemon_main.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"

namespace beibu::daemon {

int DaemonMain(int argc, char** argv, const std::string& description, const std::string& version,
               const std::function<int(const DaemonArgs&)>& run) {
  BlockShutdownSignals();
  CLI::App app{description};
  DaemonArgs args;
  app.add_option("-c,--config", args.config_path, "YAML configuration file")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--port-file", args.port_file,
                 "write the bound port here once listening (useful with listen: host:0)");
  app.set_version_flag("--version", version);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitClean : kExitBadConfig;
  }
  return run(args);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerTransport(
    const std::string& cert_path, const std::string& key_path) {
  if (cert_path.empty()) return std::shared_ptr<grpc::ServerCredentials>();
  absl::StatusOr<std::string> cert = config::ReadFile(cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = config::ReadFile(key_path);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(opts);
}

absl::Status WritePortFile(const std::string& path, int port) {
  if (path.empty()) return absl::OkStatus();
  return config::WriteFileAtomic(path, std::to_string(port));
}

void ServeUntilSignal(ServerHost& host, const std::function<void()>& before_stop) {
  int sig = WaitForShutdownSignal();
  spdlog::info("event=stopping signal={}", sig);
  if (before_stop) before_stop();
  host.Shutdown();
  spdlog::info("event=stopped");
}

}  // namespace beibu::daemon
