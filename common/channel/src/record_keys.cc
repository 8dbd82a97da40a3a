#include "record_keys.h"

#include <cstring>

namespace beibu::channel::internal {
namespace {

absl::StatusOr<Bytes> Expand(ByteView secret, const char* label, size_t n) {
  return crypto::HkdfSm3Expand(secret, AsBytes(label), n);
}

void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

}  // namespace

absl::StatusOr<RecordKeys> RecordKeys::Derive(v1::CipherSuite suite, ByteView secret) {
  RecordKeys k;
  k.suite_ = suite;
  k.secret_.assign(secret.begin(), secret.end());
  absl::StatusOr<Bytes> key = Expand(secret, "bbsc1 key", crypto::kSm4KeySize);
  absl::StatusOr<Bytes> iv = Expand(secret, "bbsc1 iv", crypto::kSm4GcmNonceSize);
  if (!key.ok()) return key.status();
  if (!iv.ok()) return iv.status();
  k.iv_ = *std::move(iv);
  switch (suite) {
    case v1::SM4_CTR_HMAC_SM3: {
      absl::StatusOr<Bytes> mac = Expand(secret, "bbsc1 mac", crypto::kSm3Size);
      if (!mac.ok()) return mac.status();
      absl::StatusOr<crypto::Sm4Ctr> ctr = crypto::Sm4Ctr::Create(*key);
      if (!ctr.ok()) return ctr.status();
      k.ctr_.emplace(*std::move(ctr));
      k.mac_.emplace(*mac);
      return k;
    }
    case v1::SM4_GCM_SM3: {
      absl::StatusOr<crypto::Sm4Gcm> gcm = crypto::Sm4Gcm::Create(*key);
      if (!gcm.ok()) return gcm.status();
      k.gcm_.emplace(*std::move(gcm));
      return k;
    }
    default:
      return absl::InvalidArgumentError("unknown cipher suite");
  }
}

size_t RecordKeys::tag_size() const {
  return suite_ == v1::SM4_GCM_SM3 ? crypto::kSm4GcmTagSize : crypto::kSm3Size;
}

absl::StatusOr<RecordKeys> RecordKeys::Next() const {
  absl::StatusOr<Bytes> next = Expand(secret_, "bbsc1 key update", crypto::kSm3Size);
  if (!next.ok()) return next.status();
  return Derive(suite_, *next);
}

// The per-record nonce: the IV with the sequence number XORed into its last
// eight bytes (as TLS 1.3 does). For CTR the 16-byte counter block is the
// nonce followed by a 32-bit block counter from 0, which cannot wrap within a
// 16 MiB record, so two records never share keystream.
void RecordKeys::Nonce(uint64_t sequence, uint8_t out[16]) const {
  std::memset(out, 0, 16);
  std::memcpy(out, iv_.data(), 12);
  uint8_t seq[8];
  PutU64(seq, sequence);
  for (int i = 0; i < 8; ++i) out[4 + i] ^= seq[i];
}

absl::Status RecordKeys::Seal(uint64_t sequence, std::span<uint8_t> record) {
  const size_t tag = tag_size();
  const size_t len = record.size() - kRecordHeaderSize - tag;
  uint8_t nonce[16];
  Nonce(sequence, nonce);
  ByteView header(record.data(), kRecordHeaderSize);
  std::span<uint8_t> body = record.subspan(kRecordHeaderSize, len);
  std::span<uint8_t> tag_out = record.subspan(kRecordHeaderSize + len, tag);
  if (gcm_) return gcm_->Seal(ByteView(nonce, 12), header, body, body, tag_out);
  if (absl::Status s = ctr_->Apply(ByteView(nonce, 16), body, body); !s.ok()) return s;
  crypto::Sm3Digest mac = mac_->Update(record.first(kRecordHeaderSize + len)).Final();
  std::memcpy(tag_out.data(), mac.data(), mac.size());
  return absl::OkStatus();
}

absl::Status RecordKeys::Open(uint64_t sequence, ByteView record, std::span<uint8_t> out) {
  const size_t tag = tag_size();
  const size_t len = record.size() - kRecordHeaderSize - tag;
  uint8_t nonce[16];
  Nonce(sequence, nonce);
  ByteView header = record.first(kRecordHeaderSize);
  ByteView body = record.subspan(kRecordHeaderSize, len);
  ByteView tag_in = record.subspan(kRecordHeaderSize + len, tag);
  if (gcm_) return gcm_->Open(ByteView(nonce, 12), header, body, tag_in, out);
  // Encrypt-then-MAC: nothing is decrypted before the tag checks out.
  crypto::Sm3Digest mac = mac_->Update(record.first(kRecordHeaderSize + len)).Final();
  if (!crypto::ConstantTimeEquals(mac, tag_in)) {
    return absl::DataLossError("bad MAC");
  }
  return ctr_->Apply(ByteView(nonce, 16), body, out);
}

}  // namespace beibu::channel::internal
