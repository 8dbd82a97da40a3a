#include "cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

extern char** environ;

namespace beibu::testing {

Daemon::~Daemon() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}
Daemon::Daemon(Daemon&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
Daemon& Daemon::operator=(Daemon&& o) noexcept {
  if (this != &o) {
    this->~Daemon();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

Daemon Daemon::Start(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fd, 1);
  posix_spawn_file_actions_adddup2(&actions, fd, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Daemon d;
  if (posix_spawn(&d.pid_, args[0], &actions, nullptr, args.data(), environ) != 0) d.pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(fd);
  EXPECT_GT(d.pid_, 0) << "cannot start " << argv[0];
  return d;
}

void Daemon::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Daemon::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  close(s);
  return ntohs(addr.sin_port);
}

Cluster::Cluster() = default;
Cluster::~Cluster() {
  for (auto& [id, d] : edges_) d.Signal(SIGTERM);
  hub_.Signal(SIGTERM);
}

void Cluster::EnableTls() {
  std::filesystem::create_directories(dir() / "tls");
  RunResult r = Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                     "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                     (dir() / "tls/key.pem").string(), "-out", tls_ca()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  tls_ = true;
}

void Cluster::StartHub() {
  RunResult init = Run({BinPath("beibu"), "pki", "init", "--dir", (dir() / "pki").string()});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  hub_port_ = FreePort();
  std::string tls =
      tls_ ? "tls:\n  cert: " + tls_ca() + "\n  key: " + (dir() / "tls/key.pem").string() + "\n"
           : "";
  WriteFile(dir() / "hub.yaml", "listen: " + hub_address() + "\n" +
                                    "data_dir: " + (dir() / "hub-data").string() + "\n" +
                                    "pki_dir: " + (dir() / "pki").string() + "\n" +
                                    "heartbeat_timeout_ms: 2000\n" + tls);
  RestartHub();
}

void Cluster::RestartHub() {
  std::filesystem::remove(dir() / "hub.port");
  hub_ = Daemon::Start({BinPath("beibu-hub"), "--config", (dir() / "hub.yaml").string(),
                        "--port-file", (dir() / "hub.port").string()},
                       dir() / "hub.log");
  ASSERT_TRUE(WaitForLog([&] { return HubLog(); }, "event=started")) << HubLog();
}

void Cluster::KillHub(int sig) {
  hub_.Signal(sig);
  hub_.Wait();
}

std::string Cluster::HubLog() const { return ReadFile(dir() / "hub.log"); }

std::vector<std::string> Cluster::OperatorFlags() const {
  std::vector<std::string> flags = {"--server", hub_address(),
                                    "--key",    (dir() / "pki/operator.key").string(),
                                    "--cert",   (dir() / "pki/operator.crt").string(),
                                    "--trust",  (dir() / "pki/trust-bundle.pem").string()};
  if (tls_) {
    flags.push_back("--tls-ca");
    flags.push_back(tls_ca());
  }
  return flags;
}

RunResult Cluster::Beibu(std::vector<std::string> args) const {
  args.insert(args.begin(), BinPath("beibu"));
  return Run(args);
}

std::vector<std::string> Cluster::OperatorFlagsFor(const std::string& server) const {
  std::vector<std::string> flags = OperatorFlags();
  flags[1] = server;  // OperatorFlags() starts with --server <hub>
  return flags;
}

RunResult Cluster::Breaker(const std::string& server, std::vector<std::string> args) const {
  args.insert(args.begin(), "breaker");
  for (const std::string& f : OperatorFlagsFor(server)) args.push_back(f);
  return Beibu(args);
}

std::string Cluster::CreateToken(const std::string& id, const std::string& role,
                                 const std::string& country) {
  std::vector<std::string> args = {"pki",    "token", "create",    "--id", id,
                                   "--role", role,    "--country", country};
  for (const std::string& f : OperatorFlags()) args.push_back(f);
  RunResult r = Beibu(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string token = r.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  return token;
}

void Cluster::AddEdge(const std::string& id, const std::string& country) {
  AddEdge(id, country, "");
}

void Cluster::AddEdge(const std::string& id, const std::string& country,
                      const std::string& extra_yaml) {
  std::string token = CreateToken(id, "edge", country);
  edge_country_[id] = country;
  WriteFile(dir() / (id + ".yaml"),
            "node_id: " + id + "\nlisten: 127.0.0.1:0\nhub: " + hub_address() +
                "\ndata_dir: " + (dir() / id).string() + "\njoin_token: " + token +
                "\nheartbeat_interval_ms: 200\n" + (tls_ ? "hub_tls_ca: " + tls_ca() + "\n" : "") +
                extra_yaml);
  StartEdge(id);
}

void Cluster::StartEdge(const std::string& id) {
  std::filesystem::remove(dir() / (id + ".port"));
  edges_[id] = Daemon::Start({BinPath("beibu-edge"), "--config", (dir() / (id + ".yaml")).string(),
                              "--port-file", (dir() / (id + ".port")).string()},
                             dir() / (id + ".log"));
}

void Cluster::KillEdge(const std::string& id, int sig) {
  edges_[id].Signal(sig);
  edges_[id].Wait();
}

std::string Cluster::EdgeLog(const std::string& id) const {
  return ReadFile(dir() / (id + ".log"));
}

pid_t Cluster::EdgePid(const std::string& id) const {
  auto it = edges_.find(id);
  return it == edges_.end() ? -1 : it->second.pid();
}

int Cluster::EdgePort(const std::string& id) const {
  return std::stoi(ReadFile(dir() / (id + ".port")));
}

void Cluster::DropJoinToken(const std::string& id) {
  std::string cfg = ReadFile(dir() / (id + ".yaml"));
  size_t at = cfg.find("join_token:");
  size_t end = cfg.find('\n', at);
  cfg.erase(at, end - at + 1);
  WriteFile(dir() / (id + ".yaml"), cfg);
}

std::filesystem::path Cluster::Enroll(const std::string& id, const std::string& role,
                                      const std::string& country) {
  std::string token = CreateToken(id, role, country);
  std::filesystem::path out = dir() / ("id-" + id);
  std::vector<std::string> args = {"enroll", "--hub",      hub_address(), "--token", token,
                                   "--out",  out.string(), "--id",        id};
  if (tls_) {
    args.push_back("--tls-ca");
    args.push_back(tls_ca());
  }
  RunResult r = Beibu(args);
  EXPECT_EQ(r.exit_code, 0) << "enrolling " << id << ": " << r.err;
  return out;
}

bool Cluster::WaitForEdgePort(const std::string& id, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (std::filesystem::file_size(dir() / (id + ".port"), ec) > 0 && !ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

nlohmann::json Cluster::Nodes() const {
  std::vector<std::string> args = {"nodes", "--all", "--json"};
  for (const std::string& f : OperatorFlags()) args.push_back(f);
  RunResult r = Beibu(args);
  if (r.exit_code != 0) return nlohmann::json();
  return nlohmann::json::parse(r.out, nullptr, false);
}

nlohmann::json Cluster::Node(const std::string& id) const {
  nlohmann::json nodes = Nodes();
  if (nodes.is_discarded() || !nodes.contains("nodes")) return nlohmann::json();
  for (const auto& n : nodes["nodes"]) {
    if (n.value("node_id", "") == id) return n;
  }
  return nlohmann::json();
}

bool Cluster::WaitForHealth(const std::string& id, const std::string& health,
                            std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    nlohmann::json n = Node(id);
    if (n.is_object() && n.value("health", "") == health) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool Cluster::WaitForLog(const std::function<std::string()>& log, const std::string& text,
                         std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace beibu::testing
