// The accept path shared by Send, SendMany and SendStream once a payload is
// fully received (exchange_service.h has the whole sequence): decide on a
// policy snapshot, then record a refusal, or mask, seal for the destination
// edge and commit to the store, with the `transfer.accept` audit event staged
// in the same write (ExchangeStore's audit journal) either way.
#pragma once

#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "beibu/audit/audit_log.h"
#include "beibu/crypto/sm3.h"
#include "beibu/pki/identity.h"
#include "beibu/policy/detector.h"
#include "beibu/policy/route.h"
#include "beibu/v1/edge_store.pb.h"
#include "exchange/exchange_store.h"
#include "exchange/key_source.h"
#include "exchange/policy_holder.h"

namespace beibu::edge {

struct AcceptOptions {
  std::string secret_path;  // pseudonym key file, created (0600) if absent
  std::string work_dir;     // spool for masked SendStream output; "" = secret_path's dir
  std::string sandbox_hint;
  std::function<void()> on_outbox;
  // Every route decided (risk warnings remember them); may be empty.
  std::function<void(const std::string& exporter, const policy::RouteRequest&)> on_decided;
};

// What the accept path needs to know about a received payload.
struct AcceptedPayload {
  uint64_t size = 0;
  crypto::Sm3Digest sm3{};
  std::vector<std::string> finding_types;
  policy::Format format = policy::Format::kAuto;  // for masking
  const std::string* bytes = nullptr;             // Send: in memory (not owned)
  std::string staged_id;                          // SendStream: staged in the store under this id
};

// A transfer decided, masked and sealed, waiting for its commit (SendMany
// prepares the next requests while earlier ones are being committed).
struct PreparedAccept {
  // Not OK: this error is the answer (nothing to commit, nothing reserved).
  grpc::Status status = grpc::Status::OK;
  bool needs_commit = false;             // false with status OK: `answer` is already final
  bool committed = false;                // the store commit wrote it
  ExchangeStore::TransferCommit commit;  // with its transfer.accept event
  v1::TransferStatus answer;
};

class AcceptPipeline {
 public:
  AcceptPipeline(AcceptOptions options, pki::Identity self, ExchangeStore* store,
                 TransferKeySource* keys);
  ~AcceptPipeline();

  // Decides, masks, seals and commits. `record` carries the header and, for
  // a stream, its RECEIVING step. Refusals (DENY, SANDBOX_ONLY) are OK
  // answers; INVALID_ARGUMENT when the engine refuses the request,
  // UNAVAILABLE (nothing stored) when the destination's keys are unknown.
  // The caller holds the transfer id's lock.
  grpc::Status Accept(const pki::Identity& caller, v1::TransferRecord record,
                      const AcceptedPayload& payload, const PolicySnapshot& snap,
                      v1::TransferStatus* resp);

  // Accept in two steps, for group commit. Prepare decides, masks and seals
  // (persons stay reserved until the commit, released on refusal); Commit
  // commits the prepared accepts of `batch` (consecutive requests, in request
  // order) in one synced store batch, their audit events with them, and sets each one's
  // status/answer: a duplicate transfer id (stored, or earlier in the batch)
  // gets the first answer or ALREADY_EXISTS. Prepare's caller holds the id's
  // lock until the Commit returns.
  PreparedAccept Prepare(const pki::Identity& caller, v1::TransferRecord record,
                         const AcceptedPayload& payload, const PolicySnapshot& snap);
  void Commit(const std::vector<PreparedAccept*>& batch);
  // Gives up a prepared accept without committing it: its persons
  // reservation is released and `why` becomes its answer (an accept that
  // already failed keeps its own error).
  void Abandon(PreparedAccept* p, grpc::Status why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The answer to a request for a transfer id that already has a record: the
// first answer for a retry of the same content by the same sender, else
// ALREADY_EXISTS.
grpc::Status ReplayAnswer(const std::string& caller_id, const v1::TransferRecord& existing,
                          const std::string& digest, v1::TransferStatus* resp);

// Now, as a protobuf Timestamp.
google::protobuf::Timestamp NowTimestamp();
// status.steps[state name] = at.
void SetStep(v1::TransferStatus* status, v1::TransferState state,
             const google::protobuf::Timestamp& at);

}  // namespace beibu::edge
