// beibu.v1.Evidence on an edge: notarization (one log entry per document
// digest, a receipt back at once) and receipt verification for anyone.
// Receipts carry the edge's own checkpoint until the hub has cosigned one
// that covers the entry; GetReceipt then returns the anchored receipt.
#pragma once

#include "beibu/audit/audit_log.h"
#include "beibu/v1/evidence.grpc.pb.h"
#include "edge_identity.h"

namespace beibu::edge {

class EvidenceService final : public v1::Evidence::Service {
 public:
  // `audit_dir` holds anchored.note and hub-cert.pem (written by the Anchorer).
  EvidenceService(audit::AuditLog* log, EdgeIdentity* identity, std::string audit_dir)
      : log_(log), identity_(identity), audit_dir_(std::move(audit_dir)) {}

  grpc::Status Notarize(grpc::ServerContext* ctx, const v1::NotarizeRequest* req,
                        v1::ReceiptResponse* resp) override;
  grpc::Status GetReceipt(grpc::ServerContext* ctx, const v1::GetReceiptRequest* req,
                          v1::ReceiptResponse* resp) override;
  grpc::Status VerifyReceipt(grpc::ServerContext* ctx, const v1::VerifyReceiptRequest* req,
                             v1::VerifyReceiptResponse* resp) override;

 private:
  // The receipt for entry `index`: against the anchored checkpoint when it
  // covers the entry, else against a fresh checkpoint of the edge's own.
  absl::StatusOr<v1::ReceiptResponse> BuildReceipt(uint64_t index);

  audit::AuditLog* log_;
  EdgeIdentity* identity_;
  std::string audit_dir_;
};

}  // namespace beibu::edge
