#include "transfer_format.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "beibu/client/client.h"

namespace beibu::cli {

using google::protobuf::util::TimeUtil;

void TransferFlags::AddTo(CLI::App* cmd) {
  cmd->add_option("--to", to, "destination country, ISO 3166-1 alpha-2 (e.g. CN)")->required();
  cmd->add_option("--to-enterprise", to_enterprise, "the recipient enterprise's id")->required();
  cmd->add_option("--category", category, "data category, e.g. logistics.track")->required();
  cmd->add_option("--id", id,
                  "transfer id (16-64 of [A-Za-z0-9._-]); reuse it to retry safely; random if "
                  "absent");
  cmd->add_option("--level", level, "declared level: GENERAL, IMPORTANT or CORE");
  cmd->add_flag("--pi", pi, "the data carries personal information");
  cmd->add_flag("--spi", spi, "the data carries sensitive personal information");
  cmd->add_option("--persons", persons, "persons whose personal information it carries");
  cmd->add_option("--purpose", purpose, "purpose, e.g. contract-necessity");
  cmd->add_option("--attest", attest, "a mechanism you attest, e.g. asean-mcc (repeat)");
  cmd->add_option("--ftz", ftz, "free trade zone, e.g. gx");
  cmd->add_option("--content-type", content_type,
                  "text/csv, application/json, application/x-ndjson, text/plain, ...");
}

absl::StatusOr<v1::TransferHeader> TransferFlags::ToHeader() const {
  v1::TransferHeader h;
  h.set_transfer_id(id.empty() ? NewTransferId() : id);
  h.set_to_country(absl::AsciiStrToUpper(to));
  h.set_to_enterprise(to_enterprise);
  h.set_category(category);
  h.set_declared_level(absl::AsciiStrToUpper(level));
  h.set_declared_pi(pi || spi);
  h.set_declared_spi(spi);
  h.set_persons(persons);
  h.set_purpose(purpose);
  for (const std::string& a : attest) h.add_attested(a);
  h.set_ftz(ftz);
  h.set_content_type(content_type);
  if (persons > 0 && !pi && !spi) {
    return absl::InvalidArgumentError("--persons needs --pi or --spi: persons count personal data");
  }
  if (absl::Status s = ValidateHeader(h); !s.ok()) return s;
  return h;
}

namespace {

std::string Rules(const v1::Decision& d) {
  return d.rules().empty() ? std::string() : " (rules: " + absl::StrJoin(d.rules(), ", ") + ")";
}

std::string Recipient(const v1::TransferStatus& s) {
  std::string who = s.to_enterprise().empty() ? "the recipient" : s.to_enterprise();
  return s.to_country().empty() ? who : who + " in " + s.to_country();
}

}  // namespace

std::string DescribeStatus(const v1::TransferStatus& s) {
  const v1::Decision& d = s.decision();
  std::string verdict = d.decision().empty() ? v1::TransferState_Name(s.state()) : d.decision();
  std::string what;
  switch (s.state()) {
    case v1::DENIED:
      what = "refused" + (d.reason().empty() ? "" : ": " + d.reason());
      break;
    case v1::SANDBOX_ONLY:
      what =
          "refused: the data stays home" +
          (s.sandbox_hint().empty() ? "" : "; compute on it in the sandbox: " + s.sandbox_hint());
      break;
    case v1::HELD_FOR_REVIEW:
      what = "held at your edge for review before it goes to " + Recipient(s);
      break;
    case v1::ACCEPTED:
      what = "accepted, being classified";
      break;
    case v1::MASKED:
    case v1::IN_FLIGHT:
      what = (d.decision() == "MASK" ? "masked (profile " + d.mask_profile() + ") and queued"
                                     : "delivered to the outbox") +
             " for " + Recipient(s);
      break;
    case v1::DELIVERED:
      what = "in the inbox of " + Recipient(s);
      break;
    case v1::ACKNOWLEDGED:
      what = "received and acknowledged by " + Recipient(s);
      break;
    case v1::RECEIVING:
      what = absl::StrCat("upload incomplete: the edge holds ", s.size(),
                          " bytes; send again with the same --id to resume");
      break;
    default:
      what = "state " + v1::TransferState_Name(s.state());
  }
  std::string line =
      absl::StrCat("transfer ", s.transfer_id(), ": ", verdict, " \xE2\x80\x94 ", what, Rules(d));
  if (!s.detail().empty()) absl::StrAppend(&line, "; ", s.detail());
  return line;
}

std::string DescribeTransfer(const v1::TransferStatus& s) {
  const v1::Decision& d = s.decision();
  std::string out = absl::StrCat("transfer ", s.transfer_id(),
                                 "\n  state:    ", v1::TransferState_Name(s.state()), "\n");
  if (!d.decision().empty()) {
    absl::StrAppend(&out, "  decision: ", d.decision());
    if (!d.level().empty())
      absl::StrAppend(&out, " (level ", d.level(), d.pi() ? ", PI" : "", d.spi() ? ", SPI" : "",
                      ")");
    absl::StrAppend(&out, "\n");
  }
  if (!d.rules().empty())
    absl::StrAppend(&out, "  rules:    ", absl::StrJoin(d.rules(), ", "), "\n");
  if (!d.reason().empty()) absl::StrAppend(&out, "  reason:   ", d.reason(), "\n");
  if (!d.mask_profile().empty()) absl::StrAppend(&out, "  masked:   ", d.mask_profile(), "\n");
  if (!s.to_enterprise().empty() || !s.to_country().empty()) {
    absl::StrAppend(&out, "  to:       ", Recipient(s), "\n");
  }
  absl::StrAppend(&out, "  size:     ", s.size(), " bytes",
                  s.payload_sm3().empty() ? "" : ", SM3 " + s.payload_sm3(), "\n");
  if (!s.sandbox_hint().empty()) absl::StrAppend(&out, "  sandbox:  ", s.sandbox_hint(), "\n");
  if (!s.detail().empty()) absl::StrAppend(&out, "  detail:   ", s.detail(), "\n");
  std::vector<std::pair<google::protobuf::Timestamp, std::string>> steps;
  for (const auto& [name, when] : s.steps()) steps.emplace_back(when, name);
  std::sort(steps.begin(), steps.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(a.first.seconds(), a.first.nanos(), a.second) <
           std::make_tuple(b.first.seconds(), b.first.nanos(), b.second);
  });
  if (!steps.empty()) absl::StrAppend(&out, "  steps:\n");
  for (const auto& [when, name] : steps) {
    absl::StrAppend(&out, "    ", TimeUtil::ToString(when), "  ", name, "\n");
  }
  return out;
}

int TransferExitCode(const v1::TransferStatus& s) {
  const std::string& d = s.decision().decision();
  bool refused = s.state() == v1::DENIED || s.state() == v1::SANDBOX_ONLY || d == "DENY" ||
                 d == "SANDBOX_ONLY";
  return refused ? 1 : 0;
}

absl::StatusOr<v1::TransferState> ParseTransferState(const std::string& name) {
  v1::TransferState state;
  if (v1::TransferState_Parse(absl::AsciiStrToUpper(name), &state) &&
      state != v1::TRANSFER_STATE_UNSPECIFIED) {
    return state;
  }
  std::vector<std::string> names;
  for (int i = 1; i <= v1::TransferState_MAX; ++i) {
    if (v1::TransferState_IsValid(i)) names.push_back(v1::TransferState_Name(i));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown state \"", name, "\": use one of ", absl::StrJoin(names, ", ")));
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, opts);
  return out;
}

}  // namespace beibu::cli
