// A version of the compliance database signed by the hub, as the hub
// distributes it to the edges (docs/policy-distribution.md). Pure: no files,
// no RPC. The hub and the edges convert it to and from the wire message
// beibu.v1.SignedPolicy (proto/beibu/v1/registry.proto), field for field.
//
//   absl::StatusOr<SignedPolicy> p = SignPolicy(files, now, hub_key, hub_cert_pem);
//   absl::StatusOr<Database> db = VerifyPolicy(*p, trust_bundle, now);  // on the edge
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/certificate.h"
#include "beibu/pki/trust_bundle.h"
#include "beibu/policy/database.h"

namespace beibu::policy {

struct SignedPolicy {
  uint64_t version = 0;            // the manifest version of `files`
  std::string digest_hex;          // ContentDigest(files)
  PolicyFiles files;               // relative path -> bytes
  int64_t published_at_ms = 0;     // Unix milliseconds
  std::string signer_certificate;  // PEM: the hub certificate (leaf first, may carry the chain)
  std::string signature;           // DER SM2 signature; empty = unsigned
};

// What the signature covers (integers big-endian):
//   "BBPL1" || u64 version || u32 len || digest_hex || u64 published_at_ms ||
//   for each file in path order: u32 len || path || u32 len || content
// INVALID_ARGUMENT if a path or content does not fit a u32 length.
absl::StatusOr<std::string> CanonicalPolicyBytes(const SignedPolicy& policy);

// Loads `files` (INVALID_ARGUMENT with the loader's "file:line: reason" if
// they do not), takes version and digest from the loaded database and signs
// with `key` (SM2, SM3, default ID). `signer_certificate_pem` is the hub
// certificate of `key`, sent along so that edges can check who signed.
absl::StatusOr<SignedPolicy> SignPolicy(const PolicyFiles& files, int64_t published_at_ms,
                                        const crypto::Sm2PrivateKey& key,
                                        const std::string& signer_certificate_pem);

// Checks a signed policy and returns the database it carries:
//   UNAUTHENTICATED   unsigned (empty signature); signer certificate unreadable,
//                     not valid at `now` under `trust` (unknown CA, expired,
//                     revoked), or not of role hub; signature does not verify
//   INVALID_ARGUMENT  the files do not load; their digest or manifest version
//                     differs from the signed digest or version
// Authentication comes first: unsigned content is never parsed.
absl::StatusOr<Database> VerifyPolicy(const SignedPolicy& policy, const pki::TrustBundle& trust,
                                      pki::Clock::time_point now);

}  // namespace beibu::policy
