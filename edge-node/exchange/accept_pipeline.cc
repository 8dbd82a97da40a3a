#include "exchange/accept_pipeline.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/random.h"
#include "beibu/envelope/seal.h"
#include "beibu/envelope/transfer_event.h"
#include "beibu/policy/mask.h"
#include "beibu/policy/route.h"
#include "beibu/policy/types.h"
#include "beibu/rpc/status.h"
#include "exchange/payload_pipeline.h"
#include "exchange/transfer_validation.h"

namespace beibu::edge {
namespace {

namespace pol = ::beibu::policy;

constexpr size_t kSecretSize = 32;
constexpr size_t kMaxReasonChars = 300;
// MaskStream holds one record in memory; a longer record is refused.
constexpr size_t kMaxMaskRecordBytes = size_t{4} << 20;

int UtcYear() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm.tm_year + 1900;
}

std::string Hex(const crypto::Sm3Digest& d) { return HexEncode(ByteView(d.data(), d.size())); }

grpc::Status Error(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

std::string DataLevel(const pol::RouteDecision& d) {
  std::string s(pol::LevelName(d.level));
  if (d.pi || d.spi) s += "+PI";
  if (d.spi) s += "+SPI";
  return s;
}

v1::Decision DecisionProto(const pol::RouteDecision& d, const pol::Database& db) {
  v1::Decision out;
  out.set_decision(std::string(pol::DecisionName(d.decision)));
  for (const std::string& r : d.rules) out.add_rules(r);
  out.set_reason(d.reason);
  if (d.mask_profile) out.set_mask_profile(*d.mask_profile);
  out.set_level(std::string(pol::LevelName(d.level)));
  out.set_pi(d.pi);
  out.set_spi(d.spi);
  out.set_high_risk(d.high_risk);
  out.set_policy_version(static_cast<uint64_t>(db.version));
  out.set_policy_digest(db.digest_hex);
  return out;
}

}  // namespace

google::protobuf::Timestamp NowTimestamp() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  google::protobuf::Timestamp t;
  t.set_seconds(ns / 1000000000);
  t.set_nanos(static_cast<int32_t>(ns % 1000000000));
  return t;
}

void SetStep(v1::TransferStatus* status, v1::TransferState state,
             const google::protobuf::Timestamp& at) {
  (*status->mutable_steps())[v1::TransferState_Name(state)] = at;
}

struct AcceptPipeline::Impl {
  AcceptOptions options;
  pki::Identity self;
  ExchangeStore* store;
  TransferKeySource* keys;
  std::mutex secret_mu;
  std::optional<std::string> secret;

  // The pseudonym key: 32 random bytes in options.secret_path, created 0600
  // on first use so that tokens stay stable across restarts.
  absl::StatusOr<std::string> Secret() {
    std::lock_guard<std::mutex> lock(secret_mu);
    if (secret) return *secret;
    if (options.secret_path.empty()) {
      return absl::FailedPreconditionError(
          "the edge has no secret_path configured for masking keys; set it and restart");
    }
    int fd = ::open(options.secret_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      Bytes key = crypto::RandomBytes(kSecretSize);
      std::string tmp = options.secret_path + ".tmp";
      int w = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (w < 0) {
        return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
      }
      bool ok =
          ::write(w, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(w) == 0;
      ::close(w);
      if (!ok || ::rename(tmp.c_str(), options.secret_path.c_str()) != 0) {
        return absl::InternalError(
            absl::StrCat("cannot write ", options.secret_path, ": ", std::strerror(errno)));
      }
      fd = ::open(options.secret_path.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open ", options.secret_path, ": ", std::strerror(errno)));
    }
    std::string key(64, '\0');
    ssize_t n = ::read(fd, key.data(), key.size());
    ::close(fd);
    if (n < static_cast<ssize_t>(16)) {
      return absl::FailedPreconditionError(
          absl::StrCat(options.secret_path,
                       " holds fewer than 16 bytes; remove it so that the "
                       "edge creates a new masking key"));
    }
    key.resize(static_cast<size_t>(n));
    secret = key;
    return key;
  }

  std::string WorkDir() const {
    if (!options.work_dir.empty()) return options.work_dir;
    std::filesystem::path p(options.secret_path);
    if (p.has_parent_path()) return p.parent_path().string();
    return std::filesystem::temp_directory_path().string();
  }

  // The `transfer.accept` event, appended once the transfer is committed.
  v1::AuditEvent AcceptEvent(const pki::Identity& caller, const v1::TransferHeader& h,
                             const pol::RouteDecision& d, const AcceptedPayload& payload,
                             const std::string* envelope_header) {
    v1::AuditEvent e;
    *e.mutable_who() = audit::ActorOf(caller);
    e.set_operation("transfer.accept");
    e.set_transfer_id(h.transfer_id());
    e.set_source_country(self.country);
    e.set_destination_country(h.to_country());
    e.set_data_level(DataLevel(d));
    e.set_category(h.category());
    e.set_decision(std::string(pol::DecisionName(d.decision)));
    for (const std::string& r : d.rules) e.add_rule_ids(r);
    v1::Digest* dg = e.add_digests();
    dg->set_algorithm("sm3");
    dg->set_value(std::string(payload.sm3.begin(), payload.sm3.end()));
    if (envelope_header != nullptr) {
      crypto::Sm3Digest hd = crypto::Sm3::Hash(AsBytes(*envelope_header));
      dg = e.add_digests();
      dg->set_algorithm(envelope::kHeaderDigestAlgorithm);
      dg->set_value(std::string(hd.begin(), hd.end()));
    }
    e.set_detail(d.reason.size() > kMaxReasonChars ? d.reason.substr(0, kMaxReasonChars) + "..."
                                                   : d.reason);
    return e;
  }

  // An istream over the payload as sent.
  struct Source {
    std::unique_ptr<std::streambuf> buf;
    std::unique_ptr<std::istream> in;
  };
  Source Open(const AcceptedPayload& p) const {
    Source s;
    if (p.bytes != nullptr) {
      auto sb = std::make_unique<std::stringbuf>(*p.bytes, std::ios::in);
      s.in = std::make_unique<std::istream>(sb.get());
      s.buf = std::move(sb);
    } else {
      auto sb = std::make_unique<StagedRawBuf>(store, p.staged_id, p.size);
      s.in = std::make_unique<std::istream>(sb.get());
      s.buf = std::move(sb);
    }
    return s;
  }

  // Decides, masks and seals a transfer whose payload is received; nothing
  // is committed yet. `record` carries the header, sender and earlier steps
  // (RECEIVING).
  PreparedAccept Prepare(const pki::Identity& caller, v1::TransferRecord record,
                         const AcceptedPayload& payload, const PolicySnapshot& snap) {
    PreparedAccept out;
    const v1::TransferHeader& h = record.header();
    const int year = UtcYear();
    const uint64_t persons = h.persons();
    pol::RouteRequest req;
    req.from = self.country;
    req.to = h.to_country();
    req.category = h.category();
    if (!h.declared_level().empty()) req.declared_level = pol::ParseLevel(h.declared_level());
    req.declared_pi = h.declared_pi() || h.declared_spi();
    req.declared_spi = h.declared_spi();
    req.finding_types = payload.finding_types;
    req.purpose = h.purpose();
    req.attested.assign(h.attested().begin(), h.attested().end());
    req.ftz = h.ftz();
    uint64_t total = store->ReservePersons(caller.id, year, persons);
    req.persons = static_cast<int64_t>(std::min<uint64_t>(total, INT64_MAX));
    absl::StatusOr<pol::RouteDecision> d = pol::Decide(snap.db, req);
    if (d.ok() && options.on_decided) options.on_decided(caller.id, req);
    if (!d.ok()) {
      store->ReleasePersons(caller.id, year, persons);
      out.status = Error(grpc::StatusCode::INVALID_ARGUMENT, std::string(d.status().message()));
      return out;
    }
    const google::protobuf::Timestamp now = NowTimestamp();
    v1::TransferStatus* st = record.mutable_status();
    st->set_transfer_id(h.transfer_id());
    *st->mutable_decision() = DecisionProto(*d, snap.db);
    st->set_size(payload.size);
    st->set_payload_sm3(Hex(payload.sm3));
    st->set_to_country(h.to_country());
    st->set_to_enterprise(h.to_enterprise());
    SetStep(st, v1::ACCEPTED, now);
    record.set_from_enterprise(caller.id);
    record.set_from_country(self.country);
    record.set_request_digest(RequestDigest(h, payload.sm3));

    if (d->decision == pol::Decision::kDeny || d->decision == pol::Decision::kSandboxOnly) {
      store->ReleasePersons(caller.id, year, persons);
      v1::TransferState state = d->decision == pol::Decision::kDeny ? v1::DENIED : v1::SANDBOX_ONLY;
      st->set_state(state);
      SetStep(st, state, now);
      if (state == v1::SANDBOX_ONLY) st->set_sandbox_hint(options.sandbox_hint);
      // The commit also drops staged SendStream bytes: nothing is kept.
      out.needs_commit = true;
      out.commit.record = std::move(record);
      out.commit.audit = AcceptEvent(caller, h, *d, payload, nullptr);
      return out;
    }

    // FAST / MASK / REVIEW: what gets sealed is the payload as sent, or masked.
    Source plain = Open(payload);
    std::istream* sealed_from = plain.in.get();
    uint64_t sealed_size = payload.size;
    std::string masked;  // Send: masked bytes in memory
    std::istringstream masked_in;
    std::ifstream spool_in;
    std::string spool_path;
    struct SpoolCleanup {
      std::string* path;
      ~SpoolCleanup() {
        if (!path->empty()) std::filesystem::remove(*path);
      }
    } cleanup{&spool_path};
    auto fail = [&](grpc::Status s) {
      store->ReleasePersons(caller.id, year, persons);
      out.status = std::move(s);
      return std::move(out);
    };
    if (d->decision == pol::Decision::kMask) {
      auto profile = snap.db.profiles.find(d->mask_profile.value_or(""));
      if (profile == snap.db.profiles.end()) {
        return fail(Error(grpc::StatusCode::INTERNAL,
                          absl::StrCat("mask profile '", d->mask_profile.value_or(""),
                                       "' is not in the policy database")));
      }
      absl::StatusOr<std::string> key = Secret();
      if (!key.ok()) return fail(rpc::ToGrpc(key.status()));
      absl::StatusOr<pol::Masker> masker =
          pol::Masker::Create(*snap.detector, profile->second, *key);
      if (!masker.ok()) return fail(rpc::ToGrpc(masker.status()));
      absl::StatusOr<pol::MaskStats> stats;
      if (payload.bytes != nullptr) {
        std::ostringstream out;
        stats = masker->MaskStream(*plain.in, out, payload.format, kMaxMaskRecordBytes);
        masked = out.str();
        masked_in.str(masked);
        sealed_from = &masked_in;
        sealed_size = masked.size();
      } else {
        // Constant memory: masked output is spooled to a file, then sealed.
        spool_path =
            (std::filesystem::path(WorkDir()) / absl::StrCat(".masking-", h.transfer_id(), ".tmp"))
                .string();
        {
          std::ofstream out(spool_path, std::ios::binary | std::ios::trunc);
          if (!out) {
            return fail(
                Error(grpc::StatusCode::INTERNAL,
                      absl::StrCat("cannot create ", spool_path, ": ", std::strerror(errno))));
          }
          stats = masker->MaskStream(*plain.in, out, payload.format, kMaxMaskRecordBytes);
          out.flush();
          if (stats.ok() && !out) {
            return fail(
                Error(grpc::StatusCode::INTERNAL, absl::StrCat("cannot write ", spool_path)));
          }
        }
        if (auto* raw = dynamic_cast<StagedRawBuf*>(plain.buf.get()); raw && !raw->status().ok()) {
          return fail(rpc::ToGrpc(raw->status()));
        }
        std::error_code ec;
        sealed_size = std::filesystem::file_size(spool_path, ec);
        spool_in.open(spool_path, std::ios::binary);
        sealed_from = &spool_in;
      }
      if (!stats.ok()) {
        return fail(Error(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("masking with profile '", profile->first,
                                       "' failed: ", stats.status().message())));
      }
    }

    v1::EnvelopeHeader eh;
    eh.set_transfer_id(h.transfer_id());
    absl::StatusOr<uint64_t> seq = store->AllocateSourceSequence();
    if (!seq.ok()) return fail(rpc::ToGrpc(seq.status()));
    eh.set_source_sequence(*seq);
    eh.set_from_edge(self.id);
    eh.set_from_enterprise(caller.id);
    eh.set_to_enterprise(h.to_enterprise());
    eh.set_from_country(self.country);
    eh.set_to_country(h.to_country());
    eh.set_category(h.category());
    eh.set_decision(std::string(pol::DecisionName(d->decision)));
    for (const std::string& r : d->rules) eh.add_rules(r);
    eh.set_policy_version(static_cast<uint64_t>(snap.db.version));
    eh.set_size(sealed_size);
    *eh.mutable_accepted_at() = now;
    absl::StatusOr<envelope::TransferKeys> tk = keys->PrepareSend(&eh);
    if (!tk.ok()) {
      if (tk.status().code() == absl::StatusCode::kUnavailable) {
        return fail(
            Error(grpc::StatusCode::UNAVAILABLE,
                  absl::StrCat("destination edge's keys not known yet (", tk.status().message(),
                               "); retry"
                               " with the same transfer id")));
      }
      return fail(rpc::ToGrpc(tk.status()));
    }
    // Small payloads are sealed in memory and committed in one batch; large
    // ones are staged part by part so memory stays bounded.
    const bool inline_parts = payload.bytes != nullptr;
    std::vector<v1::Envelope> parts;
    absl::StatusOr<SealedPayload> sealed =
        SealPayload(*sealed_from, sealed_size, *tk, eh, [&](uint32_t part, v1::Envelope env) {
          if (inline_parts) {
            parts.push_back(std::move(env));
            return absl::OkStatus();
          }
          return store->StagePart(h.transfer_id(), part, env);
        });
    if (auto* raw = dynamic_cast<StagedRawBuf*>(plain.buf.get()); raw && !raw->status().ok()) {
      return fail(rpc::ToGrpc(raw->status()));
    }
    if (!sealed.ok()) return fail(rpc::ToGrpc(sealed.status()));

    const bool review = d->decision == pol::Decision::kReview;
    if (d->decision == pol::Decision::kMask) SetStep(st, v1::MASKED, now);
    v1::TransferState state = review ? v1::HELD_FOR_REVIEW : v1::IN_FLIGHT;
    st->set_state(state);
    SetStep(st, state, now);
    record.set_source_sequence(*seq);
    v1::EnvelopeHeader prepared;
    (void)prepared.ParseFromString(sealed->header_bytes);
    record.set_to_edge(prepared.to_edge());
    out.needs_commit = true;
    out.commit = ExchangeStore::TransferCommit{
        .record = std::move(record),
        .inline_parts = std::move(parts),
        .parts = sealed->parts,
        .to_outbox = !review,
        .exporter = caller.id,
        .year = year,
        .persons = persons,
        .audit = AcceptEvent(caller, h, *d, payload, &sealed->header_bytes)};
    return out;
  }

  // One synced store batch for `batch`, in order, with the written
  // transfers' transfer.accept events staged in it. Written transfers get
  // their answer; duplicates the first answer or ALREADY_EXISTS; a failed
  // write the error (reservations released).
  void CommitStore(const std::vector<PreparedAccept*>& batch) {
    std::vector<ExchangeStore::TransferCommit> commits;
    std::vector<PreparedAccept*> owners;
    for (PreparedAccept* p : batch) {
      if (!p->status.ok() || !p->needs_commit) continue;
      commits.push_back(std::move(p->commit));
      owners.push_back(p);
    }
    if (commits.empty()) return;
    absl::StatusOr<std::vector<std::optional<v1::TransferRecord>>> dups =
        store->CommitTransfers(commits);
    if (!dups.ok()) {
      for (size_t i = 0; i < commits.size(); ++i) {
        const ExchangeStore::TransferCommit& c = commits[i];
        if (c.persons > 0) store->ReleasePersons(c.exporter, c.year, c.persons);
        owners[i]->status = rpc::ToGrpc(dups.status());
      }
      return;
    }
    bool outbox = false;
    for (size_t i = 0; i < commits.size(); ++i) {
      const v1::TransferRecord& mine = commits[i].record;
      if (const std::optional<v1::TransferRecord>& first = (*dups)[i]; first) {
        // Another accept of this id won (same stream or concurrent): its answer.
        owners[i]->status =
            ReplayAnswer(mine.from_enterprise(), *first, mine.request_digest(), &owners[i]->answer);
        continue;
      }
      owners[i]->answer = mine.status();
      owners[i]->committed = true;
      outbox = outbox || (commits[i].to_outbox && commits[i].parts > 0);
    }
    // The relay link may push now.
    if (outbox && options.on_outbox) options.on_outbox();
  }
};

AcceptPipeline::AcceptPipeline(AcceptOptions options, pki::Identity self, ExchangeStore* store,
                               TransferKeySource* keys)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->self = std::move(self);
  impl_->store = store;
  impl_->keys = keys;
}

AcceptPipeline::~AcceptPipeline() = default;

grpc::Status AcceptPipeline::Accept(const pki::Identity& caller, v1::TransferRecord record,
                                    const AcceptedPayload& payload, const PolicySnapshot& snap,
                                    v1::TransferStatus* resp) {
  PreparedAccept p = impl_->Prepare(caller, std::move(record), payload, snap);
  Commit({&p});
  if (p.status.ok()) *resp = std::move(p.answer);
  return p.status;
}

PreparedAccept AcceptPipeline::Prepare(const pki::Identity& caller, v1::TransferRecord record,
                                       const AcceptedPayload& payload, const PolicySnapshot& snap) {
  return impl_->Prepare(caller, std::move(record), payload, snap);
}

void AcceptPipeline::Commit(const std::vector<PreparedAccept*>& batch) {
  impl_->CommitStore(batch);
}

void AcceptPipeline::Abandon(PreparedAccept* p, grpc::Status why) {
  if (!p->status.ok()) return;
  const ExchangeStore::TransferCommit& c = p->commit;
  if (p->needs_commit && c.persons > 0) {
    impl_->store->ReleasePersons(c.exporter, c.year, c.persons);
  }
  p->needs_commit = false;
  p->status = std::move(why);
}

grpc::Status ReplayAnswer(const std::string& caller_id, const v1::TransferRecord& existing,
                          const std::string& digest, v1::TransferStatus* resp) {
  const std::string& id = existing.header().transfer_id();
  if (existing.from_enterprise() == caller_id && existing.status().state() != v1::RECEIVING &&
      existing.request_digest() == digest) {
    *resp = existing.status();
    return grpc::Status::OK;
  }
  if (existing.status().state() == v1::RECEIVING && existing.from_enterprise() == caller_id) {
    return Error(grpc::StatusCode::ALREADY_EXISTS,
                 absl::StrCat("transfer id '", id, "' belongs to a SendStream still receiving (",
                              existing.status().size(),
                              " bytes so far); resume that stream or choose a new id"));
  }
  return Error(grpc::StatusCode::ALREADY_EXISTS,
               absl::StrCat("transfer id '", id,
                            "' was already used for a different transfer; choose a new id "
                            "(an id may only be reused to retry the same content)"));
}

}  // namespace beibu::edge
