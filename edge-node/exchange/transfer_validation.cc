#include "exchange/transfer_validation.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "beibu/policy/types.h"
#include "exchange/transfer_id.h"

namespace beibu::edge {
namespace {

std::string Codes(const policy::Database& db, const std::string& except) {
  std::vector<std::string> codes;
  for (const auto& [code, j] : db.jurisdictions) {
    if (code != except) codes.push_back(code);
  }
  return absl::StrJoin(codes, ", ");
}

}  // namespace

absl::Status ValidateHeader(const v1::TransferHeader& h, const policy::Database& db,
                            const std::string& own_country) {
  if (!IsValidTransferId(h.transfer_id())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "transfer_id '", h.transfer_id(), "' must be ", kMinTransferIdSize, "-", kMaxTransferIdSize,
        " characters of [A-Za-z0-9._-]; choose one per transfer (e.g. a UUID) "
        "and reuse it only to retry that transfer"));
  }
  if (db.FindJurisdiction(h.to_country()) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "to_country '", h.to_country(),
        "' is not a jurisdiction of the enforced policy database; valid: ", Codes(db, own_country),
        " (upper-case ISO 3166-1 alpha-2)"));
  }
  if (h.to_country() == own_country) {
    return absl::InvalidArgumentError(
        absl::StrCat("to_country is ", own_country,
                     ", this edge's own country: the exchange carries cross-border transfers "
                     "only; send domestic data directly"));
  }
  if (db.FindCategory(h.category()) == nullptr) {
    std::vector<std::string> ids;
    for (const auto& [id, c] : db.categories) ids.push_back(id);
    return absl::InvalidArgumentError(absl::StrCat("unknown category '", h.category(),
                                                   "'; valid: ", absl::StrJoin(ids, ", "),
                                                   " (`beibu policy show` describes them)"));
  }
  if (h.to_enterprise().empty()) {
    return absl::InvalidArgumentError(
        "to_enterprise is empty; name the recipient enterprise's certificate id");
  }
  if (!h.declared_level().empty() && h.declared_level() != "GENERAL" &&
      h.declared_level() != "IMPORTANT" && h.declared_level() != "CORE") {
    return absl::InvalidArgumentError(
        absl::StrCat("declared_level '", h.declared_level(),
                     "' is not a level; leave it empty or give GENERAL, IMPORTANT or CORE"));
  }
  return absl::OkStatus();
}

std::string CanonicalHeader(const v1::TransferHeader& header) {
  v1::TransferHeader h = header;
  h.clear_file_name();
  h.clear_total_size();
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    h.SerializeToCodedStream(&cos);
  }
  return out;
}

std::string RequestDigest(const v1::TransferHeader& header, const crypto::Sm3Digest& payload_sm3) {
  std::string canonical = CanonicalHeader(header);
  uint8_t len[4] = {
      static_cast<uint8_t>(canonical.size() >> 24), static_cast<uint8_t>(canonical.size() >> 16),
      static_cast<uint8_t>(canonical.size() >> 8), static_cast<uint8_t>(canonical.size())};
  crypto::Sm3 sm3;
  sm3.Update(ByteView(len, 4)).Update(AsBytes(canonical)).Update(payload_sm3);
  crypto::Sm3Digest d = sm3.Final();
  return std::string(d.begin(), d.end());
}

policy::Format FormatOfContentType(const std::string& content_type) {
  std::string t = absl::AsciiStrToLower(content_type);
  if (size_t semi = t.find(';'); semi != std::string::npos) t.resize(semi);
  t = std::string(absl::StripAsciiWhitespace(t));
  if (t == "text/csv") return policy::Format::kCsv;
  if (t == "application/x-ndjson" || t == "application/jsonl" || t == "application/json" ||
      t == "application/x-jsonlines") {
    return policy::Format::kJsonLines;
  }
  if (t == "text/plain") return policy::Format::kText;
  return policy::Format::kAuto;
}

}  // namespace beibu::edge
