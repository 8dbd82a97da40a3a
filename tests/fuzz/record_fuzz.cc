// Fuzzes the record decoder: arbitrary bytes as a received record, parsed
// with both tag sizes (GCM 16, HMAC-SM3 32) and opened under a fixed key.
#include <cstdint>

#include "beibu/channel/record.h"
#include "fuzz_pki.h"

using namespace beibu;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A valid record as seed: the decoder's happy path is reachable.
  Bytes secret(32, 7);
  auto sealer = channel::RecordSealer::Create(v1::SM4_CTR_HMAC_SM3, secret).value();
  Bytes rec = sealer.Seal(channel::RecordType::kData, AsBytes("seed record")).value();
  fuzz::MaybeWriteSeed("record", std::string(rec.begin(), rec.end()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  (void)channel::ParseRecordHeader(in, 32);
  (void)channel::ParseRecordHeader(in, 16);
  static const Bytes kSecret(32, 7);
  auto opener = channel::RecordOpener::Create(v1::SM4_CTR_HMAC_SM3, kSecret);
  if (!opener.ok()) __builtin_trap();
  absl::StatusOr<channel::OpenedRecord> r = opener->Open(in);
  // Only a record sealed under the key can open; anything else must be refused.
  if (r.ok() && r->payload.size() + channel::kRecordHeaderSize + 32 != size) __builtin_trap();
  return 0;
}
