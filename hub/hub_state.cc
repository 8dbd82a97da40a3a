#include "hub_state.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"
#include "beibu/crypto/crypto.h"
#include "beibu/daemon/identity_files.h"
#include "beibu/enroll/join_token.h"

namespace beibu::hub {
namespace {

using google::protobuf::util::TimeUtil;
using json = nlohmann::json;

constexpr char kNodePrefix[] = "node/";
constexpr char kTokenPrefix[] = "token/";
constexpr char kRevokedPrefix[] = "revoked/";
constexpr char kCrlNumberKey[] = "meta/crl_number";
constexpr char kAnchorPrefix[] = "anchor/";  // node id -> last cosigned note
constexpr char kAlarmPrefix[] = "alarm/";    // node id / unix ms -> reason

int64_t UnixSeconds(pki::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
pki::Clock::time_point FromUnix(int64_t s) {
  return pki::Clock::time_point(std::chrono::seconds(s));
}

std::string Sm3Hex(const std::string& s) {
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(s));
  return HexEncode(d);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HubState>> HubState::Open(const HubConfig& config) {
  std::unique_ptr<HubState> st(new HubState());
  st->config_ = config;
  const std::string& dir = config.pki_dir;
  absl::StatusOr<channel::Credentials> ca_creds =
      daemon::LoadCredentials(dir + "/ca.key", dir + "/ca.crt");
  if (!ca_creds.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("hub CA not usable: ", ca_creds.status().message(),
                     " (create one with `beibu pki init --dir ", dir, "`)"));
  }
  absl::StatusOr<pki::CertificateAuthority> ca =
      pki::CertificateAuthority::Load(ca_creds->key, ca_creds->chain.front());
  if (!ca.ok()) return ca.status();
  st->ca_.emplace(*std::move(ca));
  absl::StatusOr<channel::Credentials> hub_creds =
      daemon::LoadCredentials(dir + "/hub.key", dir + "/hub.crt");
  if (!hub_creds.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("hub identity not usable: ", hub_creds.status().message()));
  }
  absl::StatusOr<pki::Identity> self = hub_creds->chain.front().GetIdentity();
  if (!self.ok()) return self.status();
  if (self->role != pki::Role::kHub) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, "/hub.crt has role ", std::string(pki::RoleName(self->role)), ", not hub"));
  }
  st->self_ = *self;
  st->credentials_ = *std::move(hub_creds);
  // Send the root with our certificate so enrolling parties can pin it.
  if (st->credentials_->chain.size() == 1)
    st->credentials_->chain.push_back(st->ca_->certificate());
  for (const std::string& path : config.extra_roots) {
    absl::StatusOr<std::string> pem = config::ReadFile(path);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<pki::Certificate> root = pki::Certificate::FromPem(*pem);
    if (!root.ok())
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", root.status().message()));
    st->extra_roots_.push_back(*std::move(root));
  }
  absl::StatusOr<std::unique_ptr<storage::Db>> db =
      storage::Db::Open(config.data_dir + "/registry");
  if (!db.ok()) return db.status();
  st->db_ = *std::move(db);
  absl::StatusOr<std::unique_ptr<audit::AuditLog>> audit_log =
      audit::AuditLog::Open({.dir = config.data_dir + "/audit",
                             .node_id = st->self_.id,
                             .key = st->credentials_->key,
                             .node_country = st->self_.country});
  if (!audit_log.ok()) return audit_log.status();
  st->audit_ = *std::move(audit_log);
  if (absl::Status s = st->LoadRevocations(); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(st->mu_);
  if (absl::Status s = st->RebuildBundleLocked(); !s.ok()) return s;
  return st;
}

absl::Status HubState::LoadRevocations() {
  absl::StatusOr<std::string> number = db_->Get(kCrlNumberKey);
  crl_number_ = 0;
  if (number.ok() && !absl::SimpleAtoi(*number, &crl_number_)) {
    return absl::DataLossError(absl::StrCat("stored CRL number '", *number, "' is corrupt"));
  }
  return db_->Scan(kRevokedPrefix, [&](std::string_view key, std::string_view value) {
    json j = json::parse(value, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<std::string> serial =
        pki::CanonicalSerialHex(std::string(key.substr(sizeof(kRevokedPrefix) - 1)));
    if (j.is_discarded() || !j.is_object() || !serial.ok()) {
      // Refusing to start would leave every edge without a hub; skipping one
      // record keeps the rest of the revocations in force.
      spdlog::error("event=revocation_record_corrupt key={} action=\"revoke that serial again\"",
                    std::string(key));
      return true;
    }
    revoked_[*serial] = pki::RevokedEntry{*serial, FromUnix(j.value("revoked_at", int64_t{0}))};
    return true;
  });
}

absl::Status HubState::RebuildBundleLocked() {
  ++crl_number_;
  std::vector<pki::RevokedEntry> entries;
  for (const auto& [serial, e] : revoked_) entries.push_back(e);
  absl::StatusOr<pki::RevocationList> crl = ca_->IssueCrl(entries, crl_number_);
  if (!crl.ok()) return crl.status();
  if (absl::Status s = db_->Put(kCrlNumberKey, std::to_string(crl_number_)); !s.ok()) return s;
  auto bundle = std::make_shared<pki::TrustBundle>();
  if (absl::Status s = bundle->AddRoot(ca_->certificate()); !s.ok()) return s;
  for (const pki::Certificate& r : extra_roots_) {
    if (absl::Status s = bundle->AddRoot(r); !s.ok()) return s;
  }
  if (absl::Status s = bundle->AddCrl(*std::move(crl)); !s.ok()) return s;
  bundle_ = std::move(bundle);
  ++bundle_version_;
  bundle_cv_.notify_all();
  return absl::OkStatus();
}

std::shared_ptr<const pki::TrustBundle> HubState::bundle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bundle_;
}

uint64_t HubState::bundle_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bundle_version_;
}

uint64_t HubState::WaitForBundleChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  bundle_cv_.wait_for(lock, timeout, [&] { return bundle_version_ != seen; });
  return bundle_version_;
}

void HubState::Audit(const std::string& operation, const pki::Identity& who, absl::StatusCode code,
                     const std::string& detail) {
  v1::AuditEvent e;
  e.set_operation(operation);
  *e.mutable_who() = audit::ActorOf(who);
  e.set_status_code(static_cast<int>(code));
  e.set_detail(detail);
  if (absl::StatusOr<uint64_t> i = audit_->Append(std::move(e)); !i.ok()) {
    spdlog::error("event=audit_append_failed operation={} error=\"{}\"", operation,
                  i.status().ToString());
  }
}

absl::StatusOr<v1::CreateJoinTokenResponse> HubState::CreateJoinToken(
    const v1::CreateJoinTokenRequest& req, const pki::Identity& by) {
  const std::string& operator_id = by.id;
  std::optional<pki::Role> role = pki::ParseRole(req.role());
  if (!role || *role == pki::Role::kHub) {
    return absl::InvalidArgumentError(
        absl::StrCat("role '", req.role(),
                     "' cannot enrol; use edge, enterprise, officer, regulator or operator"));
  }
  if (!pki::IsCountryCode(req.country())) {
    return absl::InvalidArgumentError(
        absl::StrCat("country '", req.country(), "' is not an ISO 3166 alpha-2 code such as VN"));
  }
  if (req.id().empty() || req.id().size() > 64) {
    return absl::InvalidArgumentError("id must be 1 to 64 characters");
  }
  enroll::JoinToken token{HexEncode(crypto::RandomBytes(8)), HexEncode(crypto::RandomBytes(16)),
                          ca_->certificate().FingerprintHex()};
  uint32_t ttl = req.ttl_seconds() == 0 ? 3600 : req.ttl_seconds();
  pki::Clock::time_point expires = pki::Clock::now() + std::chrono::seconds(ttl);
  json record = {{"secret_sm3", Sm3Hex(token.secret)},
                 {"id", req.id()},
                 {"role", req.role()},
                 {"country", req.country()},
                 {"organization", req.organization()},
                 {"expires_at", UnixSeconds(expires)},
                 {"created_by", operator_id},
                 {"used", false}};
  if (absl::Status s = db_->Put(kTokenPrefix + token.id, record.dump()); !s.ok()) return s;
  spdlog::info("event=token_created token_id={} for={} role={} country={} ttl_s={} by={}", token.id,
               req.id(), req.role(), req.country(), ttl, operator_id);
  v1::CreateJoinTokenResponse resp;
  resp.set_token(token.ToString());
  *resp.mutable_expires_at() = TimeUtil::SecondsToTimestamp(UnixSeconds(expires));
  return resp;
}

absl::StatusOr<v1::EnrollResponse> HubState::Enroll(const v1::EnrollRequest& req) {
  absl::StatusOr<enroll::JoinToken> token = enroll::ParseJoinToken(req.join_token());
  if (!token.ok()) return token.status();
  absl::StatusOr<pki::CertificateRequest> csr =
      pki::CertificateRequest::FromDer(AsBytes(req.csr_der()));
  if (!csr.ok()) return absl::InvalidArgumentError(absl::StrCat("CSR: ", csr.status().message()));
  if (absl::Status s = csr->VerifySelfSignature(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CSR: ", s.message()));
  }
  absl::StatusOr<crypto::Sm2PublicKey> subject_key = csr->PublicKey();
  if (!subject_key.ok()) return subject_key.status();

  std::lock_guard<std::mutex> enroll_lock(enroll_mu_);
  absl::StatusOr<std::string> stored = db_->Get(kTokenPrefix + token->id);
  // The same answer for unknown, wrong-secret and used tokens: no oracle.
  const absl::Status refused = absl::PermissionDeniedError(
      "join token not accepted: unknown, already used or expired; ask the operator for a new one");
  auto refuse = [&](const char* reason) {
    Audit("registry.enroll", pki::Identity{}, refused.code(),
          absl::StrCat("token ", token->id, " refused: ", reason));
    return refused;
  };
  if (!stored.ok()) return refuse("unknown");
  json record = json::parse(*stored, nullptr, false);
  if (record.is_discarded()) return absl::DataLossError("stored join token record is corrupt");
  if (!crypto::ConstantTimeEquals(AsBytes(record.value("secret_sm3", std::string())),
                                  AsBytes(Sm3Hex(token->secret)))) {
    spdlog::warn("event=enroll_refused token_id={} reason=wrong_secret", token->id);
    return refuse("wrong secret");
  }
  if (record.value("used", true)) {
    spdlog::warn("event=enroll_refused token_id={} reason=already_used", token->id);
    return refuse("already used");
  }
  if (FromUnix(record.value("expires_at", int64_t{0})) < pki::Clock::now()) {
    spdlog::warn("event=enroll_refused token_id={} reason=expired", token->id);
    return refuse("expired");
  }
  pki::Identity identity{
      .id = record.value("id", std::string()),
      .role = pki::ParseRole(record.value("role", std::string())).value_or(pki::Role::kEnterprise),
      .country = record.value("country", std::string()),
      .organization = record.value("organization", std::string())};
  absl::StatusOr<pki::Certificate> cert = ca_->Issue(
      *subject_key, identity,
      pki::IssueOptions{.validity = std::chrono::hours(24 * config_.cert_validity_days)});
  if (!cert.ok()) return cert.status();

  v1::NodeRecord node;
  absl::StatusOr<v1::NodeRecord> previous = LoadNode(identity.id);
  if (previous.ok()) node = *previous;
  const std::string replaced_serial = previous.ok() ? previous->serial_hex() : "";
  node.set_node_id(identity.id);
  node.set_country(identity.country);
  node.set_role(std::string(pki::RoleName(identity.role)));
  node.set_serial_hex(cert->SerialHex());
  node.set_certificate_pem(cert->ToPem());
  *node.mutable_enrolled_at() = TimeUtil::GetCurrentTime();
  record["used"] = true;
  storage::WriteBatch batch;
  batch.Put(kTokenPrefix + token->id, record.dump());
  batch.Put(kNodePrefix + identity.id, node.SerializeAsString());
  if (absl::Status s = db_->Write(batch); !s.ok()) return s;
  spdlog::info("event=enrolled id={} role={} country={} serial={} token_id={}", identity.id,
               std::string(pki::RoleName(identity.role)), identity.country, cert->SerialHex(),
               token->id);
  pki::Identity enrolled = identity;
  enrolled.serial_hex = cert->SerialHex();
  Audit("registry.enroll", enrolled, absl::StatusCode::kOk, absl::StrCat("token ", token->id));
  // One live certificate per identity: re-enrolment retires the old one.
  if (!replaced_serial.empty()) {
    v1::RevokeRequest retire;
    retire.set_serial_hex(replaced_serial);
    if (absl::StatusOr<v1::RevokeResponse> r = Revoke(retire, self_); !r.ok()) {
      spdlog::error("event=retire_failed serial={} error=\"{}\"", replaced_serial,
                    r.status().ToString());
    }
  }

  v1::EnrollResponse resp;
  resp.set_certificate_pem(cert->ToPem());
  resp.set_trust_bundle_pem(bundle()->ToPem());
  resp.set_node_id(identity.id);
  resp.set_role(node.role());
  resp.set_country(identity.country);
  return resp;
}

absl::StatusOr<v1::RevokeResponse> HubState::Revoke(const v1::RevokeRequest& req,
                                                    const pki::Identity& by) {
  std::string serial;
  if (req.target_case() == v1::RevokeRequest::kSerialHex) {
    absl::StatusOr<std::string> normalized = pki::CanonicalSerialHex(req.serial_hex());
    if (!normalized.ok()) return normalized.status();
    serial = *normalized;
  }
  std::string node_id;
  if (req.target_case() == v1::RevokeRequest::kNodeId) {
    absl::StatusOr<v1::NodeRecord> node = LoadNode(req.node_id());
    if (!node.ok()) {
      return absl::NotFoundError(absl::StrCat("no enrolled node or party '", req.node_id(), "'"));
    }
    serial = node->serial_hex();
    node_id = node->node_id();
  }
  if (serial.empty()) return absl::InvalidArgumentError("give a serial number or a node id");
  v1::RevokeResponse resp;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!revoked_.count(serial)) {
      pki::RevokedEntry entry{serial, pki::Clock::now()};
      json j = {{"revoked_at", UnixSeconds(entry.revoked_at)}, {"node_id", node_id}};
      if (absl::Status s = db_->Put(kRevokedPrefix + serial, j.dump()); !s.ok()) return s;
      revoked_[serial] = entry;
      if (absl::Status s = RebuildBundleLocked(); !s.ok()) return s;
      spdlog::warn("event=revoked serial={} node={} crl_number={}", serial, node_id, crl_number_);
      Audit("admin.revoke", by, absl::StatusCode::kOk,
            absl::StrCat("serial ", serial, node_id.empty() ? "" : " of ", node_id, ", CRL ",
                         crl_number_));
    }
    resp.set_serial_hex(serial);
    resp.set_crl_number(crl_number_);
  }
  if (on_revoked_) on_revoked_(serial);
  return resp;
}

void HubState::SetRevocationListener(std::function<void(const std::string&)> listener) {
  on_revoked_ = std::move(listener);
}

bool HubState::IsRevoked(const std::string& serial_hex) const {
  std::lock_guard<std::mutex> lock(mu_);
  return revoked_.count(serial_hex) > 0;
}

absl::StatusOr<v1::NodeRecord> HubState::LoadNode(const std::string& node_id) const {
  absl::StatusOr<std::string> raw = db_->Get(kNodePrefix + node_id);
  if (!raw.ok()) return raw.status();
  v1::NodeRecord node;
  if (!node.ParseFromString(*raw)) return absl::DataLossError("stored node record is corrupt");
  return node;
}

absl::StatusOr<std::string> HubState::AnchoredNote(const std::string& node_id) const {
  return db_->Get(kAnchorPrefix + node_id);
}

absl::StatusOr<v1::NodeRecord> HubState::FindNode(const std::string& node_id) const {
  absl::StatusOr<v1::NodeRecord> node = LoadNode(node_id);
  if (!node.ok() && absl::IsNotFound(node.status())) {
    return absl::NotFoundError(absl::StrCat("no enrolled node '", node_id, "'"));
  }
  return node;
}

absl::StatusOr<crypto::Sm2PublicKey> HubState::NodeKey(const std::string& node_id) const {
  absl::StatusOr<v1::NodeRecord> node = LoadNode(node_id);
  if (!node.ok()) return absl::NotFoundError(absl::StrCat("no enrolled node '", node_id, "'"));
  absl::StatusOr<pki::Certificate> cert = pki::Certificate::FromPem(node->certificate_pem());
  if (!cert.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the registry holds no certificate for '",
                                                      node_id,
                                                      "' (enrolled before anchoring existed?)"));
  }
  return cert->PublicKey();
}

absl::StatusOr<uint64_t> HubState::RecordAnchor(const pki::Identity& edge,
                                                const std::string& cosigned) {
  v1::AuditEvent e;
  e.set_operation("anchor.cosign");
  *e.mutable_who() = audit::ActorOf(edge);
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(cosigned));
  v1::Digest* digest = e.add_digests();
  digest->set_algorithm("sm3");
  digest->set_value(std::string(d.begin(), d.end()));
  // The hub's own log first: an anchor recorded but not logged could be
  // denied later; logged but not recorded, the edge simply resubmits.
  absl::StatusOr<uint64_t> index = audit_->Append(std::move(e));
  if (!index.ok()) return index.status();
  if (absl::Status s = db_->Put(kAnchorPrefix + edge.id, cosigned); !s.ok()) return s;
  return index;
}

void HubState::RecordAnchorRefusal(const pki::Identity& edge, const absl::Status& why, bool alarm) {
  std::string reason = why.ToString();
  if (alarm) {
    spdlog::error(
        "event=anchor_alarm node={} error=\"{}\" action=\"the edge's audit log was "
        "rewritten or forked: investigate the edge before trusting its evidence\"",
        edge.id, reason);
    uint64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    (void)db_->Put(absl::StrCat(kAlarmPrefix, edge.id, "/", now), reason);
  } else {
    spdlog::warn("event=anchor_refused node={} error=\"{}\"", edge.id, reason);
  }
  Audit(alarm ? "anchor.alarm" : "anchor.refused", edge,
        alarm ? absl::StatusCode::kDataLoss : why.code(), reason);
}

bool HubState::RecordHeartbeat(const std::string& node_id, const v1::EdgeStatus& status) {
  absl::StatusOr<v1::NodeRecord> node = LoadNode(node_id);
  if (!node.ok()) return false;
  *node->mutable_last_heartbeat() = TimeUtil::GetCurrentTime();
  *node->mutable_last_status() = status;
  if (absl::Status s = db_->Put(kNodePrefix + node_id, node->SerializeAsString()); !s.ok()) {
    spdlog::error("event=registry_write_failed node={} error=\"{}\"", node_id, s.ToString());
  }
  return true;
}

void HubState::SetConnected(const pki::Identity& edge, bool connected) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    int& n = connected_[edge.id];
    n += connected ? 1 : -1;
    if (n <= 0) connected_.erase(edge.id);
  }
  Audit(connected ? "registry.edge_connected" : "registry.edge_disconnected", edge,
        absl::StatusCode::kOk, "");
}

v1::ListNodesResponse HubState::ListNodes() const {
  v1::ListNodesResponse resp;
  const auto now = TimeUtil::GetCurrentTime();
  *resp.mutable_hub_time() = now;
  (void)db_->Scan(kNodePrefix, [&](std::string_view, std::string_view value) {
    v1::NodeRecord node;
    if (node.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      *resp.add_nodes() = std::move(node);
    }
    return true;
  });
  std::lock_guard<std::mutex> lock(mu_);
  for (v1::NodeRecord& node : *resp.mutable_nodes()) {
    int64_t silent_ms = TimeUtil::DurationToMilliseconds(now - node.last_heartbeat());
    if (revoked_.count(node.serial_hex())) {
      node.set_health("revoked");
    } else if (!connected_.count(node.node_id())) {
      node.set_health(node.role() == "edge" ? "offline" : "-");
    } else if (silent_ms > config_.heartbeat_timeout_ms) {
      node.set_health("stale");
    } else {
      node.set_health("online");
    }
  }
  return resp;
}

}  // namespace beibu::hub
