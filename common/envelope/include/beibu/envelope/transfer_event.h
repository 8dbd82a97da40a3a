// The audit event of one step of a sealed transfer (relayed at the hub,
// delivered and acknowledged at the destination edge): the header's route,
// category, decision and rules, and the SM3 of the header bytes, the digest
// the source, the hub and the destination all log for the transfer, so a
// regulator can match them. Header-only: users link the audit protos.
#pragma once

#include <string>
#include <string_view>

#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "beibu/v1/audit.pb.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::envelope {

inline constexpr char kHeaderDigestAlgorithm[] = "sm3-envelope-header";

// `header_bytes` is the serialized v1.EnvelopeHeader as sealed; an
// unparseable one leaves the route fields empty (the digest still names it).
inline v1::AuditEvent TransferStepEvent(std::string operation, std::string_view header_bytes) {
  v1::EnvelopeHeader h;
  (void)h.ParseFromArray(header_bytes.data(), static_cast<int>(header_bytes.size()));
  v1::AuditEvent e;
  e.set_operation(std::move(operation));
  e.set_transfer_id(h.transfer_id());
  e.set_source_country(h.from_country());
  e.set_destination_country(h.to_country());
  e.set_category(h.category());
  e.set_decision(h.decision());
  for (const std::string& r : h.rules()) e.add_rule_ids(r);
  v1::Digest* dg = e.add_digests();
  dg->set_algorithm(kHeaderDigestAlgorithm);
  crypto::Sm3Digest sum = crypto::Sm3::Hash(AsBytes(header_bytes));
  dg->set_value(std::string(sum.begin(), sum.end()));
  return e;
}

}  // namespace beibu::envelope
