// A local Beibu space for end-to-end tests: real beibu-hub and beibu-edge
// processes on loopback, driven through the real `beibu` CLI.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "subprocess.h"
#include "temp_dir.h"

namespace beibu::testing {

// A daemon child process; killed (SIGKILL) on destruction if still running.
class Daemon {
 public:
  Daemon() = default;
  ~Daemon();
  Daemon(Daemon&&) noexcept;
  Daemon& operator=(Daemon&&) noexcept;

  // Starts argv with stdout and stderr appended to `log`.
  static Daemon Start(const std::vector<std::string>& argv, const std::filesystem::path& log);
  void Signal(int sig);
  // Waits for the process to exit; returns its exit code (-1 if killed).
  int Wait();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

class Cluster {
 public:
  Cluster();
  ~Cluster();

  const std::filesystem::path& dir() const { return tmp_.path(); }
  std::string hub_address() const { return "127.0.0.1:" + std::to_string(hub_port_); }

  // Before StartHub(): run gRPC over TLS (a P-256 certificate for 127.0.0.1
  // made with the openssl CLI) underneath the secure channel everywhere.
  void EnableTls();
  bool tls() const { return tls_; }
  std::string tls_ca() const { return (dir() / "tls/ca.pem").string(); }

  // `beibu pki init`, then starts the hub on a fixed free port.
  void StartHub();
  void KillHub(int sig);
  void RestartHub();
  std::string HubLog() const;

  // Operator flags for `beibu` commands against the hub.
  std::vector<std::string> OperatorFlags() const;
  RunResult Beibu(std::vector<std::string> args) const;
  // The operator's flags with `--server server` (an edge's or the hub's address).
  std::vector<std::string> OperatorFlagsFor(const std::string& server) const;
  // `beibu breaker ARGS` as the operator against `server` (docs/gateway.md §6).
  RunResult Breaker(const std::string& server, std::vector<std::string> args) const;

  // Creates a join token (fails the test on error).
  std::string CreateToken(const std::string& id, const std::string& role,
                          const std::string& country);

  // Writes an edge config with a fresh join token and starts it.
  void AddEdge(const std::string& id, const std::string& country);
  // The same with `extra_yaml` (whole top-level sections, e.g. `gateway:`)
  // appended to the config.
  void AddEdge(const std::string& id, const std::string& country, const std::string& extra_yaml);
  void StartEdge(const std::string& id);  // with its existing config
  void KillEdge(const std::string& id, int sig);
  std::string EdgeLog(const std::string& id) const;
  // Process id of a running edge (-1 if not started or stopped).
  pid_t EdgePid(const std::string& id) const;
  int EdgePort(const std::string& id) const;
  // Rewrites the edge's config without its join token (a used token must
  // not be needed again).
  void DropJoinToken(const std::string& id);

  // Enrols a party (enterprise, officer, regulator) of `country` with a fresh
  // token; returns the identity directory (key.pem, cert.pem, trust-bundle.pem).
  std::filesystem::path Enroll(const std::string& id, const std::string& role,
                               const std::string& country);
  // "127.0.0.1:<port>" of a running edge.
  std::string EdgeAddress(const std::string& id) const {
    return "127.0.0.1:" + std::to_string(EdgePort(id));
  }
  // Blocks until the edge's port file exists again (after StartEdge).
  bool WaitForEdgePort(const std::string& id,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;

  // `beibu nodes --all --json`, parsed; empty on error.
  nlohmann::json Nodes() const;
  nlohmann::json Node(const std::string& id) const;
  // Polls Nodes() until `id` has `health`, up to `timeout`; returns success.
  bool WaitForHealth(const std::string& id, const std::string& health,
                     std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;
  // Polls a log until it contains `text`.
  bool WaitForLog(const std::function<std::string()>& log, const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;

 private:
  TempDir tmp_;
  bool tls_ = false;
  int hub_port_ = 0;
  Daemon hub_;
  std::map<std::string, Daemon> edges_;
  std::map<std::string, std::string> edge_country_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace beibu::testing
