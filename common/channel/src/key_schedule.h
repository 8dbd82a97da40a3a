// The BBSC/1 key schedule and the checks both handshake sides share.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "beibu/channel/handshake.h"
#include "google/protobuf/repeated_field.h"

namespace beibu::channel::internal {

inline constexpr size_t kRandomSize = 32;
inline constexpr int kMaxChainLength = 4;
inline constexpr size_t kMaxCertificateSize = 16 * 1024;
inline constexpr int kMaxSuites = 16;

struct Secrets {
  Bytes client_to_server;
  Bytes server_to_client;
  Bytes server_finished_key;
  Bytes client_finished_key;
};

// th1 = SM3("BBSC/1 th1" || be32(|CH|) || CH || be32(|SH|) || SH)
Bytes TranscriptHash1(ByteView client_hello, ByteView server_hello);
// th2 = SM3("BBSC/1 th2" || th1 || be32(|sig|) || sig || finished)
Bytes TranscriptHash2(ByteView th1, const v1::HandshakeAuth& server_auth);

// PRK = HKDF-Extract(salt "BBSC/1", shared); each secret = HKDF-Expand(PRK, label || th1, 32).
absl::StatusOr<Secrets> DeriveSecrets(ByteView shared, ByteView th1);

// What each side signs: "BBSC/1 server signature" || th1, "BBSC/1 client signature" || th2.
Bytes SignedContent(const char* context, ByteView transcript_hash);
// HMAC-SM3(key, transcript_hash || signature).
Bytes FinishedMac(ByteView key, ByteView transcript_hash, ByteView signature);

absl::StatusOr<std::vector<pki::Certificate>> ParseChain(
    const google::protobuf::RepeatedPtrField<std::string>& der_chain);

// Verifies the peer chain against config.trust (or the pinned root) and the
// allowed roles.
absl::StatusOr<pki::Identity> VerifyPeer(const HandshakeConfig& config,
                                         const std::vector<pki::Certificate>& chain);

// The first suite of `client_order` that `server_supported` contains.
v1::CipherSuite SelectSuite(const std::vector<v1::CipherSuite>& client_order,
                            const std::vector<v1::CipherSuite>& server_supported);

absl::StatusOr<Session> MakeSession(const HandshakeConfig& config, v1::CipherSuite suite,
                                    const Secrets& secrets, bool is_client,
                                    std::optional<pki::Identity> peer, ByteView th1);

}  // namespace beibu::channel::internal
