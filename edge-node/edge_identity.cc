#include "edge_identity.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"
#include "beibu/daemon/identity_files.h"
#include "beibu/enroll/enroll.h"

namespace beibu::edge {

absl::StatusOr<std::unique_ptr<EdgeIdentity>> EdgeIdentity::LoadOrEnroll(const EdgeConfig& config) {
  std::unique_ptr<EdgeIdentity> id(new EdgeIdentity());
  id->dir_ = config.data_dir + "/identity";
  const std::string cert_path = id->dir_ + "/" + enroll::kCertFile;
  if (!std::filesystem::exists(cert_path)) {
    if (config.join_token.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("not enrolled yet (no ", cert_path,
                       ") and no join_token in the config: ask the hub operator for one with "
                       "`beibu pki token create --id ",
                       config.node_id, " --role edge --country CC`"));
    }
    spdlog::info("event=enrolling hub={}", config.hub);
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> transport =
        daemon::LoadClientTransport(config.hub_tls_ca);
    if (!transport.ok()) return transport.status();
    absl::StatusOr<enroll::Enrolled> e =
        enroll::Enroll(config.hub, config.join_token, config.node_id, *transport);
    if (!e.ok()) {
      return absl::Status(e.status().code(),
                          absl::StrCat("enrolment with the hub failed: ", e.status().message()));
    }
    if (e->identity.role != pki::Role::kEdge) {
      return absl::FailedPreconditionError(
          absl::StrCat("the join token is for role ", std::string(pki::RoleName(e->identity.role)),
                       ", not edge"));
    }
    if (absl::Status s = enroll::SaveIdentity(*e, id->dir_); !s.ok()) return s;
    spdlog::info("event=enrolled id={} country={} serial={}", e->identity.id, e->identity.country,
                 e->identity.serial_hex);
  }
  absl::StatusOr<channel::Credentials> creds =
      daemon::LoadCredentials(id->dir_ + "/" + enroll::kKeyFile, cert_path);
  if (!creds.ok()) return creds.status();
  absl::StatusOr<std::shared_ptr<pki::TrustBundle>> trust =
      daemon::LoadTrustBundle(id->dir_ + "/" + enroll::kTrustFile);
  if (!trust.ok()) return trust.status();
  absl::StatusOr<pki::Identity> self = creds->chain.front().GetIdentity();
  if (!self.ok()) return self.status();
  if (self->id != config.node_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        cert_path, " names '", self->id, "' but the config says node_id: ", config.node_id));
  }
  id->self_ = *self;
  id->credentials_ = *std::move(creds);
  id->trust_ = *std::move(trust);
  return id;
}

std::shared_ptr<const pki::TrustBundle> EdgeIdentity::trust() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trust_;
}

std::string EdgeIdentity::trust_digest() const { return trust()->DigestHex(); }

uint64_t EdgeIdentity::crl_number() const {
  uint64_t n = 0;
  for (const pki::RevocationList& crl : trust()->crls()) n = std::max(n, crl.Number());
  return n;
}

absl::Status EdgeIdentity::ReplaceTrust(const std::string& bundle_pem) {
  absl::StatusOr<pki::TrustBundle> bundle = pki::TrustBundle::FromPem(bundle_pem);
  if (!bundle.ok()) return bundle.status();
  // The edge's own chain must still verify (ignoring revocation, which the
  // hub enforces): a bundle that drops our root would cut us off.
  bool has_our_root = false;
  const std::string issuer = credentials_->chain.front().IssuerLine();
  for (const pki::Certificate& r : bundle->roots()) has_our_root |= r.SubjectLine() == issuer;
  if (!has_our_root) {
    return absl::FailedPreconditionError(
        "pushed trust bundle lacks the root that issued this edge");
  }
  // Never go back to an older revocation list.
  uint64_t new_crl = 0;
  for (const pki::RevocationList& crl : bundle->crls()) new_crl = std::max(new_crl, crl.Number());
  if (new_crl < crl_number()) {
    return absl::FailedPreconditionError(absl::StrCat("pushed bundle has CRL number ", new_crl,
                                                      ", older than ours (", crl_number(), ")"));
  }
  if (absl::Status s = config::WriteFileAtomic(dir_ + "/" + enroll::kTrustFile, bundle->ToPem());
      !s.ok()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  trust_ = std::make_shared<pki::TrustBundle>(*std::move(bundle));
  return absl::OkStatus();
}

}  // namespace beibu::edge
