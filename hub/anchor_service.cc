#include "anchor_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "beibu/audit/checkpoint.h"
#include "beibu/daemon/logging.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"

namespace beibu::hub {
namespace {

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

grpc::Status AnchorService::GetAnchored(grpc::ServerContext* ctx, const v1::GetAnchoredRequest*,
                                        v1::GetAnchoredResponse* resp) {
  pki::Identity edge;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEdge}, &edge); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::string> note = state_->AnchoredNote(edge.id);
  if (!note.ok()) return grpc::Status::OK;  // nothing anchored yet
  absl::StatusOr<audit::Checkpoint> cp = audit::ParseCheckpointNote(*note);
  if (!cp.ok()) return rpc::ToGrpc(absl::DataLossError("stored anchor record is corrupt"));
  resp->set_size(cp->size);
  resp->set_cosigned_note(*note);
  return grpc::Status::OK;
}

grpc::Status AnchorService::SubmitCheckpoint(grpc::ServerContext* ctx,
                                             const v1::SubmitCheckpointRequest* req,
                                             v1::SubmitCheckpointResponse* resp) {
  pki::Identity edge;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEdge}, &edge); !s.ok()) return s;
  absl::StatusOr<crypto::Sm2PublicKey> key = state_->NodeKey(edge.id);
  if (!key.ok()) return rpc::ToGrpc(key.status());

  std::lock_guard<std::mutex> lock(mu_);
  std::optional<audit::Checkpoint> previous;
  if (absl::StatusOr<std::string> old = state_->AnchoredNote(edge.id); old.ok()) {
    absl::StatusOr<audit::Checkpoint> cp = audit::ParseCheckpointNote(*old);
    if (!cp.ok()) return rpc::ToGrpc(absl::DataLossError("stored anchor record is corrupt"));
    previous = *cp;
  }
  if (previous && req->previous_size() != previous->size) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("the hub holds your checkpoint of size ", previous->size,
                                     "; send a consistency proof from that size"));
  }
  // A signed checkpoint smaller than one the edge already had anchored means
  // its log was truncated or replaced: an alarm, not just a stale request.
  if (previous) {
    absl::StatusOr<audit::SignedNote> note = audit::ParseSignedNote(req->checkpoint_note());
    absl::StatusOr<audit::Checkpoint> cp =
        note.ok() ? audit::ParseCheckpoint(note->body) : note.status();
    if (cp.ok() && cp->size < previous->size &&
        audit::VerifyNoteSignature(*note, *key, edge.id).ok()) {
      absl::Status rollback = absl::DataLossError(
          absl::StrCat("rollback: the edge signed a checkpoint of size ", cp->size,
                       " after the hub had cosigned size ", previous->size));
      state_->RecordAnchorRefusal(edge, rollback, /*alarm=*/true);
      return rpc::ToGrpc(rollback);
    }
  }
  std::vector<Bytes> proof;
  for (const std::string& h : req->consistency_proof()) proof.emplace_back(h.begin(), h.end());
  absl::StatusOr<std::string> cosigned =
      audit::WitnessCosign(req->checkpoint_note(), *key, edge.id, previous, proof, NowMs(),
                           state_->credentials().key, state_->self().id);
  if (!cosigned.ok()) {
    // Forks and rewrites are DATA_LOSS; a stale or future checkpoint is a
    // FAILED_PRECONDITION: both are refused, only forks are alarms.
    const bool alarm = absl::IsDataLoss(cosigned.status());
    state_->RecordAnchorRefusal(edge, cosigned.status(), alarm);
    return rpc::ToGrpc(cosigned.status());
  }
  absl::StatusOr<uint64_t> index = state_->RecordAnchor(edge, *cosigned);
  if (!index.ok()) return rpc::ToGrpc(index.status());
  resp->set_cosigned_note(*cosigned);
  resp->set_hub_log_index(*index);
  resp->set_hub_certificate_pem(state_->credentials().chain.front().ToPem());
  return grpc::Status::OK;
}

}  // namespace beibu::hub
