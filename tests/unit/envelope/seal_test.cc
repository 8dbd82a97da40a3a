#include "beibu/envelope/seal.h"

#include <gtest/gtest.h>

#include "beibu/crypto/random.h"
#include "beibu/crypto/sm3.h"
#include "beibu/crypto/sm4.h"

namespace beibu::envelope {
namespace {

TransferKeys RandomKeys() { return TransferKeys{crypto::RandomBytes(16), crypto::RandomBytes(32)}; }

v1::EnvelopeHeader Header() {
  v1::EnvelopeHeader h;
  h.set_transfer_id("t-42");
  h.set_source_sequence(7);
  h.set_from_edge("edge-vn");
  h.set_to_edge("edge-cn");
  h.set_category("logistics");
  h.set_decision("FAST");
  h.set_sender_key_id("aa");
  h.set_recipient_key_id("bb");
  return h;
}

TEST(Seal, RoundTripsEverySizeAroundChunkBoundaries) {
  TransferKeys keys = RandomKeys();
  for (size_t chunk : {size_t{1}, size_t{16}, size_t{1000}, size_t{64} << 10}) {
    for (size_t size : {size_t{0}, size_t{1}, chunk - 1, chunk, chunk + 1, size_t{1} << 20}) {
      if (chunk == 1 && size == (size_t{1} << 20)) continue;  // a million tiny chunks: slow
      Bytes plain = crypto::RandomBytes(size);
      v1::Envelope env = SealEnvelope(keys, Header(), plain, chunk).value();
      v1::EnvelopeHeader h;
      ASSERT_TRUE(h.ParseFromString(env.header()));
      EXPECT_EQ(h.size(), size);
      EXPECT_EQ(h.chunks(), size == 0 ? 1u : (size + chunk - 1) / chunk);
      EXPECT_EQ(static_cast<uint32_t>(env.sealed_chunks_size()), h.chunks());
      absl::StatusOr<Bytes> opened = OpenEnvelope(keys, env);
      ASSERT_TRUE(opened.ok()) << opened.status() << " chunk " << chunk << " size " << size;
      EXPECT_EQ(*opened, plain) << "chunk " << chunk << " size " << size;
      if (size > 0) {
        EXPECT_NE(env.sealed_chunks(0).substr(0, std::min(size, chunk)),
                  std::string(AsChars(plain)).substr(0, std::min(size, chunk)));
      }
    }
  }
}

TEST(Seal, TagAndCiphertextMatchTheDocumentedLayout) {
  TransferKeys keys = RandomKeys();
  Bytes plain = crypto::RandomBytes(100);
  v1::Envelope env = SealEnvelope(keys, Header(), plain, 40).value();
  ASSERT_EQ(env.sealed_chunks_size(), 3);
  const std::string& hdr = env.header();
  for (uint32_t i = 0; i < 3; ++i) {
    const std::string& sealed = env.sealed_chunks(i);
    size_t ct_size = sealed.size() - 32;
    // AAD built by hand: u32 len(H) || H || u32 i || u8 last.
    std::string aad;
    uint32_t n = hdr.size();
    aad += {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
    aad += hdr;
    aad += {char(0), char(0), char(0), char(i)};
    aad += char(i == 2 ? 1 : 0);
    crypto::HmacSm3 mac(keys.mac_key);
    mac.Update(AsBytes(aad)).Update(AsBytes(sealed.substr(0, ct_size)));
    crypto::Sm3Digest expected = mac.Final();
    EXPECT_EQ(sealed.substr(ct_size), std::string(AsChars(expected))) << i;
    // Ciphertext: SM4-CTR from IV = u32 i || 12 zero bytes.
    Bytes iv(16, 0);
    iv[3] = static_cast<uint8_t>(i);
    crypto::Sm4Ctr ctr = crypto::Sm4Ctr::Create(keys.enc_key).value();
    Bytes decrypted(ct_size);
    ASSERT_TRUE(ctr.Apply(iv, AsBytes(sealed.substr(0, ct_size)), decrypted).ok());
    EXPECT_EQ(decrypted, Bytes(plain.begin() + 40 * i, plain.begin() + 40 * i + ct_size));
  }
}

class Tamper : public ::testing::Test {
 protected:
  TransferKeys keys_ = RandomKeys();
  Bytes plain_ = crypto::RandomBytes(250);
  v1::Envelope env_ = SealEnvelope(keys_, Header(), plain_, 100).value();  // 3 chunks

  absl::Status Open(const v1::Envelope& env) { return OpenEnvelope(keys_, env).status(); }
};

TEST_F(Tamper, IntactOpens) { EXPECT_TRUE(Open(env_).ok()); }

TEST_F(Tamper, AlteredHeaderRefused) {
  v1::EnvelopeHeader h;
  ASSERT_TRUE(h.ParseFromString(env_.header()));
  h.set_to_edge("edge-sg");
  v1::Envelope env = env_;
  env.set_header(h.SerializeAsString());
  absl::Status s = Open(env);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_NE(s.message().find("fails authentication"), absl::string_view::npos);
}

TEST_F(Tamper, GarbageHeaderRefused) {
  v1::Envelope env = env_;
  env.set_header("\xff\xff\xff");
  EXPECT_EQ(Open(env).code(), absl::StatusCode::kInvalidArgument);
  v1::EnvelopeHeader h;
  ASSERT_TRUE(h.ParseFromString(env_.header()));
  h.set_suite("ROT13");
  env.set_header(h.SerializeAsString());
  EXPECT_NE(Open(env).message().find("suite"), absl::string_view::npos);
  h.set_suite("SM4_CTR_HMAC_SM3");
  h.set_version(2);
  env.set_header(h.SerializeAsString());
  EXPECT_NE(Open(env).message().find("version"), absl::string_view::npos);
}

TEST_F(Tamper, AlteredChunkRefused) {
  for (int i = 0; i < 3; ++i) {
    for (size_t pos : {size_t{0}, env_.sealed_chunks(i).size() - 1}) {
      v1::Envelope env = env_;
      (*env.mutable_sealed_chunks(i))[pos] ^= 0x01;
      EXPECT_EQ(Open(env).code(), absl::StatusCode::kUnauthenticated) << i << " " << pos;
    }
  }
}

TEST_F(Tamper, ReorderedChunksRefused) {
  v1::Envelope env = env_;
  env.mutable_sealed_chunks()->SwapElements(0, 1);
  absl::Status s = Open(env);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
}

TEST_F(Tamper, DroppedChunkRefused) {
  v1::Envelope env = env_;
  env.mutable_sealed_chunks()->DeleteSubrange(1, 1);
  absl::Status s = Open(env);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("has 2 chunks but its header declares 3"), absl::string_view::npos)
      << s;
}

TEST_F(Tamper, DuplicatedChunkRefused) {
  v1::Envelope env = env_;
  *env.add_sealed_chunks() = env_.sealed_chunks(2);
  EXPECT_EQ(Open(env).code(), absl::StatusCode::kInvalidArgument);
  // Same count, a chunk replaced by a copy of another.
  env = env_;
  *env.mutable_sealed_chunks(1) = env_.sealed_chunks(0);
  EXPECT_EQ(Open(env).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(Tamper, TruncatedChunksRefused) {
  v1::Envelope env = env_;
  env.mutable_sealed_chunks(2)->resize(10);  // shorter than a tag
  absl::Status s = Open(env);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("shorter than its 32-byte tag"), absl::string_view::npos) << s;
  env = env_;
  env.mutable_sealed_chunks(2)->resize(env_.sealed_chunks(2).size() - 1);
  EXPECT_EQ(Open(env).code(), absl::StatusCode::kUnauthenticated);
  env = env_;
  env.clear_sealed_chunks();
  EXPECT_EQ(Open(env).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(Tamper, OversizedChunkRefused) {
  v1::Envelope env = env_;
  env.mutable_sealed_chunks(0)->append(1000, 'x');
  absl::Status s = Open(env);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST_F(Tamper, WrongKeysRefused) {
  TransferKeys other = RandomKeys();
  EXPECT_EQ(OpenEnvelope(other, env_).status().code(), absl::StatusCode::kUnauthenticated);
  TransferKeys short_keys{Bytes(8), Bytes(32)};
  EXPECT_EQ(OpenEnvelope(short_keys, env_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(Tamper, LastFlagIsAuthenticated) {
  // Drop the final chunk and shrink the header so the count agrees: the
  // header's bytes change and chunk 1 was sealed with last = 0.
  v1::EnvelopeHeader h;
  ASSERT_TRUE(h.ParseFromString(env_.header()));
  h.set_chunks(2);
  h.set_size(200);
  v1::Envelope env = env_;
  env.set_header(h.SerializeAsString());
  env.mutable_sealed_chunks()->DeleteSubrange(2, 1);
  EXPECT_EQ(Open(env).code(), absl::StatusCode::kUnauthenticated);
}

TEST(Streaming, SealsAndOpensChunkByChunk) {
  TransferKeys keys = RandomKeys();
  const size_t chunk = 4096;
  const size_t total = 10 * chunk + 123;
  v1::EnvelopeHeader h = Header();
  h.set_size(total);
  ChunkSealer sealer = ChunkSealer::Create(keys, h, chunk).value();
  EXPECT_EQ(sealer.header().chunks(), 11u);
  ChunkOpener opener = ChunkOpener::Create(keys, sealer.header_bytes()).value();
  crypto::Sm3 digest_in, digest_out;
  size_t sent = 0;
  for (uint32_t i = 0; sent < total; ++i) {
    size_t n = std::min(chunk, total - sent);
    Bytes part = crypto::RandomBytes(n);
    digest_in.Update(part);
    sent += n;
    std::string sealed = sealer.Seal(part, sent == total).value();
    EXPECT_FALSE(opener.Finish().ok());
    Bytes opened = opener.Open(i, AsBytes(sealed)).value();
    EXPECT_EQ(opened, part);
    digest_out.Update(opened);
  }
  EXPECT_TRUE(sealer.finished());
  EXPECT_TRUE(opener.Finish().ok());
  EXPECT_EQ(digest_in.Final(), digest_out.Final());
  EXPECT_EQ(sealer.Seal({}, true).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Streaming, OpenerRefusesOutOfOrderAndRepeats) {
  TransferKeys keys = RandomKeys();
  v1::EnvelopeHeader h = Header();
  h.set_size(30);
  ChunkSealer sealer = ChunkSealer::Create(keys, h, 10).value();
  std::string c0 = sealer.Seal(Bytes(10, 1), false).value();
  std::string c1 = sealer.Seal(Bytes(10, 2), false).value();
  std::string c2 = sealer.Seal(Bytes(10, 3), true).value();
  ChunkOpener opener = ChunkOpener::Create(keys, sealer.header_bytes()).value();
  absl::Status skip = opener.Open(1, AsBytes(c1)).status();
  EXPECT_EQ(skip.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(skip.message().find("expected"), absl::string_view::npos) << skip;
  ASSERT_TRUE(opener.Open(0, AsBytes(c0)).ok());
  EXPECT_EQ(opener.Open(0, AsBytes(c0)).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(opener.Open(1, AsBytes(c1)).ok());
  EXPECT_FALSE(opener.Finish().ok());
  ASSERT_TRUE(opener.Open(2, AsBytes(c2)).ok());
  EXPECT_TRUE(opener.Finish().ok());
  absl::Status extra = opener.Open(3, AsBytes(c2)).status();
  EXPECT_EQ(extra.code(), absl::StatusCode::kInvalidArgument);
}

TEST(Streaming, SealerRefusesInconsistentChunks) {
  TransferKeys keys = RandomKeys();
  v1::EnvelopeHeader h = Header();
  h.set_size(25);
  ChunkSealer sealer = ChunkSealer::Create(keys, h, 10).value();
  EXPECT_EQ(sealer.Seal(Bytes(10), true).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sealer.Seal(Bytes(9), false).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(sealer.Seal(Bytes(10), false).ok());
  ASSERT_TRUE(sealer.Seal(Bytes(10), false).ok());
  EXPECT_EQ(sealer.Seal(Bytes(4), true).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sealer.Seal(Bytes(5), false).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(sealer.Seal(Bytes(5), true).ok());
}

TEST(Streaming, CreateRefusesBadParameters) {
  TransferKeys keys = RandomKeys();
  EXPECT_EQ(ChunkSealer::Create(keys, Header(), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChunkSealer::Create(keys, Header(), kMaxChunkSize + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::EnvelopeHeader huge = Header();
  huge.set_size(uint64_t{1} << 40);
  EXPECT_EQ(ChunkSealer::Create(keys, huge, 1).status().code(), absl::StatusCode::kInvalidArgument);
  v1::EnvelopeHeader zero = Header();
  zero.set_version(1);
  zero.set_suite("SM4_CTR_HMAC_SM3");
  zero.set_chunks(0);
  EXPECT_EQ(ChunkOpener::Create(keys, zero.SerializeAsString()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Streaming, HugeDeclaredSizeDoesNotAllocate) {
  // A forged header claiming 2^60 bytes must be refused at the first tag, not
  // trusted for an allocation.
  TransferKeys keys = RandomKeys();
  v1::EnvelopeHeader h = Header();
  h.set_version(1);
  h.set_suite("SM4_CTR_HMAC_SM3");
  h.set_size(uint64_t{1} << 60);
  h.set_chunks(1);
  v1::Envelope env;
  env.set_header(h.SerializeAsString());
  env.add_sealed_chunks(std::string(64, 'x'));
  EXPECT_EQ(OpenEnvelope(keys, env).status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace beibu::envelope
