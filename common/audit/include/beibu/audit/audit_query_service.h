// The regulator audit API (proto/beibu/v1/audit_api.proto) over a node's
// AuditLog: query with filters and cursor pagination, a live tail, inclusion
// and consistency proofs against the node's latest signed checkpoint, and a
// JSON Lines export with proofs.
//
//   audit::AuditQueryService audit_query(audit_log.get(), config.country);
//   daemon::ServerHost::Start({..., .services = {&audit_query, ...}});
//
// Access: callers with the regulator role only (rpc::RequireRole); others get
// PERMISSION_DENIED (UNAUTHENTICATED when anonymous). A regulator sees only
// the audit events touching its jurisdiction, its certificate's country C:
// an event's node_country, source_country, destination_country or
// who.country equals C. Other entries (other jurisdictions, notarization
// records, anything that is not an audit event) are skipped: never returned,
// never counted, and GetInclusionProof answers NOT_FOUND for them exactly as
// for an index past the end.
//
// Page tokens are opaque to clients ("n<index>" / "o<index>": the next index
// to examine, newest-first or oldest-first). Each Query call examines at most
// kMaxExaminedPerCall entries (returning a token to continue, possibly
// with no records). Thread-safe; the AuditLog must outlive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "beibu/audit/audit_log.h"
#include "beibu/v1/audit_api.grpc.pb.h"

namespace beibu::audit {

class AuditQueryService final : public v1::AuditQuery::Service {
 public:
  static constexpr uint32_t kDefaultPageSize = 100;
  static constexpr uint32_t kMaxPageSize = 1000;
  static constexpr uint64_t kMaxExaminedPerCall = 100000;

  // `node_country`: this node's jurisdiction (informational: events carry
  // their own node_country). `max_examined_per_call` bounds the entries one
  // Query call reads (tests lower it).
  AuditQueryService(AuditLog* log, std::string node_country,
                    uint64_t max_examined_per_call = kMaxExaminedPerCall);
  ~AuditQueryService() override;

  // Ends running Tail streams (within one poll interval); call before
  // shutting the server down if the log is about to go away.
  void Stop() { stopping_.store(true); }

  grpc::Status Query(grpc::ServerContext* ctx, const v1::AuditQueryRequest* req,
                     v1::AuditQueryResponse* resp) override;
  grpc::Status Tail(grpc::ServerContext* ctx, const v1::TailRequest* req,
                    grpc::ServerWriter<v1::AuditRecord>* writer) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* ctx, const v1::GetInclusionProofRequest* req,
                                 v1::GetInclusionProofResponse* resp) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* ctx,
                                   const v1::GetConsistencyProofRequest* req,
                                   v1::GetConsistencyProofResponse* resp) override;
  grpc::Status Export(grpc::ServerContext* ctx, const v1::ExportRequest* req,
                      grpc::ServerWriter<v1::ExportChunk>* writer) override;

 private:
  AuditLog* log_;
  std::string node_country_;
  uint64_t max_examined_;
  std::atomic<bool> stopping_{false};
};

// Exposed for tests and tools.
// True when `event` touches jurisdiction `country` (see above).
bool TouchesJurisdiction(const v1::AuditEvent& event, const std::string& country);
// True when `event` matches every set field of `filter`.
bool MatchesFilter(const v1::AuditEvent& event, const v1::AuditFilter& filter);

}  // namespace beibu::audit
