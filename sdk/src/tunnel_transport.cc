#include "tunnel_transport.h"

#include <mutex>
#include <set>

#include "beibu/daemon/identity_files.h"
#include "beibu/rpc/tunnel_client.h"
#include "identity.h"

namespace beibu::sdk_internal {
namespace {

// Keeps the session alive for as long as a call on it runs, even if the
// transport moved on to a new session meanwhile.
class TunnelStream : public Stream {
 public:
  TunnelStream(std::shared_ptr<rpc::TunnelClient> session, std::unique_ptr<rpc::TunnelCall> call)
      : session_(std::move(session)), call_(std::move(call)) {}
  ~TunnelStream() override { call_.reset(); }
  absl::Status Write(const google::protobuf::Message& m) override { return call_->Write(m); }
  absl::Status WritesDone() override { return call_->WritesDone(); }
  bool Read(google::protobuf::Message* m) override { return call_->Read(m); }
  absl::Status Finish() override { return call_->Finish(); }
  void Cancel() override { call_->Cancel(); }

 private:
  std::shared_ptr<rpc::TunnelClient> session_;
  std::unique_ptr<rpc::TunnelCall> call_;
};

class TunnelTransport : public Transport {
 public:
  explicit TunnelTransport(ClientOptions options) : options_(std::move(options)) {}

  absl::Status Connect() {
    IdentityPaths paths = ResolveIdentity(options_);
    if (absl::Status s = paths.Check(); !s.ok()) return s;
    absl::StatusOr<channel::Credentials> creds = daemon::LoadCredentials(paths.key, paths.cert);
    if (!creds.ok()) return creds.status();
    absl::StatusOr<std::shared_ptr<pki::TrustBundle>> bundle = daemon::LoadTrustBundle(paths.trust);
    if (!bundle.ok()) return bundle.status();
    channel::HandshakeConfig hs;
    hs.credentials = *std::move(creds);
    hs.trust = *std::move(bundle);
    hs.allowed_peer_roles = {pki::Role::kEdge};
    if (options_.allow_hub) hs.allowed_peer_roles.insert(pki::Role::kHub);
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> transport =
        daemon::LoadClientTransport(options_.tls_ca);
    if (!transport.ok()) return transport.status();
    absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = rpc::TunnelClient::Connect(
        {.address = options_.server, .handshake = std::move(hs), .transport = *transport});
    if (!client.ok()) return client.status();
    std::lock_guard<std::mutex> lock(mu_);
    session_ = std::shared_ptr<rpc::TunnelClient>(std::move(*client));
    return absl::OkStatus();
  }

  absl::Status Call(const std::string& method, const google::protobuf::Message& request,
                    google::protobuf::Message* response,
                    std::chrono::milliseconds timeout) override {
    std::shared_ptr<rpc::TunnelClient> s = session();
    if (s == nullptr) return absl::UnavailableError("not connected to " + options_.server);
    return s->Call(method, request, response, timeout);
  }

  std::unique_ptr<Stream> StartCall(const std::string& method,
                                    std::chrono::milliseconds timeout) override {
    std::shared_ptr<rpc::TunnelClient> s = session();
    // Connect() succeeded before a Transport is handed out, so s is set.
    return std::make_unique<TunnelStream>(s, s->StartCall(method, timeout));
  }

  absl::Status Reconnect() override {
    std::shared_ptr<rpc::TunnelClient> s = session();
    if (s != nullptr && s->status().ok()) return absl::OkStatus();
    return Connect();
  }

  std::string server_id() const override {
    std::shared_ptr<rpc::TunnelClient> s = session();
    return s == nullptr ? std::string() : s->server().id;
  }

 private:
  std::shared_ptr<rpc::TunnelClient> session() const {
    std::lock_guard<std::mutex> lock(mu_);
    return session_;
  }

  const ClientOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<rpc::TunnelClient> session_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> ConnectTunnel(const ClientOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError(
        "no server: set ClientOptions::server (host:port of your edge)");
  }
  auto t = std::make_unique<TunnelTransport>(options);
  if (absl::Status s = t->Connect(); !s.ok()) return s;
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace beibu::sdk_internal
