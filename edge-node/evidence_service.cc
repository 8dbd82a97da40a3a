#include "evidence_service.h"

#include "absl/strings/str_cat.h"
#include "beibu/audit/receipt.h"
#include "beibu/config/files.h"
#include "beibu/pki/certificate.h"
#include "beibu/rpc/peer.h"
#include "beibu/rpc/status.h"

namespace beibu::edge {
namespace {

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ChainPem(const std::vector<pki::Certificate>& chain) {
  std::string pem;
  for (const pki::Certificate& c : chain) pem += c.ToPem();
  return pem;
}

}  // namespace

grpc::Status EvidenceService::Notarize(grpc::ServerContext* ctx, const v1::NotarizeRequest* req,
                                       v1::ReceiptResponse* resp) {
  pki::Identity who;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEnterprise}, &who); !s.ok()) return s;
  std::optional<audit::DocumentType> type = audit::ParseDocumentType(req->document_type());
  if (!type) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("document type '", req->document_type(),
                                     "' is not one of e_contract, certificate_of_origin, invoice, "
                                     "bill_of_lading, other"));
  }
  audit::NotarizationEntry entry{
      .document_digest = Bytes(req->document_digest().begin(), req->document_digest().end()),
      .document_type = *type,
      .issuer = who.id,
      .parties = {req->parties().begin(), req->parties().end()},
      .reference = req->reference(),
      .notarized_at_ms = NowMs()};
  // The enterprise signs the request: the certificate it sends must be the
  // one it authenticated with, trusted here, and its key must verify.
  if (req->enterprise_signature().empty() || req->enterprise_certificate_pem().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "notarization needs the enterprise's signature over the request and its "
                        "certificate (enterprise_signature, enterprise_certificate_pem)");
  }
  absl::StatusOr<pki::Certificate> cert =
      pki::Certificate::FromPem(req->enterprise_certificate_pem());
  if (!cert.ok()) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("enterprise certificate: ", std::string(cert.status().message())));
  }
  std::optional<pki::Identity> peer = rpc::PeerOf(*ctx);
  if (!peer || cert->SerialHex() != peer->serial_hex) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("the enterprise certificate sent (serial ", cert->SerialHex(),
                                     ") is not the one ", who.id, " authenticated with (serial ",
                                     who.serial_hex, ")"));
  }
  if (absl::StatusOr<pki::Identity> trusted =
          identity_->trust()->Verify({*cert}, pki::Clock::now(), {pki::Role::kEnterprise});
      !trusted.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("enterprise certificate not trusted: ",
                                     std::string(trusted.status().message())));
  }
  absl::StatusOr<crypto::Sm2PublicKey> key = cert->PublicKey();
  if (!key.ok()) return rpc::ToGrpc(key.status());
  entry.enterprise_signature =
      Bytes(req->enterprise_signature().begin(), req->enterprise_signature().end());
  if (absl::Status s = audit::VerifyNotarizationRequest(entry, entry.enterprise_signature, *key);
      !s.ok()) {
    if (s.code() == absl::StatusCode::kInvalidArgument) return rpc::ToGrpc(s);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("enterprise signature invalid: ", std::string(s.message())));
  }
  entry.enterprise_certificate = cert->ToDer();
  absl::StatusOr<Bytes> encoded = audit::EncodeNotarizationEntry(entry);
  if (!encoded.ok()) return rpc::ToGrpc(encoded.status());
  absl::StatusOr<uint64_t> index = log_->AppendEntry(*encoded);
  if (!index.ok()) return rpc::ToGrpc(index.status());
  // Regulators follow notarizations through the audit events.
  v1::AuditEvent event;
  event.set_operation("evidence.notarize");
  *event.mutable_who() = audit::ActorOf(who);
  event.set_category(std::string(audit::DocumentTypeName(*type)));
  v1::Digest* d = event.add_digests();
  d->set_algorithm("sm3");
  d->set_value(req->document_digest());
  event.set_detail(absl::StrCat("entry ", *index));
  (void)log_->Append(std::move(event));
  absl::StatusOr<v1::ReceiptResponse> receipt = BuildReceipt(*index);
  if (!receipt.ok()) return rpc::ToGrpc(receipt.status());
  *resp = *std::move(receipt);
  return grpc::Status::OK;
}

grpc::Status EvidenceService::GetReceipt(grpc::ServerContext* ctx, const v1::GetReceiptRequest* req,
                                         v1::ReceiptResponse* resp) {
  pki::Identity who;
  if (grpc::Status s = rpc::RequireRole(*ctx, {pki::Role::kEnterprise}, &who); !s.ok()) return s;
  absl::StatusOr<Bytes> entry = log_->store().Entry(req->index());
  if (!entry.ok()) return rpc::ToGrpc(entry.status());
  absl::StatusOr<audit::NotarizationEntry> decoded = audit::DecodeNotarizationEntry(*entry);
  // Only the notarizing enterprise gets its receipts back this way.
  if (!decoded.ok() || decoded->issuer != who.id) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no notarization by ", who.id, " at index ", req->index()));
  }
  absl::StatusOr<v1::ReceiptResponse> receipt = BuildReceipt(req->index());
  if (!receipt.ok()) return rpc::ToGrpc(receipt.status());
  *resp = *std::move(receipt);
  return grpc::Status::OK;
}

absl::StatusOr<v1::ReceiptResponse> EvidenceService::BuildReceipt(uint64_t index) {
  audit::Receipt receipt;
  absl::StatusOr<Bytes> entry = log_->store().Entry(index);
  if (!entry.ok()) return entry.status();
  receipt.entry = *std::move(entry);
  receipt.index = index;
  receipt.node_certificates = ChainPem(identity_->credentials().chain);
  bool anchored = false;
  std::string note;
  uint64_t size = 0;
  absl::StatusOr<std::string> anchored_note = config::ReadFile(audit_dir_ + "/anchored.note");
  absl::StatusOr<std::string> hub_cert = config::ReadFile(audit_dir_ + "/hub-cert.pem");
  if (anchored_note.ok() && hub_cert.ok()) {
    absl::StatusOr<audit::Checkpoint> cp = audit::ParseCheckpointNote(*anchored_note);
    if (cp.ok() && cp->size > index) {
      anchored = true;
      note = *anchored_note;
      size = cp->size;
      receipt.hub_certificates = *hub_cert;
    }
  }
  if (!anchored) {
    absl::StatusOr<std::string> own = log_->Checkpoint();
    if (!own.ok()) return own.status();
    absl::StatusOr<audit::Checkpoint> cp = audit::ParseCheckpointNote(*own);
    if (!cp.ok()) return cp.status();
    note = *own;
    size = cp->size;
  }
  absl::StatusOr<std::vector<Bytes>> proof = log_->store().InclusionProof(index, size);
  if (!proof.ok()) return proof.status();
  receipt.inclusion_proof = *std::move(proof);
  receipt.checkpoint = note;
  absl::StatusOr<std::string> json = audit::FormatReceipt(receipt);
  if (!json.ok()) return json.status();
  v1::ReceiptResponse resp;
  resp.set_receipt_json(*json);
  resp.set_index(index);
  resp.set_anchored(anchored);
  return resp;
}

grpc::Status EvidenceService::VerifyReceipt(grpc::ServerContext* ctx,
                                            const v1::VerifyReceiptRequest* req,
                                            v1::VerifyReceiptResponse* resp) {
  if (!rpc::PeerOf(*ctx)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "verification needs a certificate");
  }
  absl::StatusOr<audit::Receipt> receipt = audit::ParseReceipt(req->receipt_json());
  if (!receipt.ok()) return rpc::ToGrpc(receipt.status());
  audit::ReceiptVerifyOptions options;
  options.require_anchor = false;  // say whether it is anchored rather than fail
  absl::StatusOr<audit::VerifiedReceipt> verified = audit::VerifyReceiptOffline(
      *receipt, *identity_->trust(), std::nullopt, pki::Clock::now(), options);
  if (!verified.ok()) {
    resp->set_valid(false);
    resp->set_reason(std::string(verified.status().message()));
    return grpc::Status::OK;
  }
  if (!req->document_digest().empty() &&
      Bytes(req->document_digest().begin(), req->document_digest().end()) !=
          verified->entry.document_digest) {
    resp->set_valid(false);
    resp->set_reason("document does not match the receipt: its SM3 digest differs");
    return grpc::Status::OK;
  }
  resp->set_valid(true);
  resp->set_anchored(verified->hub.has_value());
  resp->set_node_id(verified->node.id);
  resp->set_document_type(std::string(audit::DocumentTypeName(verified->entry.document_type)));
  resp->set_notarized_at(audit::FormatTimestampMs(verified->entry.notarized_at_ms));
  return grpc::Status::OK;
}

}  // namespace beibu::edge
