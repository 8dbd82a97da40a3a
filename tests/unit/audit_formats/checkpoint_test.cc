#include "beibu/audit/checkpoint.h"

#include <gtest/gtest.h>

#include "evidence_test_util.h"

namespace beibu::audit {
namespace {

using testing::Contains;
using testing::MemoryLog;
using testing::NewKey;
using testing::NowMs;
using testing::Unwrap;

Checkpoint SampleCheckpoint() {
  Bytes root(32);
  for (size_t i = 0; i < root.size(); ++i) root[i] = static_cast<uint8_t>(i);
  return Checkpoint{"beibu/edge-vn", 42, root, 1764250200123};
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  size_t pos = s.find(std::string(from));
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), std::string(to));
  return s;
}

// ----- base64 and text -----

TEST(Base64, RoundTripsEveryLength) {
  for (size_t n = 0; n < 40; ++n) {
    Bytes data(n);
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 37 + n);
    std::string text = Base64Encode(data);
    EXPECT_EQ(text.size() % 4, 0u);
    EXPECT_EQ(Unwrap(Base64Decode(text)), data);
  }
  EXPECT_EQ(Base64Encode(AsBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(AsBytes("fo")), "Zm8=");
  EXPECT_EQ(Base64Encode(AsBytes("f")), "Zg==");
}

TEST(Base64, IsStrict) {
  for (std::string_view bad : {"Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zg=A", "Zg==Zg==", "Zm 9v",
                               "Zm9v\n", "Zm-v", "Zm_v", "====", "Zm9vYmFy="}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << bad;
  }
}

TEST(CleanUtf8, AcceptsTextAndRefusesControlsAndBadSequences) {
  EXPECT_TRUE(IsCleanUtf8("h\xC3\xA9llo \xE5\x8C\x97\xE9\x83\xA8 \xF0\x9F\x93\x9C", false));
  EXPECT_TRUE(IsCleanUtf8("a\nb\n", true));
  EXPECT_FALSE(IsCleanUtf8("a\nb\n", false));
  for (std::string_view bad :
       {std::string_view("\x00", 1), std::string_view("\x01"), std::string_view("\t"),
        std::string_view("\r"), std::string_view("\x7F"), std::string_view("\xC0\x80"),
        std::string_view("\xC1\xBF"), std::string_view("\xE0\x80\x80"),
        std::string_view("\xED\xA0\x80"), std::string_view("\xF4\x90\x80\x80"),
        std::string_view("\xF5\x80\x80\x80"), std::string_view("\x80"),
        std::string_view("\xE2\x80"), std::string_view("\xC2\x85")}) {
    EXPECT_FALSE(IsCleanUtf8(bad, true)) << HexEncode(AsBytes(bad));
  }
}

// ----- checkpoint bodies -----

TEST(CheckpointBody, HasTheDocumentedBytes) {
  std::string body = Unwrap(FormatCheckpointBody(SampleCheckpoint()));
  EXPECT_EQ(body,
            "beibu/edge-vn\n"
            "42\n"
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
            "timestamp 1764250200123\n");
  EXPECT_EQ(Unwrap(ParseCheckpoint(body)), SampleCheckpoint());
}

TEST(CheckpointBody, RoundTripsExtremes) {
  Checkpoint cp = SampleCheckpoint();
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) {
    for (uint64_t ts : {uint64_t{0}, kMaxTimestampMs}) {
      cp.size = size;
      cp.timestamp_ms = ts;
      EXPECT_EQ(Unwrap(ParseCheckpoint(Unwrap(FormatCheckpointBody(cp)))), cp);
    }
  }
}

TEST(CheckpointBody, FormatRefusesInvalidFields) {
  Checkpoint cp = SampleCheckpoint();
  cp.root.pop_back();
  EXPECT_FALSE(FormatCheckpointBody(cp).ok());
  cp = SampleCheckpoint();
  cp.origin = "beibu/edge vn";
  EXPECT_FALSE(FormatCheckpointBody(cp).ok());
  cp.origin = "";
  EXPECT_FALSE(FormatCheckpointBody(cp).ok());
  cp.origin = std::string(129, 'a');
  EXPECT_FALSE(FormatCheckpointBody(cp).ok());
  cp = SampleCheckpoint();
  cp.timestamp_ms = kMaxTimestampMs + 1;
  EXPECT_FALSE(FormatCheckpointBody(cp).ok());
}

TEST(CheckpointBody, ParseIsStrict) {
  const std::string good = Unwrap(FormatCheckpointBody(SampleCheckpoint()));
  std::vector<std::string> bad = {
      "",
      good.substr(0, good.size() - 1),                      // no final newline
      good + "extension\n",                                 // fifth line
      Replace(good, "\n42\n", "\n042\n"),                   // leading zero
      Replace(good, "\n42\n", "\n+42\n"),                   // sign
      Replace(good, "\n42\n", "\n-1\n"),                    // negative
      Replace(good, "\n42\n", "\n18446744073709551616\n"),  // overflow
      Replace(good, "\n42\n", "\n4 2\n"),                   // space
      Replace(good, "\n42\n", "\n\n"),                      // empty
      Replace(good, "GxwdHh8=", "GxwdHh8"),                 // unpadded root
      Replace(good, "GxwdHh8=", "GxwdHh9="),                // non-canonical root
      Replace(good, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
              "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"),
      Replace(good, "timestamp ", "timestamp  "),                           // double space
      Replace(good, "timestamp ", "time "),                                 // wrong keyword
      Replace(good, "1764250200123", "01764250200123"),                     // leading zero
      Replace(good, "1764250200123", "253402300800000"),                    // after year 9999
      Replace(good, "beibu/edge-vn", "beibu/edge vn"),                      // space in origin
      Replace(good, "beibu/edge-vn\n", "\n"),                               // empty origin
      Replace(good, "\n42\n", "\r\n42\n"),                                  // CR
      "beibu/edge-vn\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  // 3 lines
  };
  for (const std::string& b : bad) EXPECT_FALSE(ParseCheckpoint(b).ok()) << b;
}

// ----- signed notes -----

class SignedNoteTest : public ::testing::Test {
 protected:
  crypto::Sm2PrivateKey key_ = NewKey();
  std::string note_ = Unwrap(SignCheckpoint(SampleCheckpoint(), key_, "edge-vn"));
};

TEST_F(SignedNoteTest, RoundTripsAndVerifies) {
  SignedNote note = Unwrap(ParseSignedNote(note_));
  EXPECT_EQ(note.body, Unwrap(FormatCheckpointBody(SampleCheckpoint())));
  ASSERT_EQ(note.signatures.size(), 1u);
  EXPECT_EQ(note.signatures[0].name, "edge-vn");
  EXPECT_EQ(note.signatures[0].key_id, KeyId("edge-vn", key_.PublicKey()));
  EXPECT_EQ(FormatSignedNote(note), note_);
  EXPECT_TRUE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
  EXPECT_EQ(Unwrap(ParseCheckpoint(note.body)), SampleCheckpoint());
  // The layout: body, blank line, "— edge-vn <base64>\n".
  EXPECT_EQ(note_.find("\n\n\xE2\x80\x94 edge-vn "), note.body.size() - 1);
}

TEST_F(SignedNoteTest, KeyIdIsTheDocumentedHash) {
  crypto::Sm3 h;
  h.Update(
      AsBytes("edge-vn\n\xFF"
              "beibu-sm2-sm3"));
  h.Update(key_.PublicKey().ToDer());
  crypto::Sm3Digest d = h.Final();
  uint32_t want = (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
  EXPECT_EQ(KeyId("edge-vn", key_.PublicKey()), want);
  EXPECT_NE(KeyId("edge-sg", key_.PublicKey()), want);
  EXPECT_NE(KeyId("edge-vn", NewKey().PublicKey()), want);
}

TEST_F(SignedNoteTest, OtherKeyOrNameIsRefused) {
  SignedNote note = Unwrap(ParseSignedNote(note_));
  absl::Status other_key = VerifyNoteSignature(note, NewKey().PublicKey(), "edge-vn");
  EXPECT_EQ(other_key.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(other_key, "another key")) << other_key;
  absl::Status other_name = VerifyNoteSignature(note, key_.PublicKey(), "edge-sg");
  EXPECT_EQ(other_name.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(other_name, "no signature by edge-sg")) << other_name;

  // A line that claims the right name and key id but was made by another key.
  SignedNote forged = note;
  forged.signatures[0].signature = Unwrap(NewKey().Sign(AsBytes(note.body)));
  absl::Status s = VerifyNoteSignature(forged, key_.PublicKey(), "edge-vn");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "does not verify")) << s;
}

TEST_F(SignedNoteTest, TamperedBodyIsRefused) {
  Checkpoint cp = SampleCheckpoint();
  std::vector<std::pair<std::string, std::string>> edits = {
      {"\n42\n", "\n43\n"},
      {"\n42\n", "\n41\n"},
      {"AAECAwQF", "AQECAwQF"},
      {"timestamp 1764250200123", "timestamp 1764250200124"},
      {"beibu/edge-vn", "beibu/edge-sg"},
  };
  for (const auto& [from, to] : edits) {
    SignedNote note = Unwrap(ParseSignedNote(Replace(note_, from, to)));
    absl::Status s = VerifyNoteSignature(note, key_.PublicKey(), "edge-vn");
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << from << " -> " << to;
  }
  // A flipped bit in the signature itself.
  SignedNote note = Unwrap(ParseSignedNote(note_));
  note.signatures[0].signature[10] ^= 1;
  EXPECT_FALSE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
}

TEST_F(SignedNoteTest, UnknownSignaturesAreKeptAndIgnored) {
  NoteSignature foreign{"sigsum.org/witness", 0x01020304, Bytes(64, 9)};
  std::string text = note_ + FormatSignatureLine(foreign);
  SignedNote note = Unwrap(ParseSignedNote(text));
  ASSERT_EQ(note.signatures.size(), 2u);
  EXPECT_EQ(note.signatures[1], foreign);
  EXPECT_TRUE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
  EXPECT_EQ(FormatSignedNote(note), text);
}

TEST_F(SignedNoteTest, AddSignatureCosigns) {
  crypto::Sm2PrivateKey hub = NewKey();
  std::string cosigned = Unwrap(AddSignature(note_, hub, "hub"));
  EXPECT_EQ(cosigned.substr(0, note_.size()), note_);
  SignedNote note = Unwrap(ParseSignedNote(cosigned));
  ASSERT_EQ(note.signatures.size(), 2u);
  EXPECT_TRUE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
  EXPECT_TRUE(VerifyNoteSignature(note, hub.PublicKey(), "hub").ok());
  EXPECT_NE(FindSignature(note, "hub"), nullptr);
  EXPECT_EQ(FindSignature(note, "nobody"), nullptr);
  absl::StatusOr<std::string> again = AddSignature(cosigned, hub, "hub");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(AddSignature(note_, hub, "bad name").ok());
  EXPECT_FALSE(AddSignature("not a note", hub, "hub").ok());
}

TEST_F(SignedNoteTest, ParseIsStrict) {
  const std::string body = Unwrap(FormatCheckpointBody(SampleCheckpoint()));
  const std::string line = note_.substr(body.size() + 1);
  const std::string sig_field = line.substr(line.rfind(' ') + 1);  // with "\n"
  std::vector<std::string> bad = {
      "",
      body,                                                            // no signatures at all
      body + "\n",                                                     // blank line, no signatures
      note_.substr(0, note_.size() - 1),                               // no final newline
      body + line,                                                     // no blank line
      body + "\n" + Replace(line, "\xE2\x80\x94", "-"),                // ASCII dash
      body + "\n" + Replace(line, "\xE2\x80\x94 ", "\xE2\x80\x94"),    // no space after dash
      body + "\n" + Replace(line, " edge-vn ", " edge-vn  "),          // two spaces
      body + "\n" + Replace(line, " edge-vn ", " edge+vn "),           // '+' in name
      body + "\n" + Replace(line, " edge-vn ", "  "),                  // empty name
      body + "\n" + "\xE2\x80\x94 edge-vn\n",                          // no signature field
      body + "\n" + "\xE2\x80\x94 edge-vn AAAA\n",                     // 3 bytes: too short
      body + "\n" + "\xE2\x80\x94 edge-vn AAAAAA==\n",                 // 4 bytes: key id only
      body + "\n" + "\xE2\x80\x94 edge-vn " + sig_field.substr(1),     // bad base64
      body + "\n" + line + line,                                       // duplicate line
      body + "\n" + line + "\n",                                       // trailing blank line
      Replace(body, "beibu/edge-vn", "beibu/\x01") + "\n" + line,      // control character
      Replace(body, "beibu/edge-vn", "beibu/\xC0\x80") + "\n" + line,  // bad UTF-8
      Replace(body, "\n42\n", "\r\n42\n") + "\n" + line,               // CR
      std::string(65, '\n').insert(0, "a") + "\n" + line,              // too many body lines
  };
  std::string many = body + "\n";
  for (int i = 0; i < 17; ++i) {
    many += FormatSignatureLine(NoteSignature{"w" + std::to_string(i), 1, Bytes(8, 1)});
  }
  bad.push_back(many);
  std::string huge = std::string(kMaxNoteBytes, 'a');
  huge += "\n\n" + line;
  bad.push_back(huge);
  for (const std::string& b : bad) {
    absl::StatusOr<SignedNote> n = ParseSignedNote(b);
    EXPECT_FALSE(n.ok()) << b;
    if (!n.ok()) {
      EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(SignedNoteTest, BodiesWithBlankLinesSplitAtTheLastBlankLine) {
  std::string body = "first\n\nthird\n";
  NoteSignature sig = Unwrap(SignNote(body, key_, "edge-vn"));
  std::string text = FormatSignedNote(SignedNote{body, {sig}});
  SignedNote note = Unwrap(ParseSignedNote(text));
  EXPECT_EQ(note.body, body);
  EXPECT_TRUE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
  EXPECT_FALSE(ParseCheckpoint(note.body).ok());
  EXPECT_FALSE(SignNote("no newline", key_, "edge-vn").ok());
  EXPECT_FALSE(SignNote("", key_, "edge-vn").ok());
  EXPECT_FALSE(SignNote("x\n", key_, "").ok());
}

// ----- consistency, the signer and the witness -----

class ConsistencyTest : public ::testing::Test {
 protected:
  ConsistencyTest() {
    for (int i = 0; i < 20; ++i) log_.Append(ToBytes("entry " + std::to_string(i)));
  }
  Checkpoint At(uint64_t size, uint64_t ts) {
    return Checkpoint{"beibu/edge-vn", size, log_.Root(size), ts};
  }
  MemoryLog log_;
};

TEST_F(ConsistencyTest, GrowingLogIsConsistent) {
  for (uint64_t a : {0, 1, 3, 7, 8, 13, 20}) {
    for (uint64_t b = a; b <= 20; ++b) {
      EXPECT_TRUE(CheckConsistent(At(a, 100), At(b, 100 + b), log_.Consistency(a, b)).ok())
          << a << " -> " << b;
    }
  }
}

TEST_F(ConsistencyTest, StaleForkedAndUnprovenAreRefused) {
  absl::Status smaller = CheckConsistent(At(8, 100), At(7, 200), {});
  EXPECT_EQ(smaller.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(smaller, "stale")) << smaller;

  absl::Status older = CheckConsistent(At(7, 200), At(8, 199), log_.Consistency(7, 8));
  EXPECT_EQ(older.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(older, "timestamp")) << older;

  Checkpoint forked = At(8, 300);
  forked.root[0] ^= 1;
  absl::Status fork = CheckConsistent(At(8, 200), forked, {});
  EXPECT_EQ(fork.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(fork, "fork")) << fork;

  // A different log of 12 entries sharing no history with this one.
  MemoryLog other;
  for (int i = 0; i < 12; ++i) other.Append(ToBytes("rewritten " + std::to_string(i)));
  Checkpoint rewritten{"beibu/edge-vn", 12, other.Root(12), 300};
  absl::Status r = CheckConsistent(At(7, 200), rewritten, other.Consistency(7, 12));
  EXPECT_EQ(r.code(), absl::StatusCode::kDataLoss) << r;

  std::vector<Bytes> proof = log_.Consistency(7, 12);
  proof[0][3] ^= 0x10;
  EXPECT_FALSE(CheckConsistent(At(7, 200), At(12, 300), proof).ok());
  proof = log_.Consistency(7, 12);
  proof.pop_back();
  EXPECT_FALSE(CheckConsistent(At(7, 200), At(12, 300), proof).ok());

  Checkpoint elsewhere = At(12, 300);
  elsewhere.origin = "beibu/edge-sg";
  EXPECT_EQ(CheckConsistent(At(7, 200), elsewhere, log_.Consistency(7, 12)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ConsistencyTest, SignerIsMonotonic) {
  crypto::Sm2PrivateKey key = NewKey();
  CheckpointSigner signer(key, "edge-vn", "beibu/edge-vn");
  EXPECT_FALSE(signer.last().has_value());
  std::string n1 = Unwrap(signer.Sign(At(5, 1000), {}));
  SignedNote note = Unwrap(ParseSignedNote(n1));
  EXPECT_TRUE(VerifyNoteSignature(note, key.PublicKey(), "edge-vn").ok());
  EXPECT_EQ(Unwrap(ParseCheckpoint(note.body)), At(5, 1000));
  EXPECT_EQ(signer.last(), At(5, 1000));

  // Same size and root, same or later time: fine (a heartbeat checkpoint).
  EXPECT_TRUE(signer.Sign(At(5, 1000), {}).ok());
  EXPECT_TRUE(signer.Sign(At(9, 1500), log_.Consistency(5, 9)).ok());

  auto refused = [&](const Checkpoint& cp, std::span<const Bytes> proof, std::string_view why) {
    absl::StatusOr<std::string> r = signer.Sign(cp, proof);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << why;
    EXPECT_TRUE(Contains(r.status(), "refusing to sign")) << r.status();
    EXPECT_TRUE(Contains(r.status(), why)) << r.status();
    EXPECT_EQ(signer.last(), At(9, 1500));  // unchanged
  };
  refused(At(8, 2000), {}, "stale");
  refused(At(12, 1499), log_.Consistency(9, 12), "timestamp");
  Checkpoint forked = At(9, 2000);
  forked.root[5] ^= 1;
  refused(forked, {}, "fork");
  std::vector<Bytes> wrong = log_.Consistency(8, 12);  // from the wrong size
  refused(At(12, 2000), wrong, "not consistent");
  refused(At(12, 2000), {}, "not consistent");
  Checkpoint elsewhere = At(12, 2000);
  elsewhere.origin = "beibu/edge-sg";
  refused(elsewhere, log_.Consistency(9, 12), "origin");

  EXPECT_TRUE(signer.Sign(At(20, 2000), log_.Consistency(9, 20)).ok());
  EXPECT_EQ(signer.last(), At(20, 2000));
}

TEST_F(ConsistencyTest, SignerResumesFromThePersistedCheckpoint) {
  CheckpointSigner signer(NewKey(), "edge-vn", "beibu/edge-vn", At(10, 5000));
  EXPECT_FALSE(signer.Sign(At(9, 6000), {}).ok());
  EXPECT_FALSE(signer.Sign(At(11, 4000), log_.Consistency(10, 11)).ok());
  EXPECT_TRUE(signer.Sign(At(11, 6000), log_.Consistency(10, 11)).ok());
}

TEST_F(ConsistencyTest, WitnessCosignsOnlyConsistentSignedCheckpoints) {
  crypto::Sm2PrivateKey edge = NewKey();
  crypto::Sm2PrivateKey hub = NewKey();
  const uint64_t now = NowMs();
  std::string note = Unwrap(SignCheckpoint(At(12, now), edge, "edge-vn"));

  // First contact: nothing to be consistent with.
  std::string cosigned =
      Unwrap(WitnessCosign(note, edge.PublicKey(), "edge-vn", std::nullopt, {}, now, hub, "hub"));
  SignedNote parsed = Unwrap(ParseSignedNote(cosigned));
  EXPECT_TRUE(VerifyNoteSignature(parsed, edge.PublicKey(), "edge-vn").ok());
  EXPECT_TRUE(VerifyNoteSignature(parsed, hub.PublicKey(), "hub").ok());

  // With the previous checkpoint and a proof.
  EXPECT_TRUE(WitnessCosign(note, edge.PublicKey(), "edge-vn", At(7, now - 10),
                            log_.Consistency(7, 12), now, hub, "hub")
                  .ok());
  // Old checkpoints are fine (an edge catching up after a partition).
  std::string old = Unwrap(SignCheckpoint(At(12, now - 86400000), edge, "edge-vn"));
  EXPECT_TRUE(
      WitnessCosign(old, edge.PublicKey(), "edge-vn", std::nullopt, {}, now, hub, "hub").ok());

  // Refusals.
  EXPECT_EQ(WitnessCosign(note, NewKey().PublicKey(), "edge-vn", std::nullopt, {}, now, hub, "hub")
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(
      WitnessCosign(note, edge.PublicKey(), "edge-sg", std::nullopt, {}, now, hub, "hub").ok());
  EXPECT_EQ(WitnessCosign(note, edge.PublicKey(), "edge-vn", At(13, now - 10), {}, now, hub, "hub")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);  // stale
  Checkpoint forked = At(12, now - 10);
  forked.root[0] ^= 1;
  EXPECT_EQ(
      WitnessCosign(note, edge.PublicKey(), "edge-vn", forked, {}, now, hub, "hub").status().code(),
      absl::StatusCode::kDataLoss);  // fork
  EXPECT_FALSE(WitnessCosign(note, edge.PublicKey(), "edge-vn", At(7, now - 10),
                             log_.Consistency(6, 12), now, hub, "hub")
                   .ok());
  std::string future = Unwrap(SignCheckpoint(At(12, now + 3600000), edge, "edge-vn"));
  absl::StatusOr<std::string> f =
      WitnessCosign(future, edge.PublicKey(), "edge-vn", std::nullopt, {}, now, hub, "hub");
  EXPECT_EQ(f.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(f.status(), "future")) << f.status();
}

}  // namespace
}  // namespace beibu::audit
