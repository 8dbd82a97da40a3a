#include "beibu/audit/audit_log.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <vector>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"

namespace beibu::audit {
namespace {

constexpr char kNoteFile[] = "checkpoint.note";
constexpr size_t kMagicSize = 5;

uint64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Bytes EncodeAuditEvent(const v1::AuditEvent& event) {
  std::string body;
  {
    google::protobuf::io::StringOutputStream raw(&body);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&out);
  }
  return ToBytes(std::string(kAuditEventMagic, kMagicSize) + body);
}

absl::StatusOr<v1::AuditEvent> DecodeAuditEvent(ByteView entry) {
  if (entry.size() < kMagicSize || std::memcmp(entry.data(), kAuditEventMagic, kMagicSize) != 0) {
    return absl::InvalidArgumentError("not an audit event entry");
  }
  v1::AuditEvent event;
  if (!event.ParseFromArray(entry.data() + kMagicSize,
                            static_cast<int>(entry.size() - kMagicSize))) {
    return absl::DataLossError("audit event entry does not parse");
  }
  return event;
}

v1::Actor ActorOf(const pki::Identity& identity) {
  v1::Actor a;
  a.set_id(identity.id);
  a.set_role(identity.id.empty() ? "anonymous" : std::string(pki::RoleName(identity.role)));
  a.set_country(identity.country);
  a.set_organization(identity.organization);
  a.set_serial_hex(identity.serial_hex);
  return a;
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(AuditLogOptions options) {
  if (!options.key) return absl::InvalidArgumentError("audit log needs the node's signing key");
  if (!options.now_ms) options.now_ms = SystemNowMs;
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options)));
  const AuditLogOptions& o = log->options_;
  const std::string origin = LogOrigin(o.node_id);

  std::optional<audit::Checkpoint> last;
  absl::StatusOr<std::string> note = config::ReadFile(o.dir + "/" + kNoteFile);
  if (note.ok()) {
    absl::StatusOr<SignedNote> parsed = ParseSignedNote(*note);
    if (!parsed.ok())
      return absl::DataLossError(
          absl::StrCat(o.dir, "/", kNoteFile, ": ", parsed.status().message()));
    if (absl::Status s = VerifyNoteSignature(*parsed, o.key->PublicKey(), o.node_id); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat(o.dir, "/", kNoteFile, " is not signed by this node's key: ", s.message()));
    }
    absl::StatusOr<audit::Checkpoint> cp = ParseCheckpoint(parsed->body);
    if (!cp.ok()) return cp.status();
    last = *cp;
    log->note_ = *note;
  } else if (!absl::IsNotFound(note.status())) {
    return note.status();
  }
  OpenOptions store_options;
  if (last) store_options.expected = TreeHead{last->size, last->root};
  std::filesystem::create_directories(o.dir);
  absl::StatusOr<std::unique_ptr<LogStore>> store = LogStore::Open(o.dir + "/log", store_options);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("audit log at ", o.dir, " refused: ", store.status().message(),
                                     " (the node will not serve over a log that does not contain "
                                     "its last signed checkpoint)"));
  }
  log->store_ = *std::move(store);
  log->signer_ = std::make_unique<CheckpointSigner>(*o.key, o.node_id, origin, last);
  if (o.checkpoint_interval.count() > 0) {
    log->checkpointer_ = std::thread([raw = log.get()] { raw->CheckpointLoop(); });
  }
  return log;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (store_ && signer_) {
    if (absl::StatusOr<std::string> s = Checkpoint(); !s.ok()) {
      spdlog::error("event=checkpoint_failed error=\"{}\"", std::string(s.status().message()));
    }
  }
}

void AuditLog::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, options_.checkpoint_interval);
    if (stopping_) break;
    lock.unlock();
    if (absl::StatusOr<std::string> s = Checkpoint(); !s.ok()) {
      spdlog::error("event=checkpoint_failed error=\"{}\"", std::string(s.status().message()));
    }
    lock.lock();
  }
}

namespace {
// Below LogStoreOptions::max_batch_entries' default.
constexpr size_t kAuditBatch = 1024;
}  // namespace

void AuditLog::Stamp(v1::AuditEvent& event) const {
  event.set_schema_version(1);
  if (!event.has_time()) *event.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  event.set_node_id(options_.node_id);
  event.set_node_country(options_.node_country);
}

absl::StatusOr<uint64_t> AuditLog::Append(v1::AuditEvent event) {
  Stamp(event);
  return store_->Append(EncodeAuditEvent(event));
}

absl::StatusOr<uint64_t> AuditLog::AppendBatch(std::vector<v1::AuditEvent> events) {
  if (events.empty()) return absl::InvalidArgumentError("AppendBatch needs at least one event");
  std::vector<Bytes> encoded;
  encoded.reserve(events.size());
  for (v1::AuditEvent& e : events) {
    Stamp(e);
    encoded.push_back(EncodeAuditEvent(e));
  }
  std::vector<ByteView> views(encoded.begin(), encoded.end());
  uint64_t first = 0;
  // LogStore bounds one batch; larger sets go in consecutive batches.
  for (size_t at = 0; at < views.size(); at += kAuditBatch) {
    size_t n = std::min(kAuditBatch, views.size() - at);
    absl::StatusOr<uint64_t> i = store_->AppendBatch(std::span<const ByteView>(views).subspan(at, n));
    if (!i.ok()) return i.status();
    if (at == 0) first = *i;
  }
  return first;
}

absl::StatusOr<uint64_t> AuditLog::AppendEntry(ByteView entry) { return store_->Append(entry); }

absl::StatusOr<std::string> AuditLog::Checkpoint() {
  std::lock_guard<std::mutex> lock(mu_);
  TreeHead head = store_->Head();
  std::optional<audit::Checkpoint> last = signer_->last();
  if (head.size == 0 || (last && last->size == head.size)) return note_;
  std::vector<Bytes> proof;
  if (last && last->size > 0) {
    absl::StatusOr<std::vector<Bytes>> p = store_->ConsistencyProof(last->size, head.size);
    if (!p.ok()) return p.status();
    proof = *std::move(p);
  }
  // Timestamps never go backwards, even if the clock does.
  uint64_t now = std::max(options_.now_ms(), last ? last->timestamp_ms : 0);
  audit::Checkpoint cp{signer_->origin(), head.size, head.root, now};
  absl::StatusOr<std::string> note = signer_->Sign(cp, proof);
  if (!note.ok()) return note.status();
  if (absl::Status s = config::WriteFileAtomic(options_.dir + "/" + kNoteFile, *note); !s.ok()) {
    return s;
  }
  note_ = *note;
  return note_;
}

std::string AuditLog::last_checkpoint_note() const {
  std::lock_guard<std::mutex> lock(mu_);
  return note_;
}

}  // namespace beibu::audit
