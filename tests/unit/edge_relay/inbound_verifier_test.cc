// The destination's checks of relayed slices: everything a hub could alter,
// reorder, drop or misroute is refused, each with its own error.
#include "exchange/inbound_verifier.h"

#include <gtest/gtest.h>

#include <set>

#include "beibu/crypto/random.h"
#include "beibu/envelope/seal.h"

namespace beibu::edge {
namespace {

constexpr size_t kChunk = 1024;

class InboundVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_.enc_key = crypto::RandomBytes(envelope::kTransferEncKeySize);
    keys_.mac_key = crypto::RandomBytes(envelope::kTransferMacKeySize);
    v1::EnvelopeHeader h;
    h.set_transfer_id("t-slices");
    h.set_from_edge("edge-vn");
    h.set_to_edge("edge-cn");
    h.set_from_country("VN");
    h.set_to_country("CN");
    h.set_category("logistics.track");
    h.set_sender_key_id("s");
    h.set_recipient_key_id("r");
    // 5 chunks (4 full, 1 short), in slices [0,1] [2,3] [4].
    slices_ = Seal(h, 4 * kChunk + 100, {2, 2, 1});
  }

  std::vector<v1::Envelope> Seal(v1::EnvelopeHeader h, size_t size, std::vector<int> per_slice) {
    h.set_size(size);
    absl::StatusOr<envelope::ChunkSealer> sealer = envelope::ChunkSealer::Create(keys_, h, kChunk);
    EXPECT_TRUE(sealer.ok()) << sealer.status();
    Bytes payload = crypto::RandomBytes(size);
    std::vector<v1::Envelope> out;
    uint32_t index = 0;
    size_t offset = 0;
    const uint32_t chunks = sealer->header().chunks();
    for (int n : per_slice) {
      v1::Envelope env;
      env.set_header(sealer->header_bytes());
      env.set_first_chunk(index);
      env.set_relay_sequence(out.size() + 1);
      for (int i = 0; i < n; ++i, ++index) {
        const size_t len = std::min(kChunk, size - offset);
        absl::StatusOr<std::string> sealed =
            sealer->Seal(ByteView(payload).subspan(offset, len), index + 1 == chunks);
        EXPECT_TRUE(sealed.ok()) << sealed.status();
        offset += len;
        env.add_sealed_chunks(*sealed);
      }
      out.push_back(std::move(env));
    }
    EXPECT_TRUE(sealer->finished());
    return out;
  }

  // Verifies `slices` in order as the relay link does; the first error, or
  // the final position.
  absl::StatusOr<SliceCheck> Run(const std::vector<v1::Envelope>& slices) {
    SlicePosition at;
    SliceCheck last;
    for (const v1::Envelope& env : slices) {
      absl::StatusOr<v1::EnvelopeHeader> h = ParseSliceHeader(env, "edge-cn");
      if (!h.ok()) return h.status();
      absl::StatusOr<SliceCheck> c = VerifySlice(keys_, env, at);
      if (!c.ok()) return c.status();
      at = c->next;
      last = *c;
    }
    return last;
  }

  static void ExpectRefused(const absl::StatusOr<SliceCheck>& r, absl::StatusCode code,
                            const std::string& words, std::set<std::string>& seen) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(words), absl::string_view::npos) << r.status();
    seen.insert(std::string(r.status().message()));
  }

  envelope::TransferKeys keys_;
  std::vector<v1::Envelope> slices_;
};

TEST_F(InboundVerifierTest, AGoodMultiSliceTransferPassesAndCompletes) {
  SlicePosition at;
  for (size_t i = 0; i < slices_.size(); ++i) {
    ASSERT_TRUE(ParseSliceHeader(slices_[i], "edge-cn").ok());
    absl::StatusOr<SliceCheck> c = VerifySlice(keys_, slices_[i], at);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_FALSE(c->duplicate);
    EXPECT_EQ(c->completes, i + 1 == slices_.size());
    at = c->next;
  }
  EXPECT_EQ(at, (SlicePosition{5, 4 * kChunk + 100}));
}

TEST_F(InboundVerifierTest, ResumesFromAStoredPositionAndSkipsResentSlices) {
  // Chunks 0..1 stored before a restart.
  absl::StatusOr<SliceCheck> c = VerifySlice(keys_, slices_[1], {2, 2 * kChunk});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->next, (SlicePosition{4, 4 * kChunk}));
  // The hub resends slice 0 (its acknowledgement was lost): a duplicate.
  absl::StatusOr<SliceCheck> dup = VerifySlice(keys_, slices_[0], c->next);
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->next, c->next);
}

TEST_F(InboundVerifierTest, EveryTamperingIsRefusedWithItsOwnError) {
  std::set<std::string> seen;

  {  // A flipped ciphertext byte.
    auto s = slices_;
    std::string* chunk = s[1].mutable_sealed_chunks(0);
    (*chunk)[10] ^= 0x01;
    ExpectRefused(Run(s), absl::StatusCode::kUnauthenticated, "chunk 2", seen);
  }
  {  // A flipped header byte (the category), still a valid header.
    auto s = slices_;
    std::string* header = s[0].mutable_header();
    size_t at = header->find("logistics");
    ASSERT_NE(at, std::string::npos);
    (*header)[at] ^= 0x01;
    ASSERT_TRUE(ParseSliceHeader(s[0], "edge-cn").ok());
    ExpectRefused(Run(s), absl::StatusCode::kUnauthenticated, "chunk 0", seen);
  }
  {  // Slices reordered: the second arrives first.
    ExpectRefused(Run({slices_[1], slices_[0], slices_[2]}), absl::StatusCode::kOutOfRange,
                  "starts at chunk 2 but chunk 0 is the next expected", seen);
  }
  {  // The middle slice dropped.
    ExpectRefused(Run({slices_[0], slices_[2]}), absl::StatusCode::kOutOfRange,
                  "starts at chunk 4 but chunk 2 is the next expected", seen);
  }
  {  // Two chunks swapped inside a slice: each tag binds its index.
    auto s = slices_;
    s[0].mutable_sealed_chunks()->SwapElements(0, 1);
    std::set<std::string> same_as_header;  // also "chunk 0 fails": not counted below
    ExpectRefused(Run(s), absl::StatusCode::kUnauthenticated, "chunk 0", same_as_header);
  }
  {  // The last chunk cut short.
    auto s = slices_;
    s[2].mutable_sealed_chunks(0)->resize(20);
    ExpectRefused(Run(s), absl::StatusCode::kInvalidArgument, "shorter than its 32-byte tag", seen);
  }
  {  // A header of another edge, relayed here.
    v1::EnvelopeHeader h;
    ASSERT_TRUE(h.ParseFromString(slices_[0].header()));
    h.set_to_edge("edge-sg");
    absl::StatusOr<v1::EnvelopeHeader> r = ParseSliceHeader(Seal(h, 10, {1})[0], "edge-cn");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
    EXPECT_NE(r.status().message().find("addressed to edge 'edge-sg'"), absl::string_view::npos);
    seen.insert(std::string(r.status().message()));
  }
  {  // A slice claiming chunks beyond the header's count.
    auto s = slices_;
    s[1].add_sealed_chunks(s[2].sealed_chunks(0));
    s[1].add_sealed_chunks(s[2].sealed_chunks(0));
    ExpectRefused(Run({s[0], s[1]}), absl::StatusCode::kInvalidArgument,
                  "runs past the header's 5 chunks", seen);
  }
  {  // Not a slice at all: a header that does not parse.
    auto s = slices_;
    s[0].set_header("\xff\xff\xff");
    ExpectRefused(Run(s), absl::StatusCode::kInvalidArgument, "does not parse", seen);
  }
  EXPECT_EQ(seen.size(), 8u) << "two refusals share one message";
}

// The format cannot tell a truncated final slice from one followed by more:
// what the destination guarantees is that the delivery never completes, so
// the recipient never sees it and the source never gets NOTICE_DELIVERED.
TEST_F(InboundVerifierTest, ATruncatedTransferNeverCompletes) {
  absl::StatusOr<SliceCheck> without_last = Run({slices_[0], slices_[1]});
  ASSERT_TRUE(without_last.ok()) << without_last.status();
  EXPECT_FALSE(without_last->completes);

  v1::EnvelopeHeader h;
  ASSERT_TRUE(h.ParseFromString(slices_[0].header()));
  std::vector<v1::Envelope> whole = Seal(h, 3 * kChunk, {3});
  whole[0].mutable_sealed_chunks()->RemoveLast();
  absl::StatusOr<SliceCheck> cut = Run(whole);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_FALSE(cut->completes);
  EXPECT_EQ(cut->next.next_chunk, 2u);
}

TEST_F(InboundVerifierTest, ANoticeOrAnEmptySliceIsNotVerifiedAsASlice) {
  v1::Envelope notice;
  notice.mutable_notice()->set_transfer_id("t-slices");
  EXPECT_EQ(ParseSliceHeader(notice, "edge-cn").status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Envelope empty = slices_[0];
  empty.clear_sealed_chunks();
  absl::StatusOr<SliceCheck> c = VerifySlice(keys_, empty, {});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
}

}  // namespace
}  // namespace beibu::edge
