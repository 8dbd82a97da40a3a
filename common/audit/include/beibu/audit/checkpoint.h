// Checkpoints of Beibu's Merkle logs as C2SP signed notes
// (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint), signed
// with SM2-with-SM3. docs/evidence.md has the format byte by byte.
//
//   beibu/edge-vn                       <- origin: "beibu/" + node id
//   42                                  <- tree size, decimal
//   3q2+7w...=                          <- root, base64 (32 bytes of SM3)
//   timestamp 1764250200123             <- Beibu extension line: unix ms
//                                       <- blank line
//   — edge-vn AbCdEf...==               <- node signature
//   — hub Xy12...==                     <- hub witness cosignature (once anchored)
//
// A signature line is "— " (U+2014 EM DASH, space), the key name, a space and
// base64(key id (4 bytes, big-endian) || DER SM2 signature over the body).
// The key id is the first 4 bytes of
//   SM3(key name || 0x0A || 0xFF || "beibu-sm2-sm3" || DER SubjectPublicKeyInfo).
//
// Witness cosignature: the hub appends its own signature line, over the same
// body, only after it has verified the node's signature and checked that the
// checkpoint is consistent with the last one it holds from that node
// (WitnessCosign). A checkpoint carrying the hub's line is "anchored".
//
// Parsing is strict and bounded (the parsers are fuzzed): ParseSignedNote and
// ParseCheckpoint never crash and reject anything not exactly in this form.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/sm2.h"

namespace beibu::audit {

// Limits of ParseSignedNote.
inline constexpr size_t kMaxNoteBytes = 16 * 1024;
inline constexpr size_t kMaxNoteBodyLines = 64;
inline constexpr size_t kMaxNoteSignatures = 16;
inline constexpr size_t kMaxKeyNameBytes = 128;
// Decoded signature field (key id + signature); foreign signature types may
// be larger than SM2's 70-72 bytes, so this leaves room.
inline constexpr size_t kMaxSignatureFieldBytes = 4 + 1024;
// Limits of checkpoints.
inline constexpr size_t kMaxOriginBytes = 128;
inline constexpr size_t kCheckpointRootSize = 32;  // SM3
// 9999-12-31T23:59:59.999Z: the largest timestamp Beibu formats or accepts.
inline constexpr uint64_t kMaxTimestampMs = 253402300799999ULL;

// The C2SP signature type byte Beibu uses for SM2-with-SM3 (default ID):
// 0xFF, C2SP's "unregistered algorithm" type, followed in the key id input by
// the algorithm identifier below.
inline constexpr uint8_t kSignatureTypeSm2Sm3 = 0xFF;
inline constexpr std::string_view kSignatureAlgorithmSm2Sm3 = "beibu-sm2-sm3";

// The em dash that starts a signature line, UTF-8 (E2 80 94), and the prefix.
inline constexpr std::string_view kEmDash = "\xE2\x80\x94";
inline constexpr std::string_view kSignatureLinePrefix = "\xE2\x80\x94 ";

// ----- Base64 (RFC 4648 §4, standard alphabet, '=' padding) -----

std::string Base64Encode(ByteView data);
// Strict: padding required, no whitespace, canonical (unused bits zero).
absl::StatusOr<Bytes> Base64Decode(std::string_view text);

// True for well-formed UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF) that contains no control character (C0, DEL), except '\n'
// when `allow_newline`.
bool IsCleanUtf8(std::string_view text, bool allow_newline);

// ----- Signed notes -----

struct NoteSignature {
  std::string name;     // key name: 1..128 bytes of printable ASCII, no space or '+'
  uint32_t key_id = 0;  // first 4 bytes of the key id hash, big-endian
  Bytes signature;      // for Beibu keys: DER SM2 signature over the body

  bool operator==(const NoteSignature&) const = default;
};

struct SignedNote {
  std::string body;  // the signed text: non-empty, ends with '\n'
  std::vector<NoteSignature> signatures;

  bool operator==(const SignedNote&) const = default;
};

// Printable ASCII (0x21..0x7E) except '+', 1..kMaxKeyNameBytes bytes.
bool IsValidKeyName(std::string_view name);

// The key id of Beibu SM2 key `key` under `name` (see the file comment).
uint32_t KeyId(std::string_view name, const crypto::Sm2PublicKey& key);

// Signs `body` (which must satisfy the body rules of ParseSignedNote).
absl::StatusOr<NoteSignature> SignNote(std::string_view body, const crypto::Sm2PrivateKey& key,
                                       std::string_view name);

// "— <name> <base64(key id || signature)>\n".
std::string FormatSignatureLine(const NoteSignature& sig);
// body || "\n" || signature lines.
std::string FormatSignedNote(const SignedNote& note);

// Parses a signed note. INVALID_ARGUMENT, naming the problem, unless:
//   * the text is at most kMaxNoteBytes and ends with '\n';
//   * it splits at its last "\n\n" into a body (everything up to and
//     including the first '\n' of that pair) and a signature block;
//   * the body is clean UTF-8 (newlines only as controls) of at most
//     kMaxNoteBodyLines lines;
//   * the signature block is 1..kMaxNoteSignatures lines, each exactly
//     "— " name " " base64 "\n" with a valid key name and a strict base64
//     field of 5..kMaxSignatureFieldBytes bytes;
//   * no (name, key id) pair appears twice.
// Signature lines of unknown keys are kept (and ignored by verifiers).
absl::StatusOr<SignedNote> ParseSignedNote(std::string_view text);

// The first signature line named `name`, or nullptr.
const NoteSignature* FindSignature(const SignedNote& note, std::string_view name);

// OK if `note` carries a line by `name` with KeyId(name, key) whose signature
// verifies over the body. UNAUTHENTICATED otherwise: "no signature by <name>",
// "signature by <name> has key id X, expected Y (another key)" or
// "signature by <name> does not verify".
absl::Status VerifyNoteSignature(const SignedNote& note, const crypto::Sm2PublicKey& key,
                                 std::string_view name);

// Parses `note_text`, signs its body with (key, name) and returns the note
// with the new line appended. FAILED_PRECONDITION if a line by the same name
// and key id is already there; the limits of ParseSignedNote apply.
absl::StatusOr<std::string> AddSignature(std::string_view note_text,
                                         const crypto::Sm2PrivateKey& key, std::string_view name);

// ----- Checkpoints -----

struct Checkpoint {
  std::string origin;         // the log's identity, see LogOrigin
  uint64_t size = 0;          // number of entries
  Bytes root;                 // RFC 9162 root with SM3, 32 bytes
  uint64_t timestamp_ms = 0;  // when the node signed, unix milliseconds

  bool operator==(const Checkpoint&) const = default;
};

// The origin of node `node_id`'s log: "beibu/" + node_id. The node signs its
// checkpoints under key name `node_id` (its certificate's CN).
std::string LogOrigin(std::string_view node_id);

// Origin: 1..kMaxOriginBytes of printable ASCII (0x21..0x7E).
bool IsValidOrigin(std::string_view origin);

// "<origin>\n<size>\n<base64 root>\ntimestamp <ms>\n". INVALID_ARGUMENT for an
// invalid origin, a root that is not 32 bytes or a timestamp > kMaxTimestampMs.
absl::StatusOr<std::string> FormatCheckpointBody(const Checkpoint& checkpoint);

// The inverse, strict: exactly those four lines, decimal numbers without sign
// or leading zeros, canonical base64 of exactly 32 bytes. INVALID_ARGUMENT.
absl::StatusOr<Checkpoint> ParseCheckpoint(std::string_view body);
// ParseSignedNote then ParseCheckpoint of its body; checks no signature.
absl::StatusOr<Checkpoint> ParseCheckpointNote(std::string_view note_text);

// FormatCheckpointBody + SignNote + FormatSignedNote: the note text.
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const crypto::Sm2PrivateKey& key, std::string_view name);

// Checks that `newer` extends `older` given the RFC 9162 consistency proof
// from older.size to newer.size (SM3):
//   INVALID_ARGUMENT     different origins, or a malformed proof
//   FAILED_PRECONDITION  "stale": newer.size < older.size, or its timestamp is
//                        earlier than older's
//   DATA_LOSS            "fork": same size, different roots; or the proof
//                        does not verify (the log was rewritten or forked)
absl::Status CheckConsistent(const Checkpoint& older, const Checkpoint& newer,
                             std::span<const Bytes> proof);

// How far in the future (by the witness's clock) a checkpoint may be dated.
inline constexpr uint64_t kMaxCheckpointFutureMs = 5 * 60 * 1000;

// The hub's witness step. Parses `note_text`, requires a valid signature by
// (node_key, node_name) over a checkpoint whose origin is LogOrigin(node_name)
// and whose timestamp is at most kMaxCheckpointFutureMs after `now_ms`, and,
// when the hub holds a `previous` checkpoint of that log, requires
// CheckConsistent(*previous, checkpoint, proof). Only then appends the hub's
// cosignature line (hub_key, hub_name). Returns the cosigned note text; the
// caller records the new checkpoint (atomically with the size check) and
// appends it to the hub's own log. Errors as VerifyNoteSignature and
// CheckConsistent; FAILED_PRECONDITION for a checkpoint dated in the future.
// (Old timestamps are fine: an edge cut off from the hub catches up later.)
absl::StatusOr<std::string> WitnessCosign(
    std::string_view note_text, const crypto::Sm2PublicKey& node_key, std::string_view node_name,
    const std::optional<Checkpoint>& previous, std::span<const Bytes> proof, uint64_t now_ms,
    const crypto::Sm2PrivateKey& hub_key, std::string_view hub_name);

// Signs a node's checkpoints and never signs one inconsistent with the last
// it signed: the size never shrinks, the timestamp never goes back, the same
// size keeps the same root, and a larger size needs a valid consistency
// proof from the last signed size. Keeps the last signed checkpoint in
// memory; persisting it (and passing it back on restart) is the caller's job.
// Thread-safe: Sign() calls are serialised.
class CheckpointSigner {
 public:
  // `last`: the last checkpoint this node signed, if any (its origin must be
  // `origin`).
  CheckpointSigner(crypto::Sm2PrivateKey key, std::string name, std::string origin,
                   std::optional<Checkpoint> last = std::nullopt);

  // Returns the signed note of `checkpoint`. `proof` is the consistency proof
  // from last()->size to checkpoint.size (ignored when nothing was signed yet).
  // FAILED_PRECONDITION "refusing to sign: ..." (with CheckConsistent's
  // reason) when the checkpoint would break monotonicity or consistency, or
  // has another origin; the signer's state is unchanged then.
  absl::StatusOr<std::string> Sign(const Checkpoint& checkpoint, std::span<const Bytes> proof);

  std::optional<Checkpoint> last() const;
  const std::string& name() const { return name_; }
  const std::string& origin() const { return origin_; }

 private:
  crypto::Sm2PrivateKey key_;
  std::string name_;
  std::string origin_;
  mutable std::mutex mu_;
  std::optional<Checkpoint> last_;
};

}  // namespace beibu::audit
