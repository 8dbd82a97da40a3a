// Evidence (存证): notarization entries and the receipts that prove them.
//
// A notarization entry is the log entry a node appends when an enterprise
// notarizes a document: a canonical, versioned binary record of the
// document's SM3 digest and metadata (EncodeNotarizationEntry). Its leaf hash
// is SM3(0x00 || entry), as for every entry of Beibu's RFC 9162 logs.
// Version 2 entries also carry the enterprise's SM2 signature over the
// notarization request (NotarizationRequestBytes) and the enterprise's
// certificate, so that a receipt proves the enterprise itself asked for it.
//
// A receipt is a self-contained JSON file: the entry, its index, an inclusion
// proof, the node's signed checkpoint (with the hub's witness cosignature once
// anchored) and the certificates needed to check the signatures. It verifies
// offline against a trust bundle alone (VerifyReceiptOffline).
//
// docs/evidence.md has the entry encoding byte by byte, the JSON schema and
// the verification steps.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "beibu/audit/checkpoint.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/identity.h"
#include "beibu/pki/trust_bundle.h"

namespace beibu::audit {

// ----- Notarization entries -----

enum class DocumentType : uint8_t {
  kEContract = 1,
  kCertificateOfOrigin = 2,
  kInvoice = 3,
  kBillOfLading = 4,
  kOther = 5,
};

// "e_contract", "certificate_of_origin", "invoice", "bill_of_lading", "other".
std::string_view DocumentTypeName(DocumentType type);
std::optional<DocumentType> ParseDocumentType(std::string_view name);

// The first 5 bytes of every encoded entry: magic "BBNZ" and the version:
// 1 (no enterprise signature; still decoded, refused by VerifyReceiptOffline)
// or 2 (signed by the enterprise; what nodes write).
inline constexpr std::string_view kNotarizationMagic = "BBNZ";
inline constexpr uint8_t kNotarizationVersion1 = 1;
inline constexpr uint8_t kNotarizationVersion = 2;
// The first 9 bytes of the notarization request the enterprise signs.
inline constexpr std::string_view kNotarizationRequestMagic = "BBNZ-REQ";
inline constexpr uint8_t kNotarizationRequestVersion = 1;
inline constexpr size_t kMaxEnterpriseSignatureBytes = 128;         // SM2 DER is <= 72
inline constexpr size_t kMaxEnterpriseCertificateBytes = 8 * 1024;  // DER
inline constexpr size_t kMaxEntityIdBytes = 128;                    // issuer and each party
inline constexpr size_t kMaxParties = 16;
inline constexpr size_t kMaxReferenceBytes = 256;

struct NotarizationEntry {
  Bytes document_digest;  // SM3 of the document, 32 bytes
  DocumentType document_type = DocumentType::kOther;
  std::string issuer;                // enterprise id (certificate CN) that notarized
  std::vector<std::string> parties;  // enterprise ids of the parties, in the order given
  std::string reference;             // optional: contract or certificate number, may be empty
  uint64_t notarized_at_ms = 0;      // when the node accepted it, unix ms
  // Version 2: the issuer's SM2 signature (SM3, default ID, DER) over
  // NotarizationRequestBytes(*this), and the issuer's certificate (DER, the
  // leaf) it verifies with. Both empty: a version 1 entry.
  Bytes enterprise_signature;
  Bytes enterprise_certificate;

  bool operator==(const NotarizationEntry&) const = default;
};

// The canonical encoding (docs/evidence.md, "Entry encoding"). INVALID_ARGUMENT
// when a field breaks its limits: digest not 32 bytes, issuer or a party
// empty or longer than kMaxEntityIdBytes, more than kMaxParties parties, a
// reference longer than kMaxReferenceBytes, text that is not UTF-8 or holds
// control characters, notarized_at_ms > kMaxTimestampMs, unknown type, only
// one of enterprise_signature and enterprise_certificate set, or either
// longer than its limit. Both empty encode version 1, both set version 2.
absl::StatusOr<Bytes> EncodeNotarizationEntry(const NotarizationEntry& entry);
// The inverse, strict: Encode(Decode(b)) == b for every accepted b.
absl::StatusOr<NotarizationEntry> DecodeNotarizationEntry(ByteView encoded);

// The notarization request the enterprise signs (docs/evidence.md,
// "Notarization request"): "BBNZ-REQ" 0x01 || type || digest ||
// issuer || party count || parties || reference, strings BE16-length-prefixed.
// Everything of the entry but the node's timestamp and the signature itself.
// INVALID_ARGUMENT under the same field rules as EncodeNotarizationEntry.
absl::StatusOr<Bytes> NotarizationRequestBytes(const NotarizationEntry& entry);
// The enterprise's signature over NotarizationRequestBytes(entry): SM2 with
// SM3, default ID, DER.
absl::StatusOr<Bytes> SignNotarizationRequest(const NotarizationEntry& entry,
                                              const crypto::Sm2PrivateKey& key);
// UNAUTHENTICATED when `signature` is not `key`'s over the request bytes.
absl::Status VerifyNotarizationRequest(const NotarizationEntry& entry, ByteView signature,
                                       const crypto::Sm2PublicKey& key);

// The entry's leaf hash in the log: SM3(0x00 || encoded).
Bytes EntryLeafHash(ByteView encoded);

// RFC 3339 UTC with milliseconds: "2025-11-27T13:30:00.123Z".
// ms must be <= kMaxTimestampMs.
std::string FormatTimestampMs(uint64_t ms);

// ----- Receipts -----

inline constexpr uint64_t kReceiptVersion = 1;
inline constexpr std::string_view kReceiptType = "beibu.receipt";
inline constexpr size_t kMaxReceiptBytes = 256 * 1024;
inline constexpr size_t kMaxInclusionProofLength = 64;
inline constexpr size_t kMaxCertificatesPemBytes = 64 * 1024;

struct Receipt {
  Bytes entry;                         // the encoded NotarizationEntry (the log entry)
  uint64_t index = 0;                  // its index in the log
  std::vector<Bytes> inclusion_proof;  // RFC 9162 PATH(index, D[0:checkpoint size])
  std::string checkpoint;              // signed note: node signature [+ hub cosignature]
  std::string node_certificates;       // PEM chain of the node, leaf first
  std::string hub_certificates;        // PEM of the hub (leaf first); empty if absent

  bool operator==(const Receipt&) const = default;
};

// The receipt as JSON (docs/evidence.md, "Receipt JSON"), two-space indented,
// keys in schema order. INVALID_ARGUMENT if `entry` does not decode.
absl::StatusOr<std::string> FormatReceipt(const Receipt& receipt);

// Strict parser: at most kMaxReceiptBytes of UTF-8 JSON nested at most 4
// deep, no duplicate or unknown keys, every field of the schema with its
// exact type, lowercase hex, the decoded entry fields equal to what
// "encoded" decodes to, a well-formed signed-note checkpoint. It checks no
// signature or proof: that is VerifyReceiptOffline's job. INVALID_ARGUMENT
// "receipt: <what>".
absl::StatusOr<Receipt> ParseReceipt(std::string_view json);

struct ReceiptVerifyOptions {
  // When false, a receipt without a (valid) hub cosignature verifies with
  // VerifiedReceipt::hub empty instead of failing "not yet anchored".
  bool require_anchor = true;
  // Certificates are checked at the checkpoint's timestamp (when the node
  // signed), so that evidence outlives the certificates' validity. true
  // checks them at `now` instead. Revocation applies either way.
  bool certificates_at_now = false;
  // How far after `now` a checkpoint may be dated.
  std::chrono::milliseconds max_clock_skew = std::chrono::minutes(5);
};

struct VerifiedReceipt {
  NotarizationEntry entry;
  Checkpoint checkpoint;
  pki::Identity node;                // who signed the checkpoint
  pki::Identity enterprise;          // who signed the notarization request
  std::optional<pki::Identity> hub;  // who cosigned it; empty when not anchored
};

// Verifies `receipt` with nothing but `bundle` (and `document`, when given).
// The steps, in order, and what each failure returns:
//   1. entry decodes, checkpoint parses          INVALID_ARGUMENT "receipt: ..."
//   2. checkpoint not dated after now + skew     UNAUTHENTICATED "checkpoint dated in the future
//   ..."
//   3. node chain trusted, role edge or hub      code of TrustBundle::Verify,
//                                                "node certificate not trusted: ..."
//   4. origin is LogOrigin(node CN)              UNAUTHENTICATED "checkpoint is not from ..."
//   5. node's signature over the checkpoint      UNAUTHENTICATED "checkpoint signature by node ...:
//   ..."
//   6. index < size and inclusion proof          DATA_LOSS "entry not in the log: ..."
//   7. SM3(document) == entry digest             DATA_LOSS "document does not match the receipt:
//   ..."
//   8. entry is version 2 (signed)               UNAUTHENTICATED "enterprise signature invalid:
//   ..."
//      enterprise certificate trusted, role      code of TrustBundle::Verify,
//      enterprise (at the checkpoint's time)     "enterprise certificate not trusted: ..."
//      its CN equals the entry's issuer          UNAUTHENTICATED "enterprise signature invalid:
//      ..." its signature over the request bytes      UNAUTHENTICATED "enterprise signature
//      invalid: ..."
//   9. hub chain trusted, role hub               code of TrustBundle::Verify,
//                                                "hub certificate not trusted: ..."
//      hub's cosignature present                 FAILED_PRECONDITION "not yet anchored: ..."
//      hub's cosignature valid                   UNAUTHENTICATED "hub cosignature invalid: ..."
// So "not yet anchored" means everything else verified.
absl::StatusOr<VerifiedReceipt> VerifyReceiptOffline(const Receipt& receipt,
                                                     const pki::TrustBundle& bundle,
                                                     std::optional<ByteView> document,
                                                     pki::Clock::time_point now,
                                                     const ReceiptVerifyOptions& options = {});

}  // namespace beibu::audit
