#include "beibu/audit/audit_query_service.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "beibu/audit/checkpoint.h"
#include "beibu/merkle/hasher.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"
#include "spdlog/spdlog.h"

namespace beibu::audit {
namespace {

using google::protobuf::util::TimeUtil;

constexpr auto kTailPoll = std::chrono::milliseconds(100);
constexpr size_t kExportChunkBytes = 64 * 1024;

// The caller's jurisdiction, or an error status for anyone but a regulator.
grpc::Status Authorize(const grpc::ServerContext& ctx, std::string* country) {
  pki::Identity peer;
  grpc::Status s = rpc::RequireRole(ctx, {pki::Role::kRegulator}, &peer);
  if (!s.ok()) return s;
  if (peer.country.empty()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "regulator certificate names no country (C): no jurisdiction");
  }
  *country = peer.country;
  return grpc::Status::OK;
}

struct LatestCheckpoint {
  std::string note;
  Checkpoint checkpoint;
};

absl::StatusOr<LatestCheckpoint> GetLatestCheckpoint(AuditLog& log) {
  LatestCheckpoint out;
  out.note = log.last_checkpoint_note();
  if (out.note.empty()) {
    return absl::FailedPreconditionError(
        "the node has not signed a checkpoint yet; retry in a second");
  }
  absl::StatusOr<SignedNote> note = ParseSignedNote(out.note);
  if (!note.ok())
    return absl::InternalError(absl::StrCat("own checkpoint: ", note.status().message()));
  absl::StatusOr<Checkpoint> cp = ParseCheckpoint(note->body);
  if (!cp.ok()) return absl::InternalError(absl::StrCat("own checkpoint: ", cp.status().message()));
  out.checkpoint = *std::move(cp);
  return out;
}

// Reads entry `index` and fills `record` when it is an audit event visible
// in `country` that matches `filter`. false (and OK) when skipped.
absl::StatusOr<bool> LoadVisible(LogStore& store, uint64_t index, const std::string& country,
                                 const v1::AuditFilter* filter, v1::AuditRecord* record) {
  absl::StatusOr<Bytes> entry = store.Entry(index);
  if (!entry.ok()) return entry.status();
  absl::StatusOr<v1::AuditEvent> event = DecodeAuditEvent(*entry);
  if (!event.ok()) return false;  // a notarization or other non-event entry
  if (!TouchesJurisdiction(*event, country)) return false;
  if (filter != nullptr && !MatchesFilter(*event, *filter)) return false;
  record->set_index(index);
  record->set_entry(std::string(AsChars(*entry)));
  Bytes leaf = merkle::Sm3Hasher().HashLeaf(*entry);
  record->set_leaf_hash(std::string(AsChars(leaf)));
  *record->mutable_event() = *std::move(event);
  return true;
}

std::string ToStr(const Bytes& b) { return std::string(AsChars(b)); }

}  // namespace

bool TouchesJurisdiction(const v1::AuditEvent& event, const std::string& country) {
  if (country.empty()) return false;
  return event.node_country() == country || event.source_country() == country ||
         event.destination_country() == country || event.who().country() == country;
}

bool MatchesFilter(const v1::AuditEvent& e, const v1::AuditFilter& f) {
  if (f.has_since() && e.time() < f.since()) return false;
  if (f.has_until() && !(e.time() < f.until())) return false;
  if (!f.enterprise().empty() && e.who().organization() != f.enterprise() &&
      e.who().id() != f.enterprise()) {
    return false;
  }
  if (!f.transfer_id().empty() && e.transfer_id() != f.transfer_id()) return false;
  if (!f.country().empty() && !TouchesJurisdiction(e, f.country())) return false;
  if (!f.data_level().empty() && e.data_level() != f.data_level()) return false;
  if (!f.decision().empty() && e.decision() != f.decision()) return false;
  if (!f.category().empty() && e.category() != f.category()) return false;
  if (!f.operation().empty() && e.operation() != f.operation()) return false;
  return true;
}

AuditQueryService::AuditQueryService(AuditLog* log, std::string node_country,
                                     uint64_t max_examined_per_call)
    : log_(log),
      node_country_(std::move(node_country)),
      max_examined_(std::max<uint64_t>(1, max_examined_per_call)) {}

AuditQueryService::~AuditQueryService() { Stop(); }

grpc::Status AuditQueryService::Query(grpc::ServerContext* ctx, const v1::AuditQueryRequest* req,
                                      v1::AuditQueryResponse* resp) {
  std::string country;
  if (grpc::Status s = Authorize(*ctx, &country); !s.ok()) return s;
  LogStore& store = log_->store();
  const uint64_t size = store.size();
  const bool oldest_first = req->oldest_first();
  uint32_t page_size = req->page_size() == 0 ? kDefaultPageSize : req->page_size();
  if (page_size > kMaxPageSize) page_size = kMaxPageSize;

  // `next`: the next index to examine. Newest first: examine next, next-1, ..., 0.
  // Oldest first: next, next+1, ..., size-1 (the size at this call).
  uint64_t next = 0;
  const std::string& token = req->page_token();
  if (token.empty()) {
    if (!oldest_first) {
      if (size == 0) {
        resp->set_log_size(0);
        return grpc::Status::OK;
      }
      next = size - 1;
    }
  } else {
    const char want = oldest_first ? 'o' : 'n';
    if (token.size() < 2 || token[0] != want ||
        !absl::SimpleAtoi(absl::string_view(token.data() + 1, token.size() - 1), &next) ||
        (oldest_first ? next > size : next >= size)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "bad page_token (use the one returned with the same oldest_first)");
    }
  }

  uint64_t examined = 0;
  bool done = false;
  while (examined < max_examined_ && static_cast<uint32_t>(resp->records_size()) < page_size) {
    if (oldest_first && next >= size) {
      done = true;
      break;
    }
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    v1::AuditRecord record;
    absl::StatusOr<bool> visible = LoadVisible(store, next, country, &req->filter(), &record);
    if (!visible.ok()) return rpc::ToGrpc(visible.status());
    ++examined;
    if (*visible) *resp->add_records() = std::move(record);
    if (oldest_first) {
      ++next;
    } else if (next == 0) {
      done = true;
      break;
    } else {
      --next;
    }
  }
  if (oldest_first && next >= size) done = true;
  if (!done) resp->set_next_page_token(absl::StrCat(oldest_first ? "o" : "n", next));
  resp->set_log_size(size);
  resp->set_entries_examined(examined);
  return grpc::Status::OK;
}

grpc::Status AuditQueryService::Tail(grpc::ServerContext* ctx, const v1::TailRequest* req,
                                     grpc::ServerWriter<v1::AuditRecord>* writer) {
  std::string country;
  if (grpc::Status s = Authorize(*ctx, &country); !s.ok()) return s;
  LogStore& store = log_->store();
  uint64_t next = req->has_start_index() ? req->start_index() : store.size();
  while (!ctx->IsCancelled() && !stopping_.load()) {
    const uint64_t size = store.size();
    for (; next < size; ++next) {
      if (ctx->IsCancelled()) break;
      v1::AuditRecord record;
      absl::StatusOr<bool> visible = LoadVisible(store, next, country, &req->filter(), &record);
      if (!visible.ok()) return rpc::ToGrpc(visible.status());
      if (*visible && !writer->Write(record)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
    }
    std::this_thread::sleep_for(kTailPoll);
  }
  if (stopping_.load()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "node shutting down");
  return grpc::Status(grpc::StatusCode::CANCELLED, "tail cancelled");
}

grpc::Status AuditQueryService::GetInclusionProof(grpc::ServerContext* ctx,
                                                  const v1::GetInclusionProofRequest* req,
                                                  v1::GetInclusionProofResponse* resp) {
  std::string country;
  if (grpc::Status s = Authorize(*ctx, &country); !s.ok()) return s;
  LogStore& store = log_->store();
  const grpc::Status not_found(grpc::StatusCode::NOT_FOUND,
                               absl::StrCat("no audit record ", req->index(), " visible to you"));
  if (req->index() >= store.size()) return not_found;
  v1::AuditRecord record;
  absl::StatusOr<bool> visible = LoadVisible(store, req->index(), country, nullptr, &record);
  if (!visible.ok()) return rpc::ToGrpc(visible.status());
  if (!*visible) return not_found;
  absl::StatusOr<LatestCheckpoint> cp = GetLatestCheckpoint(*log_);
  if (!cp.ok()) return rpc::ToGrpc(cp.status());
  if (req->index() >= cp->checkpoint.size) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("record ", req->index(), " is not yet covered by a signed checkpoint (size ",
                     cp->checkpoint.size, "); retry in a second"));
  }
  absl::StatusOr<std::vector<Bytes>> path = store.InclusionProof(req->index(), cp->checkpoint.size);
  if (!path.ok()) return rpc::ToGrpc(path.status());
  *resp->mutable_record() = std::move(record);
  resp->set_tree_size(cp->checkpoint.size);
  resp->set_root(ToStr(cp->checkpoint.root));
  for (const Bytes& h : *path) resp->add_path(ToStr(h));
  resp->set_checkpoint_note(cp->note);
  return grpc::Status::OK;
}

grpc::Status AuditQueryService::GetConsistencyProof(grpc::ServerContext* ctx,
                                                    const v1::GetConsistencyProofRequest* req,
                                                    v1::GetConsistencyProofResponse* resp) {
  std::string country;
  if (grpc::Status s = Authorize(*ctx, &country); !s.ok()) return s;
  absl::StatusOr<LatestCheckpoint> cp = GetLatestCheckpoint(*log_);
  if (!cp.ok()) return rpc::ToGrpc(cp.status());
  const uint64_t new_size = req->new_size() == 0 ? cp->checkpoint.size : req->new_size();
  if (new_size > cp->checkpoint.size) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        absl::StrCat("new_size ", new_size, " is past the latest checkpoint (size ",
                                     cp->checkpoint.size, ")"));
  }
  if (req->old_size() == 0 || req->old_size() > new_size) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("need 0 < old_size <= new_size, got old_size ",
                                     req->old_size(), " and new_size ", new_size));
  }
  LogStore& store = log_->store();
  absl::StatusOr<std::vector<Bytes>> path = store.ConsistencyProof(req->old_size(), new_size);
  if (!path.ok()) return rpc::ToGrpc(path.status());
  absl::StatusOr<Bytes> old_root = store.Root(req->old_size());
  if (!old_root.ok()) return rpc::ToGrpc(old_root.status());
  absl::StatusOr<Bytes> new_root = store.Root(new_size);
  if (!new_root.ok()) return rpc::ToGrpc(new_root.status());
  resp->set_old_size(req->old_size());
  resp->set_new_size(new_size);
  resp->set_old_root(ToStr(*old_root));
  resp->set_new_root(ToStr(*new_root));
  for (const Bytes& h : *path) resp->add_path(ToStr(h));
  resp->set_checkpoint_note(cp->note);
  return grpc::Status::OK;
}

grpc::Status AuditQueryService::Export(grpc::ServerContext* ctx, const v1::ExportRequest* req,
                                       grpc::ServerWriter<v1::ExportChunk>* writer) {
  std::string country;
  if (grpc::Status s = Authorize(*ctx, &country); !s.ok()) return s;
  absl::StatusOr<LatestCheckpoint> cp = GetLatestCheckpoint(*log_);
  if (!cp.ok()) return rpc::ToGrpc(cp.status());
  const uint64_t tree_size = cp->checkpoint.size;
  const std::string root_hex = HexEncode(cp->checkpoint.root);
  LogStore& store = log_->store();

  std::string buffer;
  auto flush = [&](bool force) {
    if (buffer.empty() || (!force && buffer.size() < kExportChunkBytes)) return true;
    v1::ExportChunk chunk;
    chunk.set_data(std::move(buffer));
    buffer.clear();
    return writer->Write(chunk);
  };

  nlohmann::json head = {
      {"type", "checkpoint"}, {"note", cp->note}, {"tree_size", tree_size}, {"root", root_hex}};
  buffer += head.dump() + "\n";

  google::protobuf::util::JsonPrintOptions json_opts;
  json_opts.preserve_proto_field_names = true;
  for (uint64_t i = 0; i < tree_size; ++i) {
    if ((i & 1023) == 0 && ctx->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled");
    }
    v1::AuditRecord record;
    absl::StatusOr<bool> visible = LoadVisible(store, i, country, &req->filter(), &record);
    if (!visible.ok()) return rpc::ToGrpc(visible.status());
    if (!*visible) continue;
    absl::StatusOr<std::vector<Bytes>> path = store.InclusionProof(i, tree_size);
    if (!path.ok()) return rpc::ToGrpc(path.status());
    std::string event_json;
    if (!google::protobuf::util::MessageToJsonString(record.event(), &event_json, json_opts).ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("record ", i, ": not JSON"));
    }
    const std::string leaf_hex = HexEncode(AsBytes(record.leaf_hash()));
    nlohmann::json path_json = nlohmann::json::array();
    for (const Bytes& h : *path) path_json.push_back(HexEncode(h));
    nlohmann::json line = {{"type", "record"},
                           {"index", i},
                           {"leaf_hash", leaf_hex},
                           {"entry", Base64Encode(AsBytes(record.entry()))},
                           {"event", nlohmann::json::parse(event_json)},
                           {"proof",
                            {{"type", "inclusion"},
                             {"leaf_hash", leaf_hex},
                             {"index", i},
                             {"tree_size", tree_size},
                             {"root", root_hex},
                             {"path", std::move(path_json)}}}};
    buffer += line.dump() + "\n";
    if (!flush(false)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  }
  if (!flush(true)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  return grpc::Status::OK;
}

}  // namespace beibu::audit
