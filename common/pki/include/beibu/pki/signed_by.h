// Who signed a message: the check every signed object of the space shares
// (signed compliance databases, officers' approvals). Pure.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/pki/identity.h"
#include "beibu/pki/trust_bundle.h"

namespace beibu::pki {

// Checks that `signature` is the SM2 signature (SM3, default ID) of
// `message` by the leaf of `chain_pem` (leaf first, may carry
// intermediates), a chain valid under `trust` at `now`: known CA, not
// expired, not revoked. Returns the signer. Every failure is
// UNAUTHENTICATED, its message saying which step failed, phrased to follow
// the caller's own prefix ("approval refused: "): "signer certificate
// unreadable: ...", "signer certificate not trusted: ...", "signer <who> is
// revoked", "signer key unusable: ...", "signature by <who> does not
// verify: ...". The caller checks what the signer may sign (its role).
absl::StatusOr<Identity> VerifySignedBy(std::string_view chain_pem, ByteView message,
                                        ByteView signature, const TrustBundle& trust,
                                        Clock::time_point now);

}  // namespace beibu::pki
