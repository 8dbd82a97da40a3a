// Fuzzes the checkpoint parsers: the input is tried as a signed note
// (ParseSignedNote), as a checkpoint body (ParseCheckpoint) and as base64.
// Nothing may crash, and whatever parses must be canonical: formatting it
// again gives back exactly the input.
#include <cstdint>

#include "beibu/audit/checkpoint.h"
#include "fuzz_pki.h"

using namespace beibu;

namespace {

// A fixed SM2 key, for fuzzing only, so that signed seeds verify in any
// process (and a crash that needs a valid signature replays).
constexpr char kEdgeKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg1w05IXYX9BsXuHqj\n"
    "278eMGurufsDPq5/wFlxYFAXhvahRANCAARPUDy5SN0Vb8tj1QBOzltx6H4n/rbv\n"
    "AhL085E+dRrPbpoCrPX9ftEYlqH4mo9c4fM2U122Qa0yuyhA2RwbG4xI\n"
    "-----END PRIVATE KEY-----\n";

const crypto::Sm2PrivateKey& EdgeKey() {
  static const crypto::Sm2PrivateKey* key =
      new crypto::Sm2PrivateKey(crypto::Sm2PrivateKey::FromPem(kEdgeKeyPem).value());
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Bytes root(32);
  for (size_t i = 0; i < root.size(); ++i) root[i] = static_cast<uint8_t>(i * 7);
  audit::Checkpoint cp{audit::LogOrigin("edge-vn"), 42, root, 1764250200123};
  std::string note = audit::SignCheckpoint(cp, EdgeKey(), "edge-vn").value();
  fuzz::MaybeWriteSeed("checkpoint", note);
  crypto::Sm2PrivateKey hub = crypto::Sm2PrivateKey::Generate().value();
  std::string cosigned = audit::AddSignature(note, hub, "hub").value();
  fuzz::MaybeWriteSeed("checkpoint_cosigned", cosigned);
  audit::NoteSignature foreign{"sigsum.org/witness", 0x01020304, Bytes(64, 9)};
  fuzz::MaybeWriteSeed("checkpoint_foreign", cosigned + audit::FormatSignatureLine(foreign));
  fuzz::MaybeWriteSeed("body", audit::FormatCheckpointBody(cp).value());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)audit::IsCleanUtf8(text, true);

  absl::StatusOr<Bytes> raw = audit::Base64Decode(text);
  if (raw.ok() && audit::Base64Encode(*raw) != text) __builtin_trap();

  absl::StatusOr<audit::Checkpoint> direct = audit::ParseCheckpoint(text);
  if (direct.ok()) {
    absl::StatusOr<std::string> body = audit::FormatCheckpointBody(*direct);
    if (!body.ok() || *body != text) __builtin_trap();
  }

  absl::StatusOr<audit::SignedNote> note = audit::ParseSignedNote(text);
  if (!note.ok()) return 0;
  if (note->signatures.empty() || note->signatures.size() > audit::kMaxNoteSignatures) {
    __builtin_trap();
  }
  if (audit::FormatSignedNote(*note) != text) __builtin_trap();
  absl::StatusOr<audit::Checkpoint> cp = audit::ParseCheckpoint(note->body);
  if (cp.ok()) {
    absl::StatusOr<std::string> body = audit::FormatCheckpointBody(*cp);
    if (!body.ok() || *body != note->body) __builtin_trap();
  }
  if (audit::FindSignature(*note, "edge-vn") != nullptr) {
    (void)audit::VerifyNoteSignature(*note, EdgeKey().PublicKey(), "edge-vn");
  }
  return 0;
}
