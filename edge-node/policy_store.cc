#include "policy_store.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"

namespace beibu::edge {

absl::StatusOr<policy::SignedPolicy> SignedPolicyFromProto(const v1::SignedPolicy& p) {
  policy::SignedPolicy out;
  out.version = p.version();
  out.digest_hex = p.digest_hex();
  for (const v1::PolicyFile& f : p.files()) {
    if (!out.files.emplace(f.path(), f.content()).second) {
      return absl::InvalidArgumentError(absl::StrCat("signed policy version ", p.version(),
                                                     " carries file '", f.path(), "' twice"));
    }
  }
  out.published_at_ms = google::protobuf::util::TimeUtil::TimestampToMilliseconds(p.published_at());
  out.signer_certificate = p.signer_certificate();
  out.signature = p.signature();
  return out;
}

namespace {

// Verifies a pushed or persisted policy against the current trust bundle.
absl::StatusOr<policy::Database> Verify(const v1::SignedPolicy& proto,
                                        const pki::TrustBundle& trust) {
  absl::StatusOr<policy::SignedPolicy> p = SignedPolicyFromProto(proto);
  if (!p.ok()) return p.status();
  return policy::VerifyPolicy(*p, trust, pki::Clock::now());
}

}  // namespace

std::string PolicyStore::StatePath() const { return options_.data_dir + "/policy/current.pb"; }

absl::StatusOr<std::unique_ptr<PolicyStore>> PolicyStore::Open(Options options) {
  std::unique_ptr<PolicyStore> store(new PolicyStore(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(store->options_.data_dir + "/policy", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", store->options_.data_dir, "/policy: ", ec.message()));
  }
  const std::string path = store->StatePath();
  absl::StatusOr<std::string> stored = config::ReadFile(path);
  if (absl::IsNotFound(stored.status())) return store;  // the baseline until the hub pushes
  v1::SignedPolicy proto;
  absl::StatusOr<policy::Database> db = absl::DataLossError("not a SignedPolicy message");
  if (!stored.ok()) {
    db = stored.status();
  } else if (proto.ParseFromString(*stored)) {
    db = Verify(proto, *store->options_.trust());
  }
  if (!db.ok()) {
    spdlog::error(
        "event=policy_persisted_invalid file={} error=\"{}\" action=\"enforcing the "
        "compiled-in baseline until the hub pushes a valid version\"",
        path, std::string(db.status().message()));
    return store;
  }
  const int64_t enforced = store->options_.holder->current()->db.version;
  if (db->version <= enforced) {
    // A newer baseline compiled into this binary supersedes it.
    spdlog::info("event=policy_persisted_superseded version={} enforced={}", db->version, enforced);
    return store;
  }
  const std::string digest = db->digest_hex;
  const int64_t version = db->version;
  if (absl::Status s = store->options_.holder->Replace(*std::move(db)); !s.ok()) {
    spdlog::error("event=policy_persisted_invalid file={} error=\"{}\"", path,
                  std::string(s.message()));
    return store;
  }
  spdlog::info("event=policy_loaded version={} digest={}", version, digest);
  return store;
}

std::pair<uint64_t, std::string> PolicyStore::Enforced() const {
  std::shared_ptr<const PolicySnapshot> s = options_.holder->current();
  return {static_cast<uint64_t>(std::max<int64_t>(s->db.version, 0)), s->db.digest_hex};
}

void PolicyStore::AuditEvent(const std::string& operation, absl::StatusCode code,
                             const std::string& detail) {
  if (options_.audit == nullptr) return;
  v1::AuditEvent e;
  e.set_operation(operation);
  e.mutable_who()->set_role("hub");  // the hub published what is applied or refused
  e.set_status_code(static_cast<int>(code));
  e.set_detail(detail);
  if (absl::StatusOr<uint64_t> i = options_.audit->Append(std::move(e)); !i.ok()) {
    spdlog::error("event=audit_append_failed operation={} error=\"{}\"", operation,
                  i.status().ToString());
  }
}

absl::Status PolicyStore::Apply(const v1::SignedPolicy& signed_policy) {
  auto refuse = [&](absl::Status s) {
    spdlog::error("event=policy_refused version={} reason=\"{}\"", signed_policy.version(),
                  std::string(s.message()));
    AuditEvent("edge.policy_refused", s.code(), std::string(s.message()));
    return s;
  };
  std::lock_guard<std::mutex> lock(apply_mu_);
  absl::StatusOr<policy::Database> db = Verify(signed_policy, *options_.trust());
  if (!db.ok()) return refuse(db.status());
  const int64_t enforced = options_.holder->current()->db.version;
  if (db->version <= enforced) {
    return refuse(absl::FailedPreconditionError(
        absl::StrCat("policy version ", db->version, " is not above the enforced version ",
                     enforced, "; an edge never goes back to an older database")));
  }
  // Persist first: once the holder switches, a restart must find this version.
  if (absl::Status s = config::WriteFileAtomic(StatePath(), signed_policy.SerializeAsString());
      !s.ok()) {
    return refuse(absl::Status(
        s.code(), absl::StrCat("cannot persist it, so it is not applied: ", s.message())));
  }
  const std::string digest = db->digest_hex;
  const int64_t version = db->version;
  std::shared_ptr<const PolicySnapshot> previous = options_.holder->current();
  if (absl::Status s = options_.holder->Replace(*std::move(db)); !s.ok()) return refuse(s);
  spdlog::info("event=policy_applied version={} digest={}", version, digest);
  AuditEvent("edge.policy_applied", absl::StatusCode::kOk,
             absl::StrCat("version ", version, " digest ", digest));
  if (options_.on_applied) options_.on_applied(previous->db, options_.holder->current()->db);
  return absl::OkStatus();
}

}  // namespace beibu::edge
