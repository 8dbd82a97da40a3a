#include "beibu/daemon/identity_files.h"

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"

namespace beibu::daemon {

absl::StatusOr<channel::Credentials> LoadCredentials(const std::string& key_path,
                                                     const std::string& cert_path) {
  absl::StatusOr<std::string> key_pem = config::ReadFile(key_path);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::FromPem(*key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key_path, ": ", key.status().message()));
  }
  absl::StatusOr<std::string> cert_pem = config::ReadFile(cert_path);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::vector<pki::Certificate>> chain = pki::Certificate::AllFromPem(*cert_pem);
  if (!chain.ok() || chain->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_path, ": no PEM certificate in it",
                     chain.ok() ? "" : absl::StrCat(" (", chain.status().message(), ")")));
  }
  absl::StatusOr<crypto::Sm2PublicKey> cert_key = chain->front().PublicKey();
  if (!cert_key.ok() || cert_key->ToDer() != key->PublicKey().ToDer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_path, " does not belong to the certificate in ", cert_path,
                     ": use the key generated when this certificate was issued"));
  }
  return channel::Credentials{*std::move(key), *std::move(chain)};
}

absl::StatusOr<std::shared_ptr<pki::TrustBundle>> LoadTrustBundle(const std::string& path) {
  absl::StatusOr<std::string> pem = config::ReadFile(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<pki::TrustBundle> bundle = pki::TrustBundle::FromPem(*pem);
  if (!bundle.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", bundle.status().message()));
  }
  if (bundle->roots().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": trust bundle holds no root CA"));
  }
  return std::make_shared<pki::TrustBundle>(*std::move(bundle));
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LoadClientTransport(
    const std::string& tls_ca_path) {
  if (tls_ca_path.empty()) return std::shared_ptr<grpc::ChannelCredentials>();
  absl::StatusOr<std::string> ca = config::ReadFile(tls_ca_path);
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = *ca;
  return grpc::SslCredentials(opts);
}

}  // namespace beibu::daemon
