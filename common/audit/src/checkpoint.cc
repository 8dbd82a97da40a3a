#include "beibu/audit/checkpoint.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"

namespace beibu::audit {
namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kTimestampPrefix = "timestamp ";

// 0..63 for an alphabet character, -1 otherwise.
constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kBase64Table = MakeBase64Table();

absl::Status NoteError(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("signed note: ", std::string(what)));
}
absl::Status CheckpointError(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("checkpoint: ", std::string(what)));
}

std::string KeyIdHex(uint32_t id) {
  uint8_t b[4] = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                  static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  return HexEncode(ByteView(b, 4));
}

// Decimal without sign or leading zeros ("0" itself is fine), fits uint64.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// The body rules shared by SignNote and ParseSignedNote.
absl::Status CheckBody(std::string_view body) {
  if (body.empty()) return NoteError("empty body");
  if (body.size() > kMaxNoteBytes) return NoteError("body too long");
  if (body.back() != '\n') return NoteError("body does not end with a newline");
  if (!IsCleanUtf8(body, /*allow_newline=*/true)) {
    return NoteError("body is not UTF-8 text without control characters");
  }
  size_t lines = 0;
  for (char c : body) lines += c == '\n';
  if (lines > kMaxNoteBodyLines) {
    return NoteError(absl::StrCat("body has ", lines, " lines, more than ", kMaxNoteBodyLines));
  }
  return absl::OkStatus();
}

absl::StatusOr<NoteSignature> ParseSignatureLine(std::string_view line) {
  if (line.substr(0, kSignatureLinePrefix.size()) != kSignatureLinePrefix) {
    return NoteError("signature line does not start with an em dash and a space");
  }
  std::string_view rest = line.substr(kSignatureLinePrefix.size());
  size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return NoteError("signature line has no signature");
  std::string_view name = rest.substr(0, sp);
  std::string_view field = rest.substr(sp + 1);
  if (!IsValidKeyName(name)) return NoteError("signature line has an invalid key name");
  absl::StatusOr<Bytes> raw = Base64Decode(field);
  if (!raw.ok()) return NoteError("signature is not canonical base64");
  if (raw->size() < 5 || raw->size() > kMaxSignatureFieldBytes) {
    return NoteError(absl::StrCat("signature field of ", raw->size(), " bytes"));
  }
  NoteSignature sig;
  sig.name = std::string(name);
  sig.key_id = (uint32_t{(*raw)[0]} << 24) | (uint32_t{(*raw)[1]} << 16) |
               (uint32_t{(*raw)[2]} << 8) | uint32_t{(*raw)[3]};
  sig.signature.assign(raw->begin() + 4, raw->end());
  return sig;
}

}  // namespace

// ----- Base64 and text -----

std::string Base64Encode(ByteView data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

absl::StatusOr<Bytes> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return absl::InvalidArgumentError("base64 length not a multiple of 4");
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return absl::InvalidArgumentError("base64 data after padding");
      v[j] = kBase64Table[static_cast<uint8_t>(c)];
      if (v[j] < 0) return absl::InvalidArgumentError("invalid base64 character");
    }
    uint32_t w =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out.push_back(static_cast<uint8_t>(w >> 16));
    if (pad == 2) {
      if ((w & 0xFFFF) != 0) return absl::InvalidArgumentError("non-canonical base64");
      break;
    }
    out.push_back(static_cast<uint8_t>(w >> 8));
    if (pad == 1) {
      if ((w & 0xFF) != 0) return absl::InvalidArgumentError("non-canonical base64");
      break;
    }
    out.push_back(static_cast<uint8_t>(w));
  }
  return out;
}

bool IsCleanUtf8(std::string_view text, bool allow_newline) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      if (c == '\n' ? !allow_newline : (c < 0x20 || c == 0x7F)) return false;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte, overlong lead (C0, C1) or > F4
    }
    if (n - i < len) return false;
    for (size_t j = 1; j < len; ++j) {
      uint8_t cc = static_cast<uint8_t>(text[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    if (cp >= 0x80 && cp <= 0x9F) return false;  // C1 controls
    i += len;
  }
  return true;
}

// ----- Signed notes -----

bool IsValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxKeyNameBytes) return false;
  for (char c : name) {
    if (c < 0x21 || c > 0x7E || c == '+') return false;
  }
  return true;
}

uint32_t KeyId(std::string_view name, const crypto::Sm2PublicKey& key) {
  const uint8_t type = kSignatureTypeSm2Sm3;
  crypto::Sm3 h;
  h.Update(AsBytes(name));
  h.Update(AsBytes("\n"));
  h.Update(ByteView(&type, 1));
  h.Update(AsBytes(kSignatureAlgorithmSm2Sm3));
  h.Update(key.ToDer());
  crypto::Sm3Digest d = h.Final();
  return (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
}

absl::StatusOr<NoteSignature> SignNote(std::string_view body, const crypto::Sm2PrivateKey& key,
                                       std::string_view name) {
  if (absl::Status s = CheckBody(body); !s.ok()) return s;
  if (!IsValidKeyName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid key name \"", std::string(name), "\""));
  }
  absl::StatusOr<Bytes> sig = key.Sign(AsBytes(body));
  if (!sig.ok()) return sig.status();
  return NoteSignature{std::string(name), KeyId(name, key.PublicKey()), *std::move(sig)};
}

std::string FormatSignatureLine(const NoteSignature& sig) {
  Bytes field = {static_cast<uint8_t>(sig.key_id >> 24), static_cast<uint8_t>(sig.key_id >> 16),
                 static_cast<uint8_t>(sig.key_id >> 8), static_cast<uint8_t>(sig.key_id)};
  field.insert(field.end(), sig.signature.begin(), sig.signature.end());
  return absl::StrCat(std::string(kSignatureLinePrefix), sig.name, " ", Base64Encode(field), "\n");
}

std::string FormatSignedNote(const SignedNote& note) {
  std::string out = note.body;
  out += '\n';
  for (const NoteSignature& sig : note.signatures) out += FormatSignatureLine(sig);
  return out;
}

absl::StatusOr<SignedNote> ParseSignedNote(std::string_view text) {
  if (text.size() > kMaxNoteBytes) {
    return NoteError(absl::StrCat(text.size(), " bytes, more than ", kMaxNoteBytes));
  }
  if (text.empty() || text.back() != '\n') return NoteError("does not end with a newline");
  size_t split = text.rfind("\n\n");
  if (split == std::string_view::npos) {
    return NoteError("no blank line between the text and the signatures");
  }
  SignedNote note;
  std::string_view body = text.substr(0, split + 1);
  if (absl::Status s = CheckBody(body); !s.ok()) return s;
  note.body = std::string(body);

  std::string_view block = text.substr(split + 2);
  if (block.empty()) return NoteError("no signatures");
  while (!block.empty()) {
    size_t nl = block.find('\n');  // present: the text ends with '\n'
    std::string_view line = block.substr(0, nl);
    block.remove_prefix(nl + 1);
    if (note.signatures.size() == kMaxNoteSignatures) {
      return NoteError(absl::StrCat("more than ", kMaxNoteSignatures, " signatures"));
    }
    absl::StatusOr<NoteSignature> sig = ParseSignatureLine(line);
    if (!sig.ok()) return sig.status();
    for (const NoteSignature& other : note.signatures) {
      if (other.name == sig->name && other.key_id == sig->key_id) {
        return NoteError(
            absl::StrCat("two signatures by ", sig->name, " with key id ", KeyIdHex(sig->key_id)));
      }
    }
    note.signatures.push_back(*std::move(sig));
  }
  return note;
}

const NoteSignature* FindSignature(const SignedNote& note, std::string_view name) {
  for (const NoteSignature& sig : note.signatures) {
    if (sig.name == name) return &sig;
  }
  return nullptr;
}

absl::Status VerifyNoteSignature(const SignedNote& note, const crypto::Sm2PublicKey& key,
                                 std::string_view name) {
  const uint32_t want = KeyId(name, key);
  const NoteSignature* other_key = nullptr;
  for (const NoteSignature& sig : note.signatures) {
    if (sig.name != name) continue;
    if (sig.key_id != want) {
      other_key = &sig;
      continue;
    }
    if (!key.Verify(AsBytes(note.body), sig.signature).ok()) {
      return absl::UnauthenticatedError(
          absl::StrCat("signature by ", std::string(name), " does not verify"));
    }
    return absl::OkStatus();
  }
  if (other_key != nullptr) {
    return absl::UnauthenticatedError(absl::StrCat(
        "signature by ", std::string(name), " has key id ", KeyIdHex(other_key->key_id),
        ", expected ", KeyIdHex(want), " (signed by another key)"));
  }
  return absl::UnauthenticatedError(absl::StrCat("no signature by ", std::string(name)));
}

absl::StatusOr<std::string> AddSignature(std::string_view note_text,
                                         const crypto::Sm2PrivateKey& key, std::string_view name) {
  absl::StatusOr<SignedNote> note = ParseSignedNote(note_text);
  if (!note.ok()) return note.status();
  if (!IsValidKeyName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid key name \"", std::string(name), "\""));
  }
  const uint32_t id = KeyId(name, key.PublicKey());
  for (const NoteSignature& sig : note->signatures) {
    if (sig.name == name && sig.key_id == id) {
      return absl::FailedPreconditionError(
          absl::StrCat("the note already carries a signature by ", std::string(name)));
    }
  }
  if (note->signatures.size() >= kMaxNoteSignatures) {
    return absl::FailedPreconditionError("the note has the most signatures allowed");
  }
  absl::StatusOr<NoteSignature> sig = SignNote(note->body, key, name);
  if (!sig.ok()) return sig.status();
  note->signatures.push_back(*std::move(sig));
  std::string out = FormatSignedNote(*note);
  if (out.size() > kMaxNoteBytes) return NoteError("too long with the new signature");
  return out;
}

// ----- Checkpoints -----

std::string LogOrigin(std::string_view node_id) {
  return absl::StrCat("beibu/", std::string(node_id));
}

bool IsValidOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > kMaxOriginBytes) return false;
  for (char c : origin) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

absl::StatusOr<std::string> FormatCheckpointBody(const Checkpoint& cp) {
  if (!IsValidOrigin(cp.origin)) {
    return CheckpointError("origin must be 1-128 printable ASCII characters without spaces");
  }
  if (cp.root.size() != kCheckpointRootSize) {
    return CheckpointError(absl::StrCat("root of ", cp.root.size(), " bytes, expected 32"));
  }
  if (cp.timestamp_ms > kMaxTimestampMs) return CheckpointError("timestamp out of range");
  return absl::StrCat(cp.origin, "\n", cp.size, "\n", Base64Encode(cp.root), "\n",
                      std::string(kTimestampPrefix), cp.timestamp_ms, "\n");
}

absl::StatusOr<Checkpoint> ParseCheckpoint(std::string_view body) {
  if (body.size() > kMaxOriginBytes + 128) return CheckpointError("body too long");
  if (body.empty() || body.back() != '\n') return CheckpointError("does not end with a newline");
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    size_t nl = body.find('\n');
    if (lines.size() == 4) return CheckpointError("more than 4 lines");
    lines.push_back(body.substr(0, nl));
    body.remove_prefix(nl + 1);
  }
  if (lines.size() != 4) return CheckpointError(absl::StrCat(lines.size(), " lines, expected 4"));
  Checkpoint cp;
  if (!IsValidOrigin(lines[0])) return CheckpointError("invalid origin line");
  cp.origin = std::string(lines[0]);
  std::optional<uint64_t> size = ParseDecimal(lines[1]);
  if (!size) return CheckpointError("tree size is not a canonical decimal number");
  cp.size = *size;
  absl::StatusOr<Bytes> root = Base64Decode(lines[2]);
  if (!root.ok() || root->size() != kCheckpointRootSize) {
    return CheckpointError("root is not canonical base64 of 32 bytes");
  }
  cp.root = *std::move(root);
  if (lines[3].substr(0, kTimestampPrefix.size()) != kTimestampPrefix) {
    return CheckpointError("fourth line is not \"timestamp <unix ms>\"");
  }
  std::optional<uint64_t> ts = ParseDecimal(lines[3].substr(kTimestampPrefix.size()));
  if (!ts || *ts > kMaxTimestampMs) {
    return CheckpointError("timestamp is not a canonical decimal number in range");
  }
  cp.timestamp_ms = *ts;
  return cp;
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const crypto::Sm2PrivateKey& key,
                                           std::string_view name) {
  absl::StatusOr<std::string> body = FormatCheckpointBody(checkpoint);
  if (!body.ok()) return body.status();
  absl::StatusOr<NoteSignature> sig = SignNote(*body, key, name);
  if (!sig.ok()) return sig.status();
  return FormatSignedNote(SignedNote{*std::move(body), {*std::move(sig)}});
}

absl::Status CheckConsistent(const Checkpoint& older, const Checkpoint& newer,
                             std::span<const Bytes> proof) {
  if (older.origin != newer.origin) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint of log ", newer.origin,
                                                   " compared with one of log ", older.origin));
  }
  if (newer.size < older.size) {
    return absl::FailedPreconditionError(
        absl::StrCat("stale checkpoint: size ", newer.size, " is smaller than ", older.size));
  }
  if (newer.timestamp_ms < older.timestamp_ms) {
    return absl::FailedPreconditionError(absl::StrCat("stale checkpoint: timestamp ",
                                                      newer.timestamp_ms, " is earlier than ",
                                                      older.timestamp_ms));
  }
  if (newer.size == older.size && newer.root != older.root) {
    return absl::DataLossError(absl::StrCat("fork: two checkpoints of ", newer.origin, " at size ",
                                            newer.size, " with different roots ",
                                            HexEncode(older.root), " and ", HexEncode(newer.root)));
  }
  absl::Status s = merkle::VerifyConsistency(merkle::Sm3Hasher(), older.size, newer.size,
                                             older.root, newer.root, proof);
  if (!s.ok()) {
    std::string why =
        absl::StrCat("checkpoint of size ", newer.size, " is not consistent with size ", older.size,
                     ": ", std::string(s.message()));
    if (s.code() == absl::StatusCode::kInvalidArgument) return absl::InvalidArgumentError(why);
    return absl::DataLossError(why);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WitnessCosign(
    std::string_view note_text, const crypto::Sm2PublicKey& node_key, std::string_view node_name,
    const std::optional<Checkpoint>& previous, std::span<const Bytes> proof, uint64_t now_ms,
    const crypto::Sm2PrivateKey& hub_key, std::string_view hub_name) {
  absl::StatusOr<SignedNote> note = ParseSignedNote(note_text);
  if (!note.ok()) return note.status();
  absl::StatusOr<Checkpoint> cp = ParseCheckpoint(note->body);
  if (!cp.ok()) return cp.status();
  if (cp->origin != LogOrigin(node_name)) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint origin ", cp->origin,
                                                   " is not the log of ", std::string(node_name)));
  }
  if (absl::Status s = VerifyNoteSignature(*note, node_key, node_name); !s.ok()) return s;
  if (cp->timestamp_ms > now_ms && cp->timestamp_ms - now_ms > kMaxCheckpointFutureMs) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint timestamp ", cp->timestamp_ms, " is ", cp->timestamp_ms - now_ms,
                     " ms in the future (check the node's clock)"));
  }
  if (previous.has_value()) {
    if (absl::Status s = CheckConsistent(*previous, *cp, proof); !s.ok()) return s;
  }
  return AddSignature(note_text, hub_key, hub_name);
}

CheckpointSigner::CheckpointSigner(crypto::Sm2PrivateKey key, std::string name, std::string origin,
                                   std::optional<Checkpoint> last)
    : key_(std::move(key)),
      name_(std::move(name)),
      origin_(std::move(origin)),
      last_(std::move(last)) {}

absl::StatusOr<std::string> CheckpointSigner::Sign(const Checkpoint& checkpoint,
                                                   std::span<const Bytes> proof) {
  std::lock_guard<std::mutex> lock(mu_);
  if (checkpoint.origin != origin_) {
    return absl::FailedPreconditionError(absl::StrCat("refusing to sign: checkpoint origin ",
                                                      checkpoint.origin, " is not ", origin_));
  }
  if (last_.has_value()) {
    if (absl::Status s = CheckConsistent(*last_, checkpoint, proof); !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("refusing to sign: ", std::string(s.message())));
    }
  }
  absl::StatusOr<std::string> note = SignCheckpoint(checkpoint, key_, name_);
  if (!note.ok()) return note.status();
  last_ = checkpoint;
  return note;
}

std::optional<Checkpoint> CheckpointSigner::last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

absl::StatusOr<Checkpoint> ParseCheckpointNote(std::string_view note_text) {
  absl::StatusOr<SignedNote> note = ParseSignedNote(note_text);
  if (!note.ok()) return note.status();
  return ParseCheckpoint(note->body);
}

}  // namespace beibu::audit
