#include "beibu/channel/record.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "record_keys.h"

namespace beibu::channel {
namespace {

void PutBe(uint8_t* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t GetBe(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

}  // namespace

size_t TagSize(v1::CipherSuite suite) {
  switch (suite) {
    case v1::SM4_GCM_SM3:
      return crypto::kSm4GcmTagSize;
    case v1::SM4_CTR_HMAC_SM3:
      return crypto::kSm3Size;
    default:
      return 0;
  }
}

std::string SuiteName(v1::CipherSuite suite) {
  return v1::CipherSuite_IsValid(suite) ? v1::CipherSuite_Name(suite)
                                        : absl::StrCat("unknown suite ", static_cast<int>(suite));
}

absl::StatusOr<RecordHeader> ParseRecordHeader(ByteView record, size_t tag_size) {
  if (record.size() < kRecordHeaderSize + tag_size) {
    return absl::DataLossError(
        absl::StrCat("record of ", record.size(), " bytes is shorter than header and tag"));
  }
  RecordHeader h;
  h.version = record[0];
  if (h.version != kRecordVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("record version ", h.version, " is not supported (expected 1)"));
  }
  uint8_t type = record[1];
  if (type < 1 || type > 3) {
    return absl::InvalidArgumentError(absl::StrCat("unknown record type ", type));
  }
  h.type = static_cast<RecordType>(type);
  h.epoch = static_cast<uint16_t>(GetBe(&record[2], 2));
  h.sequence = GetBe(&record[4], 8);
  h.length = static_cast<uint32_t>(GetBe(&record[12], 4));
  if (h.length > kMaxRecordPayload) {
    return absl::DataLossError(absl::StrCat("record length ", h.length, " exceeds 16 MiB"));
  }
  if (record.size() != kRecordHeaderSize + h.length + tag_size) {
    return absl::DataLossError(absl::StrCat("record length field ", h.length,
                                            " disagrees with record size ", record.size(),
                                            ": truncated or padded"));
  }
  return h;
}

// --- RecordSealer -----------------------------------------------------------

struct RecordSealer::Impl {
  KeyUpdateLimits limits;
  std::optional<internal::RecordKeys> keys;
  uint64_t sequence = 0;
  uint16_t epoch = 0;
  uint64_t records_this_epoch = 0;
  uint64_t bytes_this_epoch = 0;
};

RecordSealer::RecordSealer() : impl_(std::make_unique<Impl>()) {}
RecordSealer::~RecordSealer() = default;
RecordSealer::RecordSealer(RecordSealer&&) noexcept = default;
RecordSealer& RecordSealer::operator=(RecordSealer&&) noexcept = default;

absl::StatusOr<RecordSealer> RecordSealer::Create(v1::CipherSuite suite, ByteView traffic_secret,
                                                  KeyUpdateLimits limits) {
  absl::StatusOr<internal::RecordKeys> keys = internal::RecordKeys::Derive(suite, traffic_secret);
  if (!keys.ok()) return keys.status();
  RecordSealer s;
  s.impl_->limits = limits;
  s.impl_->keys.emplace(*std::move(keys));
  return s;
}

bool RecordSealer::KeyUpdateDue() const {
  return impl_->records_this_epoch >= impl_->limits.max_records ||
         impl_->bytes_this_epoch >= impl_->limits.max_bytes;
}

uint64_t RecordSealer::next_sequence() const { return impl_->sequence; }
uint16_t RecordSealer::epoch() const { return impl_->epoch; }

absl::StatusOr<Bytes> RecordSealer::Seal(RecordType type, ByteView payload) {
  if (payload.size() > kMaxRecordPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("record payload of ", payload.size(), " bytes exceeds 16 MiB"));
  }
  if (impl_->epoch == UINT16_MAX && type == RecordType::kKeyUpdate) {
    return absl::ResourceExhaustedError("key update limit reached; open a new session");
  }
  const size_t tag = impl_->keys->tag_size();
  Bytes record(kRecordHeaderSize + payload.size() + tag);
  record[0] = kRecordVersion;
  record[1] = static_cast<uint8_t>(type);
  PutBe(&record[2], impl_->epoch, 2);
  PutBe(&record[4], impl_->sequence, 8);
  PutBe(&record[12], payload.size(), 4);
  if (!payload.empty()) std::memcpy(&record[kRecordHeaderSize], payload.data(), payload.size());
  if (absl::Status s = impl_->keys->Seal(impl_->sequence, record); !s.ok()) return s;
  ++impl_->sequence;
  ++impl_->records_this_epoch;
  impl_->bytes_this_epoch += payload.size();
  if (type == RecordType::kKeyUpdate) {
    absl::StatusOr<internal::RecordKeys> next = impl_->keys->Next();
    if (!next.ok()) return next.status();
    impl_->keys.emplace(*std::move(next));
    ++impl_->epoch;
    impl_->records_this_epoch = 0;
    impl_->bytes_this_epoch = 0;
  }
  return record;
}

// --- RecordOpener -----------------------------------------------------------

struct RecordOpener::Impl {
  std::optional<internal::RecordKeys> keys;
  uint64_t sequence = 0;
  uint16_t epoch = 0;
};

RecordOpener::RecordOpener() : impl_(std::make_unique<Impl>()) {}
RecordOpener::~RecordOpener() = default;
RecordOpener::RecordOpener(RecordOpener&&) noexcept = default;
RecordOpener& RecordOpener::operator=(RecordOpener&&) noexcept = default;

absl::StatusOr<RecordOpener> RecordOpener::Create(v1::CipherSuite suite, ByteView traffic_secret) {
  absl::StatusOr<internal::RecordKeys> keys = internal::RecordKeys::Derive(suite, traffic_secret);
  if (!keys.ok()) return keys.status();
  RecordOpener o;
  o.impl_->keys.emplace(*std::move(keys));
  return o;
}

uint64_t RecordOpener::next_sequence() const { return impl_->sequence; }
uint16_t RecordOpener::epoch() const { return impl_->epoch; }

absl::StatusOr<OpenedRecord> RecordOpener::Open(ByteView record) {
  absl::StatusOr<RecordHeader> h = ParseRecordHeader(record, impl_->keys->tag_size());
  if (!h.ok()) return h.status();
  // The sequence number is authenticated below; checking it first gives the
  // precise reason for a replayed or reordered record that is otherwise intact.
  // A forged header with a wrong number still fails here or at the MAC.
  if (h->sequence < impl_->sequence) {
    return absl::DataLossError(absl::StrCat("replayed record: sequence ", h->sequence,
                                            " already received (expected ", impl_->sequence, ")"));
  }
  if (h->sequence > impl_->sequence) {
    return absl::DataLossError(absl::StrCat("reordered or dropped records: got sequence ",
                                            h->sequence, ", expected ", impl_->sequence));
  }
  if (h->epoch != impl_->epoch) {
    return absl::DataLossError(
        absl::StrCat("record epoch ", h->epoch, " does not match key epoch ", impl_->epoch));
  }
  OpenedRecord out{h->type, Bytes(h->length)};
  if (!impl_->keys->Open(h->sequence, record, out.payload).ok()) {
    return absl::DataLossError(
        absl::StrCat("record ", h->sequence, " failed authentication: tampered or forged"));
  }
  ++impl_->sequence;
  if (h->type == RecordType::kKeyUpdate) {
    absl::StatusOr<internal::RecordKeys> next = impl_->keys->Next();
    if (!next.ok()) return next.status();
    impl_->keys.emplace(*std::move(next));
    ++impl_->epoch;
  }
  return out;
}

}  // namespace beibu::channel
