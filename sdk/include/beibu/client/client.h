// The Beibu client SDK: what an enterprise (or a regulator) links to talk to
// its edge over Beibu's SM2/SM4 secure channel. This header and the generated
// beibu/v1/*.pb.h messages it names are the whole contract.
//
//   beibu::ClientOptions options;
//   options.server = "edge.example.vn:7401";
//   options.identity_dir = "/etc/beibu/acme";          // from `beibu enroll`
//   auto client = beibu::Client::Connect(options);
//   if (!client.ok()) return Fail(client.status());
//   beibu::v1::TransferHeader h;
//   h.set_to_country("CN");
//   h.set_to_enterprise("cn-importer");
//   h.set_category("logistics.track");
//   h.set_content_type("text/csv");
//   absl::StatusOr<beibu::v1::TransferStatus> st = (*client)->Send(h, csv_bytes);
//   // st->decision().decision() is FAST, MASK, REVIEW, SANDBOX_ONLY or DENY.
//
// Errors are absl::Status whose code says what to do next: UNAVAILABLE (the
// edge could not be reached even after the retries) — try later;
// INVALID_ARGUMENT — fix the request; PERMISSION_DENIED /UNAUTHENTICATED —
// fix the identity; DATA_LOSS — a received payload did not match its digest.
//
// Thread safety: a Client may be used from several threads at once. An
// InboxReader is used from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "beibu/v1/audit_api.pb.h"
#include "beibu/v1/evidence.pb.h"
#include "beibu/v1/exchange.pb.h"

namespace beibu {

struct ClientOptions {
  std::string server;  // the edge (or hub) address, host:port
  // Directory with key.pem, cert.pem and trust-bundle.pem (from `beibu
  // enroll`); key_file, cert_file and trust_file override single files.
  std::string identity_dir;
  std::string key_file, cert_file, trust_file;
  std::string tls_ca;  // PEM roots when the daemon's transport runs TLS; else empty
  // Also accept a hub as the server (regulator audit queries, receipt
  // verification). Data-plane calls always go to the enterprise's own edge.
  bool allow_hub = false;
  std::chrono::milliseconds call_timeout{std::chrono::seconds(30)};
  // How many times a call that failed with UNAVAILABLE or DEADLINE_EXCEEDED is
  // retried (reconnecting the session first when it broke). Sends are safe to
  // retry: the transfer id makes them idempotent at the edge.
  int max_retries = 5;
  // InboxReader::Next without a sink refuses deliveries larger than this.
  uint64_t max_in_memory_payload = 64ull << 20;
};

// progress(bytes_sent, total_bytes), called after each chunk the edge took.
using ProgressFn = std::function<void(uint64_t sent, uint64_t total)>;
// Receives a delivery's payload in order, chunk by chunk. A non-OK return
// aborts the delivery (it is not acknowledged, so it will come again).
using ChunkSink = std::function<absl::Status(std::string_view chunk)>;

// One transfer for Client::SendMany.
struct OutgoingTransfer {
  v1::TransferHeader header;  // an empty transfer_id gets a fresh one
  std::string payload;        // at most 4 MiB
};

// One whole delivery from the inbox.
struct ReceivedTransfer {
  v1::Delivery info;    // transfer id, sender, category, decision, size, payload_sm3 (data empty)
  std::string payload;  // the payload; empty when it went to a sink or a file
};

// A 32-character lower-case hex transfer id from the CSPRNG.
std::string NewTransferId();
// INVALID_ARGUMENT naming the field when `header` cannot be sent as it is
// (transfer id format, country code, recipient, category).
absl::Status ValidateHeader(const v1::TransferHeader& header);

class Client;

// The recipient side: a stream of deliveries, oldest first, starting with
// every unacknowledged one. It must not outlive the Client that opened it.
// A delivery stays in the inbox until acknowledged;
// after a reconnect it comes again with the same transfer id.
class InboxReader {
 public:
  ~InboxReader();  // cancels the stream
  InboxReader(const InboxReader&) = delete;
  InboxReader& operator=(const InboxReader&) = delete;

  // Waits for the next whole delivery (up to `wait` for its first chunk; none
  // = forever) and assembles it in memory. Returns OK with *out filled;
  // DEADLINE_EXCEEDED when nothing arrived within `wait` (call again);
  // DATA_LOSS when the payload does not match its size or payload_sm3 (the
  // delivery is skipped and not acknowledged; call again); RESOURCE_EXHAUSTED
  // when it is larger than max_in_memory_payload (skipped: use a sink or
  // NextToDirectory); OUT_OF_RANGE when the edge ended the stream; ABORTED
  // when the stream broke its framing (chunks out of order); UNAVAILABLE when
  // the session broke. After the last three, open a new InboxReader:
  // unacknowledged deliveries come again.
  absl::Status Next(ReceivedTransfer* out,
                    std::optional<std::chrono::milliseconds> wait = std::nullopt);
  // The same, handing the payload to `sink` as it arrives (out->payload stays
  // empty). The digest is checked at the end: on DATA_LOSS the sink has seen
  // bad bytes and must discard them. A sink error is returned as it is.
  absl::Status Next(ReceivedTransfer* out, const ChunkSink& sink,
                    std::optional<std::chrono::milliseconds> wait = std::nullopt);
  // The same, writing the payload to DIR/<transfer_id> atomically (temporary
  // file, fsync, rename, fsync DIR) and only when its digest matched, so it
  // is safe to Ack once this returns OK.
  absl::Status NextToDirectory(const std::string& dir, ReceivedTransfer* out,
                               std::optional<std::chrono::milliseconds> wait = std::nullopt);

  // Acknowledges deliveries (after they are safely stored): the edge drops
  // them and the sender sees ACKNOWLEDGED. Returns how many were pending.
  absl::StatusOr<uint32_t> Ack(const std::vector<std::string>& transfer_ids);

  class Impl;  // internal

 private:
  friend class Client;
  explicit InboxReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Client {
 public:
  // Loads the identity, connects and authenticates the server (an edge, or
  // a hub with allow_hub). INVALID_ARGUMENT / NOT_FOUND for missing files,
  // UNAVAILABLE when the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The authenticated server's id (e.g. "edge-vn") and this client's id.
  std::string server_id() const;
  std::string my_id() const;

  // --- Data plane (proto/beibu/v1/exchange.proto) ---
  // Sends up to 4 MiB in one call. An empty header.transfer_id gets a fresh
  // one (see the returned status). Retried with the same id on UNAVAILABLE.
  // A refusal by policy is not an error: see state DENIED / SANDBOX_ONLY.
  absl::StatusOr<v1::TransferStatus> Send(const v1::TransferHeader& header,
                                          std::string_view payload);
  // Sends many transfers over one stream (Exchange.SendBatches), packing up
  // to 4 MiB of payload per stream message and keeping at most 16 MiB
  // unanswered: for high rates of small transfers (packing moved about 1.8x
  // the 1 KiB transfers per second of one message per transfer in the
  // benchmark, docs/performance.md). One answer per transfer, in order: the
  // edge's status (a refusal by policy is a status, not an error), or why
  // that transfer was not accepted (INVALID_ARGUMENT for a bad header or a
  // payload above 4 MiB, ALREADY_EXISTS, ...). A broken session or a
  // retryable answer (UNAVAILABLE, ABORTED) is retried up to
  // options.max_retries times in a row without progress, on a new stream, from the first transfer
  // not yet accepted; that is safe because the same id and content get the first answer. When
  // retries run out, every transfer not yet answered carries the last error.
  std::vector<absl::StatusOr<v1::TransferStatus>> SendMany(std::vector<OutgoingTransfer> transfers);
  // Streams a file of any size in 1 MiB chunks with constant memory; sets
  // total_size and (if empty) file_name. After a broken session it
  // reconnects, asks the edge how much it holds and resumes from there.
  absl::StatusOr<v1::TransferStatus> SendFile(const std::string& path,
                                              const v1::TransferHeader& header,
                                              const ProgressFn& progress = nullptr);
  absl::StatusOr<v1::TransferStatus> GetTransfer(const std::string& transfer_id);
  // Polls GetTransfer until the state is one of `states`, or later on the
  // delivery path IN_FLIGHT -> DELIVERED -> ACKNOWLEDGED (a transfer
  // acknowledged at once never rests in DELIVERED); DEADLINE_EXCEEDED
  // (naming the last state) after `timeout`.
  absl::StatusOr<v1::TransferStatus> WaitForState(const std::string& transfer_id,
                                                  const std::set<v1::TransferState>& states,
                                                  std::chrono::milliseconds timeout);
  // max_unacked: deliveries in flight before an ack (0 = the edge's default).
  absl::StatusOr<std::unique_ptr<InboxReader>> OpenInbox(uint32_t max_unacked = 0);
  absl::StatusOr<uint32_t> Ack(const std::vector<std::string>& transfer_ids);

  // --- Evidence (proto/beibu/v1/evidence.proto) ---
  struct NotarizeOptions {
    std::string document_type = "other";  // e_contract, certificate_of_origin, invoice, ...
    std::vector<std::string> parties;     // enterprise ids party to the document
    std::string reference;                // contract or certificate number
  };
  // Notarizes the SM3 digest of `document` (the document never leaves),
  // signed with this client's key.
  absl::StatusOr<v1::ReceiptResponse> Notarize(std::string_view document,
                                               const NotarizeOptions& options);
  absl::StatusOr<v1::ReceiptResponse> NotarizeFile(const std::string& path,
                                                   const NotarizeOptions& options);
  // `digest` is the 32-byte SM3 of the document.
  absl::StatusOr<v1::ReceiptResponse> NotarizeDigest(std::string_view digest,
                                                     const NotarizeOptions& options);
  absl::StatusOr<v1::ReceiptResponse> GetReceipt(uint64_t index);
  // `document` optional: also checks that the receipt is for it.
  absl::StatusOr<v1::VerifyReceiptResponse> VerifyReceipt(
      const std::string& receipt_json, std::optional<std::string_view> document = std::nullopt);

  // --- Regulators (proto/beibu/v1/audit_api.proto) ---
  // One page; keep calling with next_page_token until it is empty.
  absl::StatusOr<v1::AuditQueryResponse> QueryAudit(const v1::AuditQueryRequest& request);

  struct Impl;  // internal

 private:
  friend struct ClientTestPeer;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu
