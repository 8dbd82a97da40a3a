// Epoch keys: an edge's periodically renewed key-agreement share, published
// through the hub and signed with the edge's certificate key.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm2.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::envelope {

// Domain separator of the signed encoding below.
inline constexpr std::string_view kEpochKeyDomain = "BBEK1";

// key_id of a public point: lowercase hex of the first 16 bytes of SM3(point),
// 32 characters.
std::string EpochKeyId(ByteView public_point);

// The bytes an edge signs (SM2 with SM3 and the default ID) for an EpochKey:
//
//   "BBEK1"
//   u32 len || edge_id        (u32 big-endian byte length, then the bytes)
//   u32 len || key_id
//   u32 len || public_key     (65-byte uncompressed point)
//   u64 not_before            (big-endian Unix milliseconds)
//   u64 not_after             (big-endian Unix milliseconds)
//
// INVALID_ARGUMENT if a timestamp is negative or not a whole millisecond
// (sub-millisecond parts would be unsigned and so malleable).
absl::StatusOr<Bytes> EpochKeySigningBytes(const v1::EpochKey& key);

// A freshly generated epoch key: the private share (keep it, e.g. with
// Sm2KeyShare::ToPrivatePem, until not_after) and the signed public record.
struct EpochKeyPair {
  crypto::Sm2KeyShare share;
  v1::EpochKey key;

  // Times are truncated to whole milliseconds. INVALID_ARGUMENT if edge_id is
  // empty or not_before is not before not_after.
  static absl::StatusOr<EpochKeyPair> Generate(const crypto::Sm2PrivateKey& edge_key,
                                               std::string_view edge_id, absl::Time not_before,
                                               absl::Time not_after);
};

// Checks an epoch key published by another edge against that edge's
// certificate key. Errors, each with its own message:
//   INVALID_ARGUMENT     malformed: empty edge_id, bad timestamps, public_key
//                        not a point on the SM2 curve, key_id not the
//                        EpochKeyId of public_key
//   UNAUTHENTICATED      the signature is not the edge's over this record
//   FAILED_PRECONDITION  not yet valid (now < not_before) or expired
//                        (now >= not_after)
absl::Status VerifyEpochKey(const v1::EpochKey& key, const crypto::Sm2PublicKey& edge_cert_key,
                            absl::Time now);

}  // namespace beibu::envelope
