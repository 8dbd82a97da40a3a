#include "beibu/enroll/enroll.h"

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"
#include "beibu/enroll/join_token.h"
#include "beibu/rpc/tunnel_client.h"
#include "beibu/v1/registry.pb.h"

namespace beibu::enroll {

absl::StatusOr<Enrolled> Enroll(const std::string& hub_address, const std::string& token_text,
                                const std::string& expected_id,
                                std::shared_ptr<grpc::ChannelCredentials> transport) {
  absl::StatusOr<JoinToken> token = ParseJoinToken(token_text);
  if (!token.ok()) return token.status();
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::Generate();
  if (!key.ok()) return key.status();
  pki::Identity requested{.id = expected_id.empty() ? "pending" : expected_id};
  absl::StatusOr<pki::CertificateRequest> csr = pki::CertificateRequest::Create(*key, requested);
  if (!csr.ok()) return csr.status();

  channel::HandshakeConfig hs;
  hs.pinned_root_fingerprint = token->ca_fingerprint;
  hs.allowed_peer_roles = {pki::Role::kHub};
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = rpc::TunnelClient::Connect(
      {.address = hub_address, .handshake = std::move(hs), .transport = std::move(transport)});
  if (!client.ok()) return client.status();

  v1::EnrollRequest req;
  req.set_join_token(token_text);
  Bytes der = csr->ToDer();
  req.set_csr_der(std::string(der.begin(), der.end()));
  v1::EnrollResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Registry/Enroll", req, &resp); !s.ok()) {
    return s;
  }
  absl::StatusOr<pki::Certificate> cert = pki::Certificate::FromPem(resp.certificate_pem());
  if (!cert.ok()) return cert.status();
  absl::StatusOr<pki::TrustBundle> bundle = pki::TrustBundle::FromPem(resp.trust_bundle_pem());
  if (!bundle.ok()) return bundle.status();
  auto trust = std::make_shared<pki::TrustBundle>(*std::move(bundle));
  // The hub must hand back a certificate for our key that its own bundle accepts.
  absl::StatusOr<crypto::Sm2PublicKey> cert_key = cert->PublicKey();
  if (!cert_key.ok() || cert_key->ToDer() != key->PublicKey().ToDer()) {
    return absl::DataLossError("hub returned a certificate for a different key");
  }
  absl::StatusOr<pki::Identity> identity = trust->Verify({*cert}, pki::Clock::now());
  if (!identity.ok()) return identity.status();
  if (!expected_id.empty() && identity->id != expected_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the join token was made for '", identity->id, "' but this node is configured as '",
        expected_id, "'; the token is now used up: ask the operator to revoke '", identity->id,
        "' and to create a token for '", expected_id, "'"));
  }
  return Enrolled{*std::move(key), *std::move(cert), std::move(trust), *std::move(identity)};
}

absl::Status SaveIdentity(const Enrolled& e, const std::string& dir) {
  if (absl::Status s = config::WriteFileAtomic(dir + "/" + kKeyFile, e.key.ToPem(), 0600);
      !s.ok()) {
    return s;
  }
  // cert.pem holds the leaf and its root, so peers without our bundle (an
  // enrolling party pinning the CA) can find the root by fingerprint.
  std::string chain = e.certificate.ToPem();
  for (const pki::Certificate& root : e.trust->roots()) {
    if (root.SubjectLine() == e.certificate.IssuerLine()) {
      chain += root.ToPem();
      break;
    }
  }
  if (absl::Status s = config::WriteFileAtomic(dir + "/" + kTrustFile, e.trust->ToPem()); !s.ok()) {
    return s;
  }
  // Last: an existing cert.pem means the identity is complete.
  return config::WriteFileAtomic(dir + "/" + kCertFile, chain);
}

}  // namespace beibu::enroll
