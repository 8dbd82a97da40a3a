// BBSC/1 records: one direction's sealing and opening state.
//
// Wire format of a record (docs/secure-channel.md):
//   0  u8   version (1)
//   1  u8   type (1 data, 2 key update, 3 close)
//   2  u16  epoch: number of key updates so far in this direction
//   4  u64  sequence number, from 0, +1 per record, never reset
//   12 u32  payload length L
//   16 L bytes ciphertext, then the tag (32 bytes HMAC-SM3, or 16 bytes GCM)
// All integers big-endian. The header is authenticated (MAC input / GCM AAD).
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/v1/channel.pb.h"

namespace beibu::channel {

inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordHeaderSize = 16;
inline constexpr size_t kMaxRecordPayload = 16u << 20;  // 16 MiB

enum class RecordType : uint8_t { kData = 1, kKeyUpdate = 2, kClose = 3 };

struct RecordHeader {
  uint8_t version = 0;
  RecordType type = RecordType::kData;
  uint16_t epoch = 0;
  uint64_t sequence = 0;
  uint32_t length = 0;
};

// Parses and checks the fixed header of `record` (version, type, length
// against the record's size and the suite's tag). INVALID_ARGUMENT or
// DATA_LOSS with the reason; never reads past `record`.
absl::StatusOr<RecordHeader> ParseRecordHeader(ByteView record, size_t tag_size);

// Size of the authentication tag of `suite` (0 if unknown).
size_t TagSize(v1::CipherSuite suite);
std::string SuiteName(v1::CipherSuite suite);

// When a direction re-keys: whichever limit is reached first.
struct KeyUpdateLimits {
  uint64_t max_records = 1ull << 24;
  uint64_t max_bytes = 1ull << 32;  // 4 GiB of payload
};

// Seals records for one direction. Derives key, IV and MAC key from the
// direction's traffic secret; after a key update, from the next secret.
class RecordSealer {
 public:
  static absl::StatusOr<RecordSealer> Create(v1::CipherSuite suite, ByteView traffic_secret,
                                             KeyUpdateLimits limits = {});
  ~RecordSealer();
  RecordSealer(RecordSealer&&) noexcept;
  RecordSealer& operator=(RecordSealer&&) noexcept;

  // True when the next record must be a key update (a limit was reached).
  bool KeyUpdateDue() const;
  // Seals one record. Sealing a kKeyUpdate record switches this direction to
  // the next key after the record is sealed (under the old key).
  absl::StatusOr<Bytes> Seal(RecordType type, ByteView payload);

  uint64_t next_sequence() const;
  uint16_t epoch() const;

 private:
  RecordSealer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct OpenedRecord {
  RecordType type;
  Bytes payload;
};

// Opens records of one direction, in order. Every failure is final for the
// session (the caller tears it down):
//   DATA_LOSS "record N failed authentication: tampered or forged"
//   DATA_LOSS "replayed record: sequence N already received (expected M)"
//   DATA_LOSS "reordered or dropped records: got sequence N, expected M"
//   DATA_LOSS "record epoch E does not match key epoch F"
class RecordOpener {
 public:
  static absl::StatusOr<RecordOpener> Create(v1::CipherSuite suite, ByteView traffic_secret);
  ~RecordOpener();
  RecordOpener(RecordOpener&&) noexcept;
  RecordOpener& operator=(RecordOpener&&) noexcept;

  // Opening a kKeyUpdate record switches to the next key.
  absl::StatusOr<OpenedRecord> Open(ByteView record);

  uint64_t next_sequence() const;
  uint16_t epoch() const;

 private:
  RecordOpener();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beibu::channel
