// Checks on what an enterprise sends before anything is stored or decided,
// and the request identity used for idempotent retries.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "beibu/crypto/sm3.h"
#include "beibu/policy/database.h"
#include "beibu/policy/detector.h"
#include "beibu/v1/exchange.pb.h"

namespace beibu::edge {

// INVALID_ARGUMENT, saying what to change, when the transfer id is not 16-64
// chars [A-Za-z0-9._-], to_country is unknown to `db` or is `own_country`,
// the category is unknown, to_enterprise is empty or declared_level is not
// "", GENERAL, IMPORTANT or CORE.
absl::Status ValidateHeader(const v1::TransferHeader& header, const policy::Database& db,
                            const std::string& own_country);

// The header fields that define a transfer, deterministically serialized
// (file_name and total_size are informative and left out): two requests
// with equal bytes here describe the same transfer.
std::string CanonicalHeader(const v1::TransferHeader& header);

// SM3(u32 len || CanonicalHeader || payload SM3): TransferRecord.request_digest.
std::string RequestDigest(const v1::TransferHeader& header, const crypto::Sm3Digest& payload_sm3);

// The scanner format named by a content type ("text/csv" -> kCsv,
// "application/x-ndjson" / "application/jsonl" / "application/json" ->
// kJsonLines, "text/plain" -> kText); kAuto (sniff) otherwise.
policy::Format FormatOfContentType(const std::string& content_type);

}  // namespace beibu::edge
