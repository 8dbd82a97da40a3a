#include "policy_publisher.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"
#include "beibu/policy/risk.h"
#include "beibu/policy/signed_policy.h"

namespace beibu::hub {
namespace {

using google::protobuf::util::TimeUtil;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ChangeLine(const policy::DatabaseChange& c) {
  char mark = c.kind == policy::DatabaseChange::Kind::kAdded     ? '+'
              : c.kind == policy::DatabaseChange::Kind::kRemoved ? '-'
                                                                 : '~';
  return absl::StrCat(std::string(1, mark), " ", c.what, " ", c.id, c.detail.empty() ? "" : ": ",
                      c.detail);
}

absl::StatusOr<policy::PolicyFiles> FilesFromProto(
    const google::protobuf::RepeatedPtrField<v1::PolicyFile>& files) {
  policy::PolicyFiles out;
  for (const v1::PolicyFile& f : files) {
    if (!out.emplace(f.path(), f.content()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy file '", f.path(), "' appears twice; send each file once"));
    }
  }
  return out;
}

v1::SignedPolicy SignedPolicyToProto(const policy::SignedPolicy& p) {
  v1::SignedPolicy out;
  out.set_version(p.version);
  out.set_digest_hex(p.digest_hex);
  for (const auto& [path, content] : p.files) {
    v1::PolicyFile* f = out.add_files();
    f->set_path(path);
    f->set_content(content);
  }
  *out.mutable_published_at() = TimeUtil::MillisecondsToTimestamp(p.published_at_ms);
  out.set_signer_certificate(p.signer_certificate);
  out.set_signature(p.signature);
  return out;
}

}  // namespace

std::string PolicyPublisher::StatePath() const { return options_.data_dir + "/policy/current.pb"; }

absl::StatusOr<std::unique_ptr<PolicyPublisher>> PolicyPublisher::Open(Options options) {
  std::unique_ptr<PolicyPublisher> pub(new PolicyPublisher(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(pub->options_.data_dir + "/policy", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", pub->options_.data_dir, "/policy: ", ec.message()));
  }
  absl::StatusOr<policy::Database> baseline = policy::LoadDatabase(policy::BaselineFiles());
  if (!baseline.ok()) {
    return absl::InternalError(absl::StrCat("the compiled-in baseline policy does not load: ",
                                            baseline.status().message()));
  }
  std::lock_guard<std::mutex> lock(pub->publish_mu_);
  const std::string path = pub->StatePath();
  absl::StatusOr<std::string> stored = config::ReadFile(path);
  if (absl::IsNotFound(stored.status())) {
    spdlog::info("event=policy_baseline_signed version={} digest={}", baseline->version,
                 baseline->digest_hex.substr(0, 16));
    if (absl::Status s = pub->SignAndInstall(policy::BaselineFiles(), *std::move(baseline));
        !s.ok()) {
      return s;
    }
    return pub;
  }
  if (!stored.ok()) return stored.status();
  const std::string what_to_do =
      "restore it from a backup, or move it away to start again from the compiled-in baseline";
  v1::SignedPolicy signed_policy;
  if (!signed_policy.ParseFromString(*stored)) {
    return absl::DataLossError(
        absl::StrCat(path, " is corrupt (not a SignedPolicy); ", what_to_do));
  }
  absl::StatusOr<policy::PolicyFiles> files = FilesFromProto(signed_policy.files());
  if (!files.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", files.status().message(), "; ", what_to_do));
  }
  absl::StatusOr<policy::Database> db = policy::LoadDatabase(*files);
  if (!db.ok() || db->digest_hex != signed_policy.digest_hex() ||
      static_cast<uint64_t>(db->version) != signed_policy.version()) {
    return absl::DataLossError(
        absl::StrCat(path, " does not hold the database it claims (",
                     db.ok() ? "digest or version differs" : std::string(db.status().message()),
                     "); ", what_to_do));
  }
  if (baseline->version > db->version) {
    spdlog::warn("event=policy_baseline_adopted stored_version={} baseline_version={}", db->version,
                 baseline->version);
    if (absl::Status s = pub->SignAndInstall(policy::BaselineFiles(), *std::move(baseline));
        !s.ok()) {
      return s;
    }
    return pub;
  }
  if (signed_policy.signer_certificate() != pub->options_.certificate_pem) {
    // The hub certificate was renewed: edges verify against the current one.
    spdlog::info("event=policy_resigned version={} reason=\"hub certificate changed\"",
                 db->version);
    if (absl::Status s = pub->SignAndInstall(*files, *std::move(db)); !s.ok()) return s;
    return pub;
  }
  pub->current_db_ = std::make_shared<const policy::Database>(*std::move(db));
  pub->current_ = std::make_shared<const v1::SignedPolicy>(std::move(signed_policy));
  spdlog::info("event=policy_loaded version={} digest={}", pub->current_->version(),
               pub->current_->digest_hex().substr(0, 16));
  return pub;
}

absl::Status PolicyPublisher::SignAndInstall(const policy::PolicyFiles& files,
                                             policy::Database db) {
  absl::StatusOr<policy::SignedPolicy> p =
      policy::SignPolicy(files, NowMs(), options_.key, options_.certificate_pem);
  if (!p.ok()) return p.status();
  auto proto = std::make_shared<v1::SignedPolicy>(SignedPolicyToProto(*p));
  // Persist first: the hub never distributes a version it could not reload.
  if (absl::Status s = config::WriteFileAtomic(StatePath(), proto->SerializeAsString()); !s.ok()) {
    return s;
  }
  current_db_ = std::make_shared<const policy::Database>(std::move(db));
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(proto);
  }
  changed_.notify_all();
  return absl::OkStatus();
}

std::shared_ptr<const v1::SignedPolicy> PolicyPublisher::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

uint64_t PolicyPublisher::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_->version();
}

uint64_t PolicyPublisher::WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return current_->version() != seen; });
  return current_->version();
}

void PolicyPublisher::Audit(const pki::Identity& who, absl::StatusCode code,
                            const std::string& detail) {
  if (options_.audit == nullptr) return;
  v1::AuditEvent e;
  e.set_operation("policy.publish");
  *e.mutable_who() = audit::ActorOf(who);
  e.set_status_code(static_cast<int>(code));
  e.set_detail(detail);
  if (absl::StatusOr<uint64_t> i = options_.audit->Append(std::move(e)); !i.ok()) {
    spdlog::error("event=audit_append_failed operation=policy.publish error=\"{}\"",
                  i.status().ToString());
  }
}

absl::StatusOr<v1::PublishPolicyResponse> PolicyPublisher::Publish(
    const v1::PublishPolicyRequest& req, const pki::Identity& by) {
  auto refuse = [&](absl::Status s) {
    Audit(by, s.code(), std::string(s.message()));
    spdlog::warn("event=policy_publish_refused by={} error=\"{}\"", by.id,
                 std::string(s.message()));
    return s;
  };
  if (req.files().empty()) {
    return refuse(absl::InvalidArgumentError(
        "no policy files sent; give the whole database directory (beibu policy publish DIR)"));
  }
  absl::StatusOr<policy::PolicyFiles> files = FilesFromProto(req.files());
  if (!files.ok()) return refuse(files.status());
  absl::StatusOr<policy::Database> db = policy::LoadDatabase(*files);
  if (!db.ok()) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("policy database does not load: ", db.status().message(),
                     "; check it with `beibu policy lint DIR`")));
  }
  std::lock_guard<std::mutex> lock(publish_mu_);
  if (db->version <= current_db_->version) {
    return refuse(absl::FailedPreconditionError(
        absl::StrCat("manifest.yaml version ", db->version, " is not above the current version ",
                     current_db_->version, " (digest ", current_db_->digest_hex.substr(0, 16),
                     "); raise version in manifest.yaml and publish again")));
  }
  std::vector<policy::DatabaseChange> changes = policy::DiffDatabases(*current_db_, *db);
  v1::PublishPolicyResponse resp;
  resp.set_version(static_cast<uint64_t>(db->version));
  resp.set_digest_hex(db->digest_hex);
  for (const policy::DatabaseChange& c : changes) resp.add_changes(ChangeLine(c));
  if (absl::Status s = SignAndInstall(*files, *std::move(db)); !s.ok()) return refuse(s);
  Audit(by, absl::StatusCode::kOk,
        absl::StrCat("version ", resp.version(), " digest ", resp.digest_hex(), ", ",
                     changes.size(), " changes"));
  spdlog::info("event=policy_published by={} version={} digest={} changes={}", by.id,
               resp.version(), resp.digest_hex().substr(0, 16), changes.size());
  return resp;
}

}  // namespace beibu::hub
