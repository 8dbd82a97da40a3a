// Client's evidence calls: the enterprise signs its notarization request with
// the key it connects with (docs/evidence.md, "Notarization request").
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/audit/receipt.h"
#include "beibu/crypto/sm3.h"
#include "client_impl.h"
#include "identity.h"

namespace beibu {
namespace {

constexpr char kNotarizeMethod[] = "/beibu.v1.Evidence/Notarize";

absl::StatusOr<crypto::Sm3Digest> DigestOfFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  crypto::Sm3 h;
  std::vector<uint8_t> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) h.Update(ByteView(buf.data(), n));
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return absl::DataLossError(absl::StrCat("error reading ", path));
  return h.Final();
}

}  // namespace

absl::StatusOr<v1::ReceiptResponse> Client::NotarizeDigest(std::string_view digest,
                                                           const NotarizeOptions& o) {
  if (digest.size() != crypto::kSm3Size) {
    return absl::InvalidArgumentError(
        absl::StrCat("the document digest is ", digest.size(), " bytes; SM3 digests are 32"));
  }
  std::optional<audit::DocumentType> type = audit::ParseDocumentType(o.document_type);
  if (!type) {
    return absl::InvalidArgumentError(
        absl::StrCat("document type ", o.document_type,
                     " is not one of e_contract, certificate_of_origin, invoice, bill_of_lading, "
                     "other"));
  }
  v1::NotarizeRequest req;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->signing) {
      absl::StatusOr<channel::Credentials> creds =
          sdk_internal::LoadSigningCredentials(impl_->options);
      if (!creds.ok()) return creds.status();
      impl_->signing = *std::move(creds);
    }
    absl::StatusOr<pki::Identity> me = impl_->signing->chain.front().GetIdentity();
    if (!me.ok()) return me.status();
    ByteView d = AsBytes(digest);
    audit::NotarizationEntry entry{.document_digest = Bytes(d.begin(), d.end()),
                                   .document_type = *type,
                                   .issuer = me->id,
                                   .parties = o.parties,
                                   .reference = o.reference};
    absl::StatusOr<Bytes> signature = audit::SignNotarizationRequest(entry, impl_->signing->key);
    if (!signature.ok()) return signature.status();
    req.set_enterprise_signature(std::string(signature->begin(), signature->end()));
    req.set_enterprise_certificate_pem(impl_->signing->chain.front().ToPem());
  }
  req.set_document_digest(std::string(digest));
  req.set_document_type(o.document_type);
  for (const std::string& p : o.parties) req.add_parties(p);
  req.set_reference(o.reference);
  v1::ReceiptResponse resp;
  // Not retried: a repeat would notarize a second entry.
  if (absl::Status s = impl_->Call(kNotarizeMethod, req, &resp, /*idempotent=*/false); !s.ok()) {
    return s;
  }
  return resp;
}

absl::StatusOr<v1::ReceiptResponse> Client::Notarize(std::string_view document,
                                                     const NotarizeOptions& o) {
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(document));
  return NotarizeDigest(AsChars(d), o);
}

absl::StatusOr<v1::ReceiptResponse> Client::NotarizeFile(const std::string& path,
                                                         const NotarizeOptions& o) {
  absl::StatusOr<crypto::Sm3Digest> d = DigestOfFile(path);
  if (!d.ok()) return d.status();
  return NotarizeDigest(AsChars(*d), o);
}

absl::StatusOr<v1::ReceiptResponse> Client::GetReceipt(uint64_t index) {
  v1::GetReceiptRequest req;
  req.set_index(index);
  v1::ReceiptResponse resp;
  if (absl::Status s = impl_->Call("/beibu.v1.Evidence/GetReceipt", req, &resp); !s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::VerifyReceiptResponse> Client::VerifyReceipt(
    const std::string& receipt_json, std::optional<std::string_view> document) {
  v1::VerifyReceiptRequest req;
  req.set_receipt_json(receipt_json);
  if (document) {
    crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(*document));
    req.set_document_digest(std::string(AsChars(d)));
  }
  v1::VerifyReceiptResponse resp;
  if (absl::Status s = impl_->Call("/beibu.v1.Evidence/VerifyReceipt", req, &resp); !s.ok()) {
    return s;
  }
  return resp;
}

}  // namespace beibu
