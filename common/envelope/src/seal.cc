#include "beibu/envelope/seal.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/random.h"
#include "wire.h"

namespace beibu::envelope {
namespace {

absl::Status CheckKeys(const TransferKeys& keys) {
  if (keys.enc_key.size() != kTransferEncKeySize || keys.mac_key.size() != kTransferMacKeySize) {
    return absl::InvalidArgumentError(absl::StrCat("transfer keys must be 16 + 32 bytes, got ",
                                                   keys.enc_key.size(), " + ", keys.mac_key.size(),
                                                   "; derive them with DeriveTransferKeys"));
  }
  return absl::OkStatus();
}

crypto::Sm3Digest ChunkTag(ByteView mac_key, std::string_view header_bytes, uint32_t index,
                           bool last, ByteView ciphertext) {
  crypto::HmacSm3 mac(mac_key);
  mac.Update(ChunkAadPrefix(header_bytes, index, last));
  mac.Update(ciphertext);
  return mac.Final();
}

}  // namespace

uint64_t ChunkCount(uint64_t size, size_t chunk_size) {
  if (chunk_size == 0 || size == 0) return 1;
  return size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

Bytes ChunkIv(uint32_t index) {
  Bytes iv;
  internal::AppendU32(iv, index);
  iv.resize(crypto::kSm4BlockSize, 0);
  return iv;
}

Bytes ChunkAadPrefix(std::string_view header_bytes, uint32_t index, bool last) {
  Bytes aad;
  aad.reserve(header_bytes.size() + 9);
  internal::AppendField(aad, header_bytes);
  internal::AppendU32(aad, index);
  internal::AppendU8(aad, last ? 1 : 0);
  return aad;
}

// --- ChunkSealer -------------------------------------------------------------

ChunkSealer::ChunkSealer(crypto::Sm4Ctr ctr, Bytes mac_key, v1::EnvelopeHeader header,
                         size_t chunk_size)
    : ctr_(std::move(ctr)),
      mac_key_(std::move(mac_key)),
      header_(std::move(header)),
      header_bytes_(header_.SerializeAsString()),
      chunk_size_(chunk_size) {}

absl::StatusOr<ChunkSealer> ChunkSealer::Create(const TransferKeys& keys, v1::EnvelopeHeader header,
                                                size_t chunk_size) {
  if (absl::Status s = CheckKeys(keys); !s.ok()) return s;
  if (chunk_size == 0 || chunk_size > kMaxChunkSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be 1 to ", kMaxChunkSize, " bytes, got ", chunk_size));
  }
  uint64_t chunks = ChunkCount(header.size(), chunk_size);
  if (chunks > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("a payload of ", header.size(), " bytes needs ",
                                                   chunks,
                                                   " chunks, over 2^32-1; use larger chunks"));
  }
  header.set_version(kEnvelopeVersion);
  header.set_suite(std::string(kSuiteCtrHmacSm3));
  header.set_chunks(static_cast<uint32_t>(chunks));
  absl::StatusOr<crypto::Sm4Ctr> ctr = crypto::Sm4Ctr::Create(keys.enc_key);
  if (!ctr.ok()) return ctr.status();
  return ChunkSealer(std::move(*ctr), keys.mac_key, std::move(header), chunk_size);
}

absl::StatusOr<std::string> ChunkSealer::Seal(ByteView chunk, bool last) {
  if (finished_) {
    return absl::FailedPreconditionError("all chunks of this envelope are already sealed");
  }
  const uint32_t index = next_;
  const bool must_be_last = index + 1 == header_.chunks();
  if (last != must_be_last) {
    return absl::FailedPreconditionError(
        absl::StrCat("chunk ", index, " of ", header_.chunks(),
                     last ? " is marked last but is not" : " is the last one but not marked so"));
  }
  if (chunk.size() > chunk_size_ || (!last && chunk.size() != chunk_size_) ||
      chunk.size() > header_.size() - total_ || (last && total_ + chunk.size() != header_.size())) {
    return absl::FailedPreconditionError(
        absl::StrCat("chunk ", index, " has ", chunk.size(), " bytes; with ", total_,
                     " bytes sealed so far this disagrees with the header's size ", header_.size(),
                     " and chunk size ", chunk_size_));
  }
  std::string sealed(chunk.size() + kChunkTagSize, '\0');
  std::span<uint8_t> ct(reinterpret_cast<uint8_t*>(sealed.data()), chunk.size());
  if (absl::Status s = ctr_.Apply(ChunkIv(index), chunk, ct); !s.ok()) return s;
  crypto::Sm3Digest tag = ChunkTag(mac_key_, header_bytes_, index, last, ct);
  std::copy(tag.begin(), tag.end(), sealed.begin() + chunk.size());
  total_ += chunk.size();
  ++next_;
  finished_ = last;
  return sealed;
}

// --- ChunkOpener -------------------------------------------------------------

ChunkOpener::ChunkOpener(crypto::Sm4Ctr ctr, Bytes mac_key, v1::EnvelopeHeader header,
                         std::string bytes)
    : ctr_(std::move(ctr)),
      mac_key_(std::move(mac_key)),
      header_(std::move(header)),
      header_bytes_(std::move(bytes)) {}

absl::StatusOr<ChunkOpener> ChunkOpener::Create(const TransferKeys& keys,
                                                std::string header_bytes, uint32_t next_index,
                                                uint64_t opened_bytes) {
  if (absl::Status s = CheckKeys(keys); !s.ok()) return s;
  v1::EnvelopeHeader header;
  if (!header.ParseFromString(header_bytes)) {
    return absl::InvalidArgumentError("envelope header does not parse as an EnvelopeHeader");
  }
  if (header.version() != kEnvelopeVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope version ", header.version(), " is not supported (expected 1); upgrade the edge"));
  }
  if (header.suite() != kSuiteCtrHmacSm3) {
    return absl::InvalidArgumentError(absl::StrCat("envelope suite \"", header.suite(),
                                                   "\" is not supported (expected ",
                                                   std::string(kSuiteCtrHmacSm3), ")"));
  }
  if (header.chunks() == 0) {
    return absl::InvalidArgumentError("envelope header declares 0 chunks (at least 1 required)");
  }
  if (next_index >= header.chunks() || opened_bytes > header.size() ||
      (next_index == 0 && opened_bytes != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resume at chunk ", next_index, " after ", opened_bytes,
                     " bytes: the header declares ", header.chunks(), " chunks, ", header.size(),
                     " bytes"));
  }
  absl::StatusOr<crypto::Sm4Ctr> ctr = crypto::Sm4Ctr::Create(keys.enc_key);
  if (!ctr.ok()) return ctr.status();
  ChunkOpener opener(std::move(*ctr), keys.mac_key, std::move(header), std::move(header_bytes));
  opener.next_ = next_index;
  opener.total_ = opened_bytes;
  return opener;
}

absl::StatusOr<Bytes> ChunkOpener::Open(uint32_t index, ByteView sealed) {
  if (finished_) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk ", index, " arrived after the last chunk ", header_.chunks() - 1,
                     " (duplicated or extra chunk)"));
  }
  if (index != next_) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk ", index, " arrived where chunk ", next_,
                     " was expected (chunks reordered, dropped or duplicated)"));
  }
  if (sealed.size() < kChunkTagSize) {
    return absl::InvalidArgumentError(absl::StrCat("chunk ", index, " has ", sealed.size(),
                                                   " bytes, shorter than its 32-byte tag"));
  }
  const size_t ct_size = sealed.size() - kChunkTagSize;
  if (ct_size > kMaxChunkSize || ct_size > header_.size() - total_) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk ", index, " carries ", ct_size, " bytes, more than the ",
                     header_.size() - total_, " the header's size leaves"));
  }
  const bool last = index + 1 == header_.chunks();
  ByteView ct = sealed.first(ct_size);
  crypto::Sm3Digest tag = ChunkTag(mac_key_, header_bytes_, index, last, ct);
  if (!crypto::ConstantTimeEquals(tag, sealed.subspan(ct_size))) {
    return absl::UnauthenticatedError(
        absl::StrCat("chunk ", index, " of transfer ", header_.transfer_id(),
                     " fails authentication: wrong transfer keys, an altered header, or an "
                     "altered or misplaced chunk"));
  }
  if (last && total_ + ct_size != header_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope carries ", total_ + ct_size, " bytes but its header declares ", header_.size()));
  }
  Bytes plain(ct_size);
  if (absl::Status s = ctr_.Apply(ChunkIv(index), ct, plain); !s.ok()) return s;
  total_ += ct_size;
  ++next_;
  finished_ = last;
  return plain;
}

absl::Status ChunkOpener::Finish() const {
  if (!finished_) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope truncated: ", next_, " of ", header_.chunks(), " chunks opened"));
  }
  return absl::OkStatus();
}

// --- Whole envelopes ---------------------------------------------------------

absl::StatusOr<v1::Envelope> SealEnvelope(const TransferKeys& keys, v1::EnvelopeHeader header,
                                          ByteView plaintext, size_t chunk_size) {
  header.set_size(plaintext.size());
  absl::StatusOr<ChunkSealer> sealer = ChunkSealer::Create(keys, std::move(header), chunk_size);
  if (!sealer.ok()) return sealer.status();
  v1::Envelope envelope;
  envelope.set_header(sealer->header_bytes());
  const uint32_t chunks = sealer->header().chunks();
  for (uint32_t i = 0; i < chunks; ++i) {
    size_t begin = static_cast<size_t>(i) * chunk_size;
    ByteView part = plaintext.subspan(begin, std::min(chunk_size, plaintext.size() - begin));
    absl::StatusOr<std::string> sealed = sealer->Seal(part, i + 1 == chunks);
    if (!sealed.ok()) return sealed.status();
    envelope.add_sealed_chunks(std::move(*sealed));
  }
  return envelope;
}

absl::StatusOr<Bytes> OpenEnvelope(const TransferKeys& keys, const v1::Envelope& envelope) {
  absl::StatusOr<ChunkOpener> opener = ChunkOpener::Create(keys, envelope.header());
  if (!opener.ok()) return opener.status();
  const uint64_t declared = opener->header().chunks();
  if (static_cast<uint64_t>(envelope.sealed_chunks_size()) != declared) {
    return absl::InvalidArgumentError(absl::StrCat("envelope has ", envelope.sealed_chunks_size(),
                                                   " chunks but its header declares ", declared,
                                                   " (chunks dropped, duplicated or truncated)"));
  }
  // The header's size is attacker-chosen until the first tag verifies, so
  // the buffer grows with verified chunks rather than being reserved up front.
  Bytes plaintext;
  for (int i = 0; i < envelope.sealed_chunks_size(); ++i) {
    absl::StatusOr<Bytes> part =
        opener->Open(static_cast<uint32_t>(i), AsBytes(envelope.sealed_chunks(i)));
    if (!part.ok()) return part.status();
    plaintext.insert(plaintext.end(), part->begin(), part->end());
  }
  if (absl::Status s = opener->Finish(); !s.ok()) return s;
  return plaintext;
}

}  // namespace beibu::envelope
