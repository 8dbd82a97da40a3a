// The accept path shared by Send, SendMany and SendStream once a payload is
// fully received (exchange_service.h has the whole sequence): decide on a
// policy snapshot, then record a refusal, or mask, seal for the destination
// edge and commit to the store; audit `transfer.accept` either way.
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

class AcceptPipeline {
 public:
  AcceptPipeline(AcceptOptions options, pki::Identity self, ExchangeStore* store,
                 TransferKeySource* keys, audit::AuditLog* audit);
  ~AcceptPipeline();

  // Decides, masks, seals and commits. `record` carries the header and, for
  // a stream, its RECEIVING step. Refusals (DENY, SANDBOX_ONLY) are OK
  // answers; INVALID_ARGUMENT when the engine refuses the request,
  // UNAVAILABLE (nothing stored) when the destination's keys are unknown.
  // The caller holds the transfer id's lock.
  grpc::Status Accept(const pki::Identity& caller, v1::TransferRecord record,
                      const AcceptedPayload& payload, const PolicySnapshot& snap,
                      v1::TransferStatus* resp);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Now, as a protobuf Timestamp.
google::protobuf::Timestamp NowTimestamp();
// status.steps[state name] = at.
void SetStep(v1::TransferStatus* status, v1::TransferState state,
             const google::protobuf::Timestamp& at);

}  // namespace beibu::edge
