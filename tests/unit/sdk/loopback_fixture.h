// The SDK tests' loopback fixture: an in-memory Exchange (memory_exchange.h)
// behind a real secure channel on 127.0.0.1, and an identity directory as
// `beibu enroll` writes it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "beibu/client/client.h"
#include "beibu/config/files.h"
#include "beibu/daemon/server_host.h"
#include "memory_exchange.h"
#include "pki_fixture.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu::testing {

class LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartHost("127.0.0.1:0");
    // An identity directory as `beibu enroll` writes it.
    channel::Credentials me = pki_.Issue("vn-shipper", pki::Role::kEnterprise, "VN");
    std::string chain;
    for (const pki::Certificate& c : me.chain) chain += c.ToPem();
    WriteFile(tmp_ / "id/key.pem", me.key.ToPem());
    WriteFile(tmp_ / "id/cert.pem", chain);
    WriteFile(tmp_ / "id/trust-bundle.pem", pki_.Bundle()->ToPem());
  }

  void StartHost(const std::string& address) {
    auto server_creds = pki_.Issue("edge-vn", pki::Role::kEdge, "VN");
    auto started = daemon::ServerHost::Start({
        .listen_address = address,
        .handshake =
            [this, server_creds] {
              channel::HandshakeConfig c = pki_.Config(server_creds);
              c.allowed_peer_roles = {pki::Role::kEnterprise};
              return c;
            },
        .services = {&exchange_},
    });
    ASSERT_TRUE(started.ok()) << started.status();
    host_ = *std::move(started);
  }
  void TearDown() override { host_.reset(); }

  std::string server() const { return "127.0.0.1:" + std::to_string(host_->port()); }
  ClientOptions Options() const {
    ClientOptions o;
    o.server = server();
    o.identity_dir = (tmp_ / "id").string();
    return o;
  }
  std::unique_ptr<Client> Connect() {
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(Options());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  static v1::TransferHeader Header(const std::string& category = "logistics.track") {
    v1::TransferHeader h;
    h.set_to_country("CN");
    h.set_to_enterprise("cn-importer");
    h.set_category(category);
    h.set_content_type("text/csv");
    return h;
  }
  static RunResult Run(const std::vector<std::string>& argv) { return beibu::testing::Run(argv); }
  RunResult Beibu(std::vector<std::string> args) {
    args.insert(args.begin(), BinPath("beibu"));
    for (const std::string& f :
         {std::string("--server"), server(), std::string("--identity"), (tmp_ / "id").string()}) {
      args.push_back(f);
    }
    return Run(args);
  }

  TestPki pki_;
  MemoryExchange exchange_;
  std::unique_ptr<daemon::ServerHost> host_;
  TempDir tmp_;
};

}  // namespace beibu::testing
