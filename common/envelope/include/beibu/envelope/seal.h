// Sealing a transfer's payload end to end, in chunks, for the destination edge.
//
// Byte layout (suite "SM4_CTR_HMAC_SM3", version 1), with keys from
// DeriveTransferKeys (one key pair per transfer, so IVs never repeat under a
// key):
//
//   Envelope.header        = the serialized EnvelopeHeader H (its exact bytes
//                            are authenticated; never re-serialize them)
//   Envelope.sealed_chunks = chunk 0 .. chunk n-1, n = H.chunks >= 1
//                            (an empty payload is one empty chunk, so a
//                            dropped chunk is always visible)
//   chunk i                = C_i || T_i
//   C_i                    = SM4-CTR(enc_key, IV_i, P_i)
//   IV_i                   = u32 i (big-endian) || 12 zero bytes; OpenSSL's
//                            128-bit counter then counts up in the low bytes,
//                            so chunks under 2^96 blocks never overlap
//   T_i (32 bytes)         = HMAC-SM3(mac_key, u32 len(H) || H || u32 i ||
//                                              u8 last || C_i)
//                            with last = 1 for i = n-1, else 0; u32 are
//                            big-endian
//
// Every chunk but the last carries exactly chunk_size plaintext bytes; the
// plaintext bytes of all chunks sum to H.size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm3.h"
#include "beibu/crypto/sm4.h"
#include "beibu/envelope/transfer_keys.h"
#include "beibu/v1/relay.pb.h"

namespace beibu::envelope {

inline constexpr uint32_t kEnvelopeVersion = 1;
inline constexpr std::string_view kSuiteCtrHmacSm3 = "SM4_CTR_HMAC_SM3";
inline constexpr size_t kChunkTagSize = crypto::kSm3Size;
inline constexpr size_t kMaxChunkSize = size_t{16} << 20;  // 16 MiB
inline constexpr size_t kDefaultChunkSize = size_t{1} << 20;

// ceil(size / chunk_size), at least 1.
uint64_t ChunkCount(uint64_t size, size_t chunk_size);

// The counter block IV_i and the tag input (without C_i) of chunk i, exposed
// so that tests and other implementations can pin the format.
Bytes ChunkIv(uint32_t index);
Bytes ChunkAadPrefix(std::string_view header_bytes, uint32_t index, bool last);

// Streaming sealer: constant memory whatever the payload size.
class ChunkSealer {
 public:
  // Fills header.version, suite and chunks (from header.size and chunk_size)
  // and serializes it. INVALID_ARGUMENT for bad key sizes, a chunk_size of 0
  // or above kMaxChunkSize, or more than 2^32-1 chunks.
  static absl::StatusOr<ChunkSealer> Create(const TransferKeys& keys, v1::EnvelopeHeader header,
                                            size_t chunk_size);

  // The bytes to put in Envelope.header.
  const std::string& header_bytes() const { return header_bytes_; }
  const v1::EnvelopeHeader& header() const { return header_; }

  // Seals the next chunk. FAILED_PRECONDITION if the chunk's size, the last
  // flag or the total disagree with the header, or if sealing is finished.
  absl::StatusOr<std::string> Seal(ByteView chunk, bool last);
  bool finished() const { return finished_; }

 private:
  ChunkSealer(crypto::Sm4Ctr ctr, Bytes mac_key, v1::EnvelopeHeader header, size_t chunk_size);
  crypto::Sm4Ctr ctr_;
  Bytes mac_key_;
  v1::EnvelopeHeader header_;
  std::string header_bytes_;
  size_t chunk_size_;
  uint32_t next_ = 0;
  uint64_t total_ = 0;
  bool finished_ = false;
};

// Streaming opener: chunks must be opened in order, each exactly once.
class ChunkOpener {
 public:
  // Parses and checks the header (version, suite, chunks >= 1). INVALID_ARGUMENT
  // if it does not parse or is not a version this code reads. To resume after
  // a restart, pass the next chunk to open and the plaintext bytes the chunks
  // before it held (INVALID_ARGUMENT if they cannot fit the header).
  static absl::StatusOr<ChunkOpener> Create(const TransferKeys& keys, std::string header_bytes,
                                            uint32_t next_index = 0, uint64_t opened_bytes = 0);
  // Chunks opened so far and their plaintext bytes (what a resume needs).
  uint32_t next_index() const { return next_; }
  uint64_t opened_bytes() const { return total_; }

  const v1::EnvelopeHeader& header() const { return header_; }

  // Verifies chunk `index` and returns its plaintext. INVALID_ARGUMENT if the
  // index is out of order (reordered, dropped or duplicated chunk), the chunk
  // is shorter than its tag or oversized, or the plaintext exceeds header.size;
  // UNAUTHENTICATED if the tag does not verify (wrong keys, altered header,
  // altered or moved chunk).
  absl::StatusOr<Bytes> Open(uint32_t index, ByteView sealed);
  // OK once the last chunk was opened and the sizes matched; INVALID_ARGUMENT
  // (truncated) otherwise.
  absl::Status Finish() const;

 private:
  ChunkOpener(crypto::Sm4Ctr ctr, Bytes mac_key, v1::EnvelopeHeader header, std::string bytes);
  crypto::Sm4Ctr ctr_;
  Bytes mac_key_;
  v1::EnvelopeHeader header_;
  std::string header_bytes_;
  uint32_t next_ = 0;
  uint64_t total_ = 0;
  bool finished_ = false;
};

// Whole-payload forms, for payloads that fit in memory (Send, up to 4 MiB).
absl::StatusOr<v1::Envelope> SealEnvelope(const TransferKeys& keys, v1::EnvelopeHeader header,
                                          ByteView plaintext,
                                          size_t chunk_size = kDefaultChunkSize);
// INVALID_ARGUMENT if the chunk count differs from the header's (dropped,
// duplicated or truncated envelope) or a chunk is malformed; UNAUTHENTICATED
// if any tag fails.
absl::StatusOr<Bytes> OpenEnvelope(const TransferKeys& keys, const v1::Envelope& envelope);

}  // namespace beibu::envelope
