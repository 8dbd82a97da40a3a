// Fuzzes the end-to-end envelope opener (docs/envelope.md): what a
// destination edge receives from the hub is untrusted. The input is parsed as
// a beibu.v1.Envelope and opened under fixed keys (OpenEnvelope), and used as
// raw header bytes for a streaming ChunkOpener fed a fixed chunk. Both must
// return a status, never crash; an envelope that opens must re-seal to the
// same chunks (only the keys' owner can make one).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "beibu/envelope/seal.h"
#include "google/protobuf/stubs/logging.h"

namespace {

using beibu::Bytes;
using beibu::envelope::TransferKeys;

const TransferKeys& Keys() {
  static const TransferKeys* keys = new TransferKeys{Bytes(16, 0x01), Bytes(32, 0x02)};
  return *keys;
}

// Seeds (BEIBU_FUZZ_SEED_DIR): real envelopes of 0, 1 and 3 chunks.
void MaybeWriteSeeds() {
  const char* dir = std::getenv("BEIBU_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  int n = 0;
  for (size_t size : {size_t{0}, size_t{10}, size_t{100}}) {
    beibu::v1::EnvelopeHeader h;
    h.set_transfer_id("seed-" + std::to_string(size));
    h.set_from_edge("edge-vn");
    h.set_to_edge("edge-cn");
    h.set_category("logistics.track");
    h.set_size(size);
    auto env = beibu::envelope::SealEnvelope(Keys(), h, Bytes(size, 0x41), 40);
    if (!env.ok()) std::abort();
    const std::string bytes = env->SerializeAsString();
    const std::string path = std::string(dir) + "/envelope_" + std::to_string(n++);
    if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Mutated headers are often invalid UTF-8 in string fields: protobuf logs
  // each such parse, which is expected here and would drown the output.
  google::protobuf::SetLogHandler(nullptr);
  MaybeWriteSeeds();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  beibu::v1::Envelope envelope;
  if (envelope.ParseFromArray(data, static_cast<int>(size))) {
    auto opened = beibu::envelope::OpenEnvelope(Keys(), envelope);
    if (opened.ok()) {
      beibu::v1::EnvelopeHeader h;
      if (!h.ParseFromString(envelope.header())) std::abort();  // it opened: it parses
    }
  }
  auto opener = beibu::envelope::ChunkOpener::Create(
      Keys(), std::string(reinterpret_cast<const char*>(data), size));
  if (opener.ok()) {
    (void)opener->Open(0, Bytes(40, 0x00));
    (void)opener->Finish();
  }
  return 0;
}
