#include "beibu/audit/receipt.h"

#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"
#include "beibu/pki/certificate.h"

namespace beibu::audit {
namespace {

using nlohmann::json;

constexpr size_t kMaxJsonDepth = 4;
constexpr size_t kMaxCertificatesPerChain = 8;

absl::Status EntryError(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("notarization entry: ", std::string(what)));
}
absl::Status ReceiptError(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("receipt: ", std::string(what)));
}

// ----- entry encoding helpers -----

void PutU16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void PutU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void PutString(Bytes& out, std::string_view s) {
  PutU16(out, static_cast<uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// Text field rules: `min`..`max` bytes of clean UTF-8 without newlines.
bool ValidText(std::string_view s, size_t min, size_t max) {
  return s.size() >= min && s.size() <= max && IsCleanUtf8(s, /*allow_newline=*/false);
}

class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  bool Take(size_t n, ByteView& out) {
    if (data_.size() - pos_ < n) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool U8(uint8_t& v) {
    ByteView b;
    if (!Take(1, b)) return false;
    v = b[0];
    return true;
  }
  bool U16(uint16_t& v) {
    ByteView b;
    if (!Take(2, b)) return false;
    v = static_cast<uint16_t>((b[0] << 8) | b[1]);
    return true;
  }
  bool U64(uint64_t& v) {
    ByteView b;
    if (!Take(8, b)) return false;
    v = 0;
    for (uint8_t x : b) v = (v << 8) | x;
    return true;
  }
  bool String(std::string& s) {
    uint16_t n;
    ByteView b;
    if (!U16(n) || !Take(n, b)) return false;
    s.assign(reinterpret_cast<const char*>(b.data()), b.size());
    return true;
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  ByteView data_;
  size_t pos_ = 0;
};

// ----- JSON helpers -----

// The deepest nesting of arrays and objects, outside strings; stops counting
// past `limit`. Assumes nothing about validity (the JSON parser runs after).
size_t JsonDepth(std::string_view text, size_t limit) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) max_depth = depth;
      if (max_depth > limit) return max_depth;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

absl::StatusOr<json> ParseStrictJson(std::string_view text) {
  if (text.size() > kMaxReceiptBytes) {
    return ReceiptError(absl::StrCat(text.size(), " bytes, more than ", kMaxReceiptBytes));
  }
  if (JsonDepth(text, kMaxJsonDepth) > kMaxJsonDepth) return ReceiptError("nested too deeply");
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() &&
            !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ReceiptError("not valid JSON");
  if (!duplicate.empty()) return ReceiptError(absl::StrCat("duplicate key \"", duplicate, "\""));
  return j;
}

// OK if `obj` is an object whose keys are all in `required` or `optional`
// and that has every key of `required`.
absl::Status CheckKeys(const json& obj, std::string_view where,
                       std::initializer_list<std::string_view> required,
                       std::initializer_list<std::string_view> optional = {}) {
  if (!obj.is_object()) return ReceiptError(absl::StrCat(std::string(where), " is not an object"));
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (std::string_view k : required) known = known || key == k;
    for (std::string_view k : optional) known = known || key == k;
    if (!known) {
      return ReceiptError(absl::StrCat("unknown key \"", key, "\" in ", std::string(where)));
    }
  }
  for (std::string_view k : required) {
    if (!obj.contains(std::string(k))) {
      return ReceiptError(absl::StrCat(std::string(where), " lacks \"", std::string(k), "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const json& obj, std::string_view key) {
  const json& v = obj.at(std::string(key));
  if (!v.is_string()) {
    return ReceiptError(absl::StrCat("\"", std::string(key), "\" is not a string"));
  }
  return v.get<std::string>();
}

absl::StatusOr<uint64_t> GetUnsigned(const json& obj, std::string_view key) {
  const json& v = obj.at(std::string(key));
  if (!v.is_number_unsigned()) {
    return ReceiptError(absl::StrCat("\"", std::string(key), "\" is not a non-negative integer"));
  }
  return v.get<uint64_t>();
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<Bytes> GetHash(std::string_view hex, std::string_view what) {
  if (hex.size() != 64 || !IsLowerHex(hex)) {
    return ReceiptError(absl::StrCat(std::string(what), " is not 64 lowercase hex digits"));
  }
  return HexDecode(hex);
}

// PEM text: printable ASCII, '\n' and '\r' only.
bool IsPemText(std::string_view s) {
  for (char c : s) {
    if (!((c >= 0x20 && c <= 0x7E) || c == '\n' || c == '\r')) return false;
  }
  return true;
}

absl::StatusOr<std::vector<pki::Certificate>> LoadChain(std::string_view pem,
                                                        std::string_view what) {
  absl::StatusOr<std::vector<pki::Certificate>> chain = pki::Certificate::AllFromPem(pem);
  if (!chain.ok()) {
    return ReceiptError(
        absl::StrCat(std::string(what), " certificates: ", std::string(chain.status().message())));
  }
  if (chain->empty() || chain->size() > kMaxCertificatesPerChain) {
    return ReceiptError(absl::StrCat(std::string(what), " certificates: ", chain->size(),
                                     " certificates, expected 1 to ", kMaxCertificatesPerChain));
  }
  return chain;
}

absl::Status Prefixed(const absl::Status& s, std::string_view prefix) {
  return absl::Status(s.code(), absl::StrCat(std::string(prefix), std::string(s.message())));
}

}  // namespace

// ----- Notarization entries -----

std::string_view DocumentTypeName(DocumentType type) {
  switch (type) {
    case DocumentType::kEContract:
      return "e_contract";
    case DocumentType::kCertificateOfOrigin:
      return "certificate_of_origin";
    case DocumentType::kInvoice:
      return "invoice";
    case DocumentType::kBillOfLading:
      return "bill_of_lading";
    case DocumentType::kOther:
      return "other";
  }
  return "unknown";
}

std::optional<DocumentType> ParseDocumentType(std::string_view name) {
  for (DocumentType t :
       {DocumentType::kEContract, DocumentType::kCertificateOfOrigin, DocumentType::kInvoice,
        DocumentType::kBillOfLading, DocumentType::kOther}) {
    if (DocumentTypeName(t) == name) return t;
  }
  return std::nullopt;
}

namespace {
// The field rules shared by the entry and the request.
absl::Status ValidateRequestFields(const NotarizationEntry& e) {
  if (e.document_digest.size() != crypto::kSm3Size) {
    return EntryError(
        absl::StrCat("document digest of ", e.document_digest.size(), " bytes, expected 32 (SM3)"));
  }
  uint8_t type = static_cast<uint8_t>(e.document_type);
  if (type < 1 || type > 5) return EntryError("unknown document type");
  if (!ValidText(e.issuer, 1, kMaxEntityIdBytes)) {
    return EntryError("issuer must be 1-128 bytes of UTF-8 text without control characters");
  }
  if (e.parties.size() > kMaxParties) {
    return EntryError(absl::StrCat(e.parties.size(), " parties, more than ", kMaxParties));
  }
  for (const std::string& p : e.parties) {
    if (!ValidText(p, 1, kMaxEntityIdBytes)) {
      return EntryError("a party must be 1-128 bytes of UTF-8 text without control characters");
    }
  }
  if (!ValidText(e.reference, 0, kMaxReferenceBytes)) {
    return EntryError("reference must be 0-256 bytes of UTF-8 text without control characters");
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<Bytes> NotarizationRequestBytes(const NotarizationEntry& e) {
  if (absl::Status s = ValidateRequestFields(e); !s.ok()) return s;
  Bytes out(kNotarizationRequestMagic.begin(), kNotarizationRequestMagic.end());
  out.push_back(kNotarizationRequestVersion);
  out.push_back(static_cast<uint8_t>(e.document_type));
  out.insert(out.end(), e.document_digest.begin(), e.document_digest.end());
  PutString(out, e.issuer);
  out.push_back(static_cast<uint8_t>(e.parties.size()));
  for (const std::string& p : e.parties) PutString(out, p);
  PutString(out, e.reference);
  return out;
}

absl::StatusOr<Bytes> SignNotarizationRequest(const NotarizationEntry& entry,
                                              const crypto::Sm2PrivateKey& key) {
  absl::StatusOr<Bytes> request = NotarizationRequestBytes(entry);
  if (!request.ok()) return request.status();
  return key.Sign(*request);
}

absl::Status VerifyNotarizationRequest(const NotarizationEntry& entry, ByteView signature,
                                       const crypto::Sm2PublicKey& key) {
  absl::StatusOr<Bytes> request = NotarizationRequestBytes(entry);
  if (!request.ok()) return request.status();
  if (absl::Status s = key.Verify(*request, signature); !s.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("not a signature over the notarization request by this key (",
                     std::string(s.message()), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> EncodeNotarizationEntry(const NotarizationEntry& e) {
  if (absl::Status s = ValidateRequestFields(e); !s.ok()) return s;
  if (e.notarized_at_ms > kMaxTimestampMs) return EntryError("notarized_at out of range");
  if (e.enterprise_signature.empty() != e.enterprise_certificate.empty()) {
    return EntryError("enterprise signature and certificate go together (both or neither)");
  }
  if (e.enterprise_signature.size() > kMaxEnterpriseSignatureBytes) {
    return EntryError(absl::StrCat("enterprise signature of ", e.enterprise_signature.size(),
                                   " bytes, more than ", kMaxEnterpriseSignatureBytes));
  }
  if (e.enterprise_certificate.size() > kMaxEnterpriseCertificateBytes) {
    return EntryError(absl::StrCat("enterprise certificate of ", e.enterprise_certificate.size(),
                                   " bytes, more than ", kMaxEnterpriseCertificateBytes));
  }
  const bool signed_entry = !e.enterprise_signature.empty();
  const uint8_t type = static_cast<uint8_t>(e.document_type);

  Bytes out(kNotarizationMagic.begin(), kNotarizationMagic.end());
  out.push_back(signed_entry ? kNotarizationVersion : kNotarizationVersion1);
  out.push_back(type);
  out.insert(out.end(), e.document_digest.begin(), e.document_digest.end());
  PutU64(out, e.notarized_at_ms);
  PutString(out, e.issuer);
  out.push_back(static_cast<uint8_t>(e.parties.size()));
  for (const std::string& p : e.parties) PutString(out, p);
  PutString(out, e.reference);
  if (signed_entry) {
    PutU16(out, static_cast<uint16_t>(e.enterprise_signature.size()));
    out.insert(out.end(), e.enterprise_signature.begin(), e.enterprise_signature.end());
    PutU16(out, static_cast<uint16_t>(e.enterprise_certificate.size()));
    out.insert(out.end(), e.enterprise_certificate.begin(), e.enterprise_certificate.end());
  }
  return out;
}

absl::StatusOr<NotarizationEntry> DecodeNotarizationEntry(ByteView encoded) {
  Reader r(encoded);
  ByteView magic, digest;
  uint8_t version, type, parties;
  NotarizationEntry e;
  if (!r.Take(kNotarizationMagic.size(), magic) || AsChars(magic) != kNotarizationMagic) {
    return EntryError("not a notarization entry (magic \"BBNZ\" missing)");
  }
  if (!r.U8(version) || (version != kNotarizationVersion1 && version != kNotarizationVersion)) {
    return EntryError("unsupported version");
  }
  if (!r.U8(type) || type < 1 || type > 5) return EntryError("unknown document type");
  e.document_type = static_cast<DocumentType>(type);
  if (!r.Take(crypto::kSm3Size, digest)) return EntryError("truncated digest");
  e.document_digest.assign(digest.begin(), digest.end());
  if (!r.U64(e.notarized_at_ms)) return EntryError("truncated notarized_at");
  if (e.notarized_at_ms > kMaxTimestampMs) return EntryError("notarized_at out of range");
  if (!r.String(e.issuer)) return EntryError("truncated issuer");
  if (!ValidText(e.issuer, 1, kMaxEntityIdBytes)) return EntryError("invalid issuer");
  if (!r.U8(parties)) return EntryError("truncated party count");
  if (parties > kMaxParties) return EntryError("too many parties");
  e.parties.resize(parties);
  for (std::string& p : e.parties) {
    if (!r.String(p)) return EntryError("truncated party");
    if (!ValidText(p, 1, kMaxEntityIdBytes)) return EntryError("invalid party");
  }
  if (!r.String(e.reference)) return EntryError("truncated reference");
  if (!ValidText(e.reference, 0, kMaxReferenceBytes)) return EntryError("invalid reference");
  if (version == kNotarizationVersion) {
    uint16_t n;
    ByteView b;
    if (!r.U16(n) || !r.Take(n, b)) return EntryError("truncated enterprise signature");
    if (n == 0 || n > kMaxEnterpriseSignatureBytes) {
      return EntryError("invalid enterprise signature length");
    }
    e.enterprise_signature.assign(b.begin(), b.end());
    if (!r.U16(n) || !r.Take(n, b)) return EntryError("truncated enterprise certificate");
    if (n == 0 || n > kMaxEnterpriseCertificateBytes) {
      return EntryError("invalid enterprise certificate length");
    }
    e.enterprise_certificate.assign(b.begin(), b.end());
  }
  if (!r.AtEnd()) return EntryError("trailing bytes");
  return e;
}

Bytes EntryLeafHash(ByteView encoded) { return merkle::Sm3Hasher().HashLeaf(encoded); }

std::string FormatTimestampMs(uint64_t ms) {
  if (ms > kMaxTimestampMs) ms = kMaxTimestampMs;
  const uint64_t millis = ms % 1000;
  const uint64_t secs = ms / 1000;
  const int64_t days = static_cast<int64_t>(secs / 86400);
  const uint64_t sod = secs % 86400;
  // civil_from_days (H. Hinnant), for days since 1970-01-01 >= 0.
  const int64_t z = days + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", static_cast<int>(y),
                static_cast<int>(m), static_cast<int>(d), static_cast<int>(sod / 3600),
                static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60),
                static_cast<int>(millis));
  return buf;
}

// ----- Receipts -----

absl::StatusOr<std::string> FormatReceipt(const Receipt& receipt) {
  absl::StatusOr<NotarizationEntry> e = DecodeNotarizationEntry(receipt.entry);
  if (!e.ok()) return e.status();
  nlohmann::ordered_json entry;
  entry["encoded"] = Base64Encode(receipt.entry);
  entry["document_digest"] = HexEncode(e->document_digest);
  entry["document_type"] = std::string(DocumentTypeName(e->document_type));
  entry["issuer"] = e->issuer;
  entry["parties"] = e->parties;
  entry["reference"] = e->reference;
  entry["notarized_at"] = FormatTimestampMs(e->notarized_at_ms);
  nlohmann::ordered_json proof = nlohmann::ordered_json::array();
  for (const Bytes& h : receipt.inclusion_proof) proof.push_back(HexEncode(h));
  nlohmann::ordered_json certs;
  certs["node"] = receipt.node_certificates;
  if (!receipt.hub_certificates.empty()) certs["hub"] = receipt.hub_certificates;
  nlohmann::ordered_json j;
  j["version"] = kReceiptVersion;
  j["type"] = std::string(kReceiptType);
  j["entry"] = std::move(entry);
  j["index"] = receipt.index;
  j["inclusion_proof"] = std::move(proof);
  j["checkpoint"] = receipt.checkpoint;
  j["certificates"] = std::move(certs);
  // Replace invalid UTF-8 rather than throw; such a receipt cannot parse back.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

absl::StatusOr<Receipt> ParseReceipt(std::string_view text) {
  absl::StatusOr<json> parsed = ParseStrictJson(text);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  if (absl::Status s = CheckKeys(
          j, "the receipt",
          {"version", "type", "entry", "index", "inclusion_proof", "checkpoint", "certificates"});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<uint64_t> version = GetUnsigned(j, "version");
  if (!version.ok()) return version.status();
  if (*version != kReceiptVersion) {
    return ReceiptError(absl::StrCat("unsupported version ", *version));
  }
  absl::StatusOr<std::string> type = GetString(j, "type");
  if (!type.ok()) return type.status();
  if (*type != kReceiptType) return ReceiptError("\"type\" is not \"beibu.receipt\"");

  Receipt r;
  // entry
  const json& ej = j.at("entry");
  if (absl::Status s = CheckKeys(ej, "\"entry\"",
                                 {"encoded", "document_digest", "document_type", "issuer",
                                  "parties", "reference", "notarized_at"});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> encoded = GetString(ej, "encoded");
  if (!encoded.ok()) return encoded.status();
  absl::StatusOr<Bytes> entry_bytes = Base64Decode(*encoded);
  if (!entry_bytes.ok()) return ReceiptError("entry \"encoded\" is not canonical base64");
  absl::StatusOr<NotarizationEntry> e = DecodeNotarizationEntry(*entry_bytes);
  if (!e.ok()) return ReceiptError(std::string(e.status().message()));
  r.entry = *std::move(entry_bytes);
  // The decoded fields are a convenience for readers; they must say exactly
  // what the encoded entry (the part the log proves) says.
  auto mismatch = [](std::string_view field) {
    return ReceiptError(
        absl::StrCat("entry \"", std::string(field), "\" does not match the encoded entry"));
  };
  absl::StatusOr<std::string> digest = GetString(ej, "document_digest");
  if (!digest.ok()) return digest.status();
  if (*digest != HexEncode(e->document_digest)) return mismatch("document_digest");
  absl::StatusOr<std::string> doc_type = GetString(ej, "document_type");
  if (!doc_type.ok()) return doc_type.status();
  if (*doc_type != DocumentTypeName(e->document_type)) return mismatch("document_type");
  absl::StatusOr<std::string> issuer = GetString(ej, "issuer");
  if (!issuer.ok()) return issuer.status();
  if (*issuer != e->issuer) return mismatch("issuer");
  const json& parties = ej.at("parties");
  if (!parties.is_array()) return ReceiptError("entry \"parties\" is not an array");
  if (parties.size() != e->parties.size()) return mismatch("parties");
  for (size_t i = 0; i < parties.size(); ++i) {
    if (!parties[i].is_string() || parties[i].get<std::string>() != e->parties[i]) {
      return mismatch("parties");
    }
  }
  absl::StatusOr<std::string> reference = GetString(ej, "reference");
  if (!reference.ok()) return reference.status();
  if (*reference != e->reference) return mismatch("reference");
  absl::StatusOr<std::string> at = GetString(ej, "notarized_at");
  if (!at.ok()) return at.status();
  if (*at != FormatTimestampMs(e->notarized_at_ms)) return mismatch("notarized_at");

  // index and proof
  absl::StatusOr<uint64_t> index = GetUnsigned(j, "index");
  if (!index.ok()) return index.status();
  r.index = *index;
  const json& proof = j.at("inclusion_proof");
  if (!proof.is_array()) return ReceiptError("\"inclusion_proof\" is not an array");
  if (proof.size() > kMaxInclusionProofLength) {
    return ReceiptError(absl::StrCat("\"inclusion_proof\" has ", proof.size(),
                                     " hashes, more than ", kMaxInclusionProofLength));
  }
  for (const json& h : proof) {
    if (!h.is_string()) return ReceiptError("an \"inclusion_proof\" element is not a string");
    absl::StatusOr<Bytes> hash = GetHash(h.get<std::string>(), "an \"inclusion_proof\" element");
    if (!hash.ok()) return hash.status();
    r.inclusion_proof.push_back(*std::move(hash));
  }

  // checkpoint
  absl::StatusOr<std::string> checkpoint = GetString(j, "checkpoint");
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<SignedNote> note = ParseSignedNote(*checkpoint);
  if (!note.ok()) return ReceiptError(std::string(note.status().message()));
  if (absl::StatusOr<Checkpoint> cp = ParseCheckpoint(note->body); !cp.ok()) {
    return ReceiptError(std::string(cp.status().message()));
  }
  r.checkpoint = *std::move(checkpoint);

  // certificates
  const json& cj = j.at("certificates");
  if (absl::Status s = CheckKeys(cj, "\"certificates\"", {"node"}, {"hub"}); !s.ok()) return s;
  absl::StatusOr<std::string> node = GetString(cj, "node");
  if (!node.ok()) return node.status();
  if (node->empty() || node->size() > kMaxCertificatesPemBytes || !IsPemText(*node)) {
    return ReceiptError("\"certificates\".\"node\" is not PEM text of at most 64 KiB");
  }
  r.node_certificates = *std::move(node);
  if (cj.contains("hub")) {
    absl::StatusOr<std::string> hub = GetString(cj, "hub");
    if (!hub.ok()) return hub.status();
    if (hub->empty() || hub->size() > kMaxCertificatesPemBytes || !IsPemText(*hub)) {
      return ReceiptError("\"certificates\".\"hub\" is not PEM text of at most 64 KiB");
    }
    r.hub_certificates = *std::move(hub);
  }
  return r;
}

absl::StatusOr<VerifiedReceipt> VerifyReceiptOffline(const Receipt& receipt,
                                                     const pki::TrustBundle& bundle,
                                                     std::optional<ByteView> document,
                                                     pki::Clock::time_point now,
                                                     const ReceiptVerifyOptions& options) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  VerifiedReceipt out;

  // 1. Structure.
  absl::StatusOr<NotarizationEntry> entry = DecodeNotarizationEntry(receipt.entry);
  if (!entry.ok()) return ReceiptError(std::string(entry.status().message()));
  out.entry = *std::move(entry);
  absl::StatusOr<SignedNote> note = ParseSignedNote(receipt.checkpoint);
  if (!note.ok()) return ReceiptError(std::string(note.status().message()));
  absl::StatusOr<Checkpoint> cp = ParseCheckpoint(note->body);
  if (!cp.ok()) return ReceiptError(std::string(cp.status().message()));
  out.checkpoint = *cp;

  // 2. Time.
  const int64_t now_ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const int64_t skew_ms = options.max_clock_skew.count();
  if (now_ms < 0 || skew_ms < 0 ||
      cp->timestamp_ms > static_cast<uint64_t>(now_ms) + static_cast<uint64_t>(skew_ms)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "checkpoint dated in the future: ", FormatTimestampMs(cp->timestamp_ms), " is after now (",
        FormatTimestampMs(static_cast<uint64_t>(std::max<int64_t>(now_ms, 0))), ")"));
  }
  const pki::Clock::time_point cert_time =
      options.certificates_at_now ? now
                                  : pki::Clock::time_point(duration_cast<pki::Clock::duration>(
                                        milliseconds(static_cast<int64_t>(cp->timestamp_ms))));

  // 3. The node's certificate chain.
  absl::StatusOr<std::vector<pki::Certificate>> node_chain =
      LoadChain(receipt.node_certificates, "node");
  if (!node_chain.ok()) return node_chain.status();
  absl::StatusOr<pki::Identity> node =
      bundle.Verify(*node_chain, cert_time, {pki::Role::kEdge, pki::Role::kHub});
  if (!node.ok()) return Prefixed(node.status(), "node certificate not trusted: ");
  out.node = *node;
  absl::StatusOr<crypto::Sm2PublicKey> node_key = node_chain->front().PublicKey();
  if (!node_key.ok()) return Prefixed(node_key.status(), "node certificate: ");

  // 4. The checkpoint is that node's log.
  if (cp->origin != LogOrigin(node->id)) {
    return absl::UnauthenticatedError(absl::StrCat("checkpoint is not from node ", node->id,
                                                   "'s log (origin ", cp->origin, ", expected ",
                                                   LogOrigin(node->id), ")"));
  }

  // 5. The node's signature.
  if (absl::Status s = VerifyNoteSignature(*note, *node_key, node->id); !s.ok()) {
    return Prefixed(s, absl::StrCat("checkpoint signature by node ", node->id, ": "));
  }

  // 6. Inclusion of the entry.
  if (receipt.index >= cp->size) {
    return absl::DataLossError(absl::StrCat("entry not in the log: index ", receipt.index,
                                            " is outside the checkpoint's tree of size ",
                                            cp->size));
  }
  Bytes leaf = EntryLeafHash(receipt.entry);
  if (absl::Status s = merkle::VerifyInclusion(merkle::Sm3Hasher(), receipt.index, cp->size, leaf,
                                               receipt.inclusion_proof, cp->root);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("entry not in the log: the inclusion proof for index ",
                                            receipt.index, " in the tree of size ", cp->size,
                                            " does not lead to the signed root (",
                                            std::string(s.message()), ")"));
  }

  // 7. The document.
  if (document.has_value()) {
    crypto::Sm3Digest d = crypto::Sm3::Hash(*document);
    if (Bytes(d.begin(), d.end()) != out.entry.document_digest) {
      return absl::DataLossError(absl::StrCat("document does not match the receipt: its SM3 is ",
                                              HexEncode(d), ", the receipt notarized ",
                                              HexEncode(out.entry.document_digest)));
    }
  }

  // 8. The enterprise's signature over its notarization request.
  auto enterprise_error = [](std::string_view why) {
    return absl::UnauthenticatedError(
        absl::StrCat("enterprise signature invalid: ", std::string(why)));
  };
  if (out.entry.enterprise_signature.empty()) {
    return enterprise_error(
        "the entry carries no enterprise signature (a version 1 entry: nothing proves the "
        "enterprise asked for it)");
  }
  absl::StatusOr<pki::Certificate> ent_cert =
      pki::Certificate::FromDer(out.entry.enterprise_certificate);
  if (!ent_cert.ok()) {
    return enterprise_error(absl::StrCat("the entry's enterprise certificate does not parse: ",
                                         std::string(ent_cert.status().message())));
  }
  absl::StatusOr<pki::Identity> enterprise =
      bundle.Verify({*ent_cert}, cert_time, {pki::Role::kEnterprise});
  if (!enterprise.ok())
    return Prefixed(enterprise.status(), "enterprise certificate not trusted: ");
  if (enterprise->id != out.entry.issuer) {
    return enterprise_error(absl::StrCat("the entry's certificate is ", enterprise->id,
                                         "'s, but the issuer is ", out.entry.issuer));
  }
  absl::StatusOr<crypto::Sm2PublicKey> ent_key = ent_cert->PublicKey();
  if (!ent_key.ok()) return enterprise_error(std::string(ent_key.status().message()));
  if (absl::Status s =
          VerifyNotarizationRequest(out.entry, out.entry.enterprise_signature, *ent_key);
      !s.ok()) {
    return enterprise_error(
        absl::StrCat(enterprise->id, "'s signature does not verify: ", std::string(s.message())));
  }
  out.enterprise = *enterprise;

  // 9. The hub's witness cosignature.
  auto not_anchored = [&](std::string why) -> absl::StatusOr<VerifiedReceipt> {
    if (!options.require_anchor) return out;
    return absl::FailedPreconditionError(absl::StrCat(
        "not yet anchored: ", why,
        " (everything else verified; fetch a fresh receipt once the hub has cosigned)"));
  };
  if (receipt.hub_certificates.empty()) {
    return not_anchored("the receipt carries no hub certificate");
  }
  absl::StatusOr<std::vector<pki::Certificate>> hub_chain =
      LoadChain(receipt.hub_certificates, "hub");
  if (!hub_chain.ok()) return hub_chain.status();
  absl::StatusOr<pki::Identity> hub = bundle.Verify(*hub_chain, cert_time, {pki::Role::kHub});
  if (!hub.ok()) return Prefixed(hub.status(), "hub certificate not trusted: ");
  if (FindSignature(*note, hub->id) == nullptr) {
    return not_anchored(absl::StrCat("the checkpoint carries no cosignature by hub ", hub->id));
  }
  absl::StatusOr<crypto::Sm2PublicKey> hub_key = hub_chain->front().PublicKey();
  if (!hub_key.ok()) return Prefixed(hub_key.status(), "hub certificate: ");
  if (absl::Status s = VerifyNoteSignature(*note, *hub_key, hub->id); !s.ok()) {
    return Prefixed(s, "hub cosignature invalid: ");
  }
  out.hub = *hub;
  return out;
}

}  // namespace beibu::audit
