#include <gtest/gtest.h>

#include "beibu/audit/receipt.h"
#include "evidence_test_util.h"

namespace beibu::audit {
namespace {

using testing::SampleEntry;
using testing::Sm3Of;
using testing::Unwrap;

std::string Hex(std::string_view s) { return HexEncode(AsBytes(s)); }

TEST(NotarizationEntry, HasTheDocumentedBytes) {
  NotarizationEntry e = SampleEntry("abc", 1764250200123);
  Bytes encoded = Unwrap(EncodeNotarizationEntry(e));
  std::string want = std::string("42424e5a") +  // "BBNZ"
                     "01" +                     // version
                     "02" +                     // certificate_of_origin
                     "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0" +
                     "0000019ac581a83b" +                // 1764250200123 ms
                     "0010" + Hex("vn-coffee-export") +  // issuer
                     "02" +                              // 2 parties
                     "0010" + Hex("vn-coffee-export") + "000a" + Hex("sg-trading") + "0011" +
                     Hex("CO-VN-2025-000417");  // reference
  EXPECT_EQ(HexEncode(encoded), want);
  EXPECT_EQ(Unwrap(DecodeNotarizationEntry(encoded)), e);
  // Leaf hash: SM3(0x00 || entry).
  Bytes prefixed = {0x00};
  prefixed.insert(prefixed.end(), encoded.begin(), encoded.end());
  crypto::Sm3Digest d = crypto::Sm3::Hash(prefixed);
  EXPECT_EQ(EntryLeafHash(encoded), Bytes(d.begin(), d.end()));
}

TEST(NotarizationEntry, RoundTripsEdgeCases) {
  NotarizationEntry e = SampleEntry("doc", 0);
  e.parties.clear();
  e.reference.clear();
  e.document_type = DocumentType::kOther;
  EXPECT_EQ(Unwrap(DecodeNotarizationEntry(Unwrap(EncodeNotarizationEntry(e)))), e);
  e.parties.assign(kMaxParties, std::string(kMaxEntityIdBytes, 'p'));
  e.issuer = "\xE8\xB6\x8A\xE5\x8D\x97\xE5\x92\x96\xE5\x95\xA1";  // 越南咖啡
  e.reference = std::string(kMaxReferenceBytes, 'r');
  e.notarized_at_ms = kMaxTimestampMs;
  for (DocumentType t :
       {DocumentType::kEContract, DocumentType::kCertificateOfOrigin, DocumentType::kInvoice,
        DocumentType::kBillOfLading, DocumentType::kOther}) {
    e.document_type = t;
    EXPECT_EQ(Unwrap(DecodeNotarizationEntry(Unwrap(EncodeNotarizationEntry(e)))), e);
  }
}

TEST(NotarizationEntry, EncodeRefusesInvalidFields) {
  auto refused = [](void (*edit)(NotarizationEntry&)) {
    NotarizationEntry e = SampleEntry("abc", 1);
    edit(e);
    absl::StatusOr<Bytes> r = EncodeNotarizationEntry(e);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  };
  refused([](NotarizationEntry& e) { e.document_digest.pop_back(); });
  refused([](NotarizationEntry& e) { e.document_digest.clear(); });
  refused([](NotarizationEntry& e) { e.document_type = static_cast<DocumentType>(0); });
  refused([](NotarizationEntry& e) { e.document_type = static_cast<DocumentType>(6); });
  refused([](NotarizationEntry& e) { e.issuer.clear(); });
  refused([](NotarizationEntry& e) { e.issuer = std::string(kMaxEntityIdBytes + 1, 'i'); });
  refused([](NotarizationEntry& e) { e.issuer = "acme\nevil"; });
  refused([](NotarizationEntry& e) { e.parties.push_back(""); });
  refused([](NotarizationEntry& e) { e.parties.push_back("bad\xFF"); });
  refused([](NotarizationEntry& e) { e.parties.assign(kMaxParties + 1, "p"); });
  refused([](NotarizationEntry& e) { e.reference = std::string(kMaxReferenceBytes + 1, 'r'); });
  refused([](NotarizationEntry& e) { e.reference = "tab\there"; });
  refused([](NotarizationEntry& e) { e.notarized_at_ms = kMaxTimestampMs + 1; });
}

TEST(NotarizationEntry, DecodeIsStrict) {
  const Bytes good = Unwrap(EncodeNotarizationEntry(SampleEntry("abc", 1764250200123)));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeNotarizationEntry(ByteView(good.data(), n)).ok()) << "truncated to " << n;
  }
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeNotarizationEntry(trailing).ok());
  auto edited = [&](size_t offset, uint8_t value) {
    Bytes b = good;
    b[offset] = value;
    return DecodeNotarizationEntry(b).ok();
  };
  EXPECT_FALSE(edited(0, 'X'));    // magic
  EXPECT_FALSE(edited(4, 3));      // version
  EXPECT_FALSE(edited(4, 0));      // version
  EXPECT_FALSE(edited(5, 0));      // type
  EXPECT_FALSE(edited(5, 6));      // type
  EXPECT_FALSE(edited(38, 0xFF));  // timestamp beyond year 9999
  EXPECT_FALSE(edited(46, 1));     // issuer length 0x0110: runs past the end
  EXPECT_FALSE(edited(48, 0x01));  // control character in the issuer
  // An audit event or any other entry is not a notarization.
  EXPECT_FALSE(DecodeNotarizationEntry(AsBytes("{\"event\":\"transfer\"}")).ok());
}

TEST(NotarizationEntry, Version2CarriesTheEnterpriseSignature) {
  NotarizationEntry e = SampleEntry("abc", 1764250200123);
  const Bytes v1 = Unwrap(EncodeNotarizationEntry(e));
  e.enterprise_signature = Bytes(71, 0x30);
  e.enterprise_certificate = Bytes(300, 0xAB);
  const Bytes v2 = Unwrap(EncodeNotarizationEntry(e));
  // Version 2: the version 1 fields, then BE16-prefixed signature and certificate.
  Bytes want = v1;
  want[4] = 2;
  Bytes tail = {0x00, 71};
  tail.insert(tail.end(), 71, 0x30);
  tail.insert(tail.end(), {0x01, 0x2c});
  tail.insert(tail.end(), 300, 0xAB);
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(HexEncode(v2), HexEncode(want));
  EXPECT_EQ(Unwrap(DecodeNotarizationEntry(v2)), e);
  for (size_t n = v1.size(); n < v2.size(); ++n) {
    EXPECT_FALSE(DecodeNotarizationEntry(ByteView(v2.data(), n)).ok()) << "truncated to " << n;
  }
  Bytes trailing = v2;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeNotarizationEntry(trailing).ok());
  // A version 1 entry is version 1 bytes: version 2 without the tail fails.
  Bytes relabelled = v1;
  relabelled[4] = 2;
  EXPECT_FALSE(DecodeNotarizationEntry(relabelled).ok());
  // Empty fields in a version 2 entry are refused.
  Bytes empty_sig = v1;
  empty_sig[4] = 2;
  empty_sig.insert(empty_sig.end(), {0x00, 0x00, 0x00, 0x01, 0xAB});
  EXPECT_FALSE(DecodeNotarizationEntry(empty_sig).ok());
  // Both or neither; bounded.
  NotarizationEntry half = e;
  half.enterprise_certificate.clear();
  EXPECT_EQ(EncodeNotarizationEntry(half).status().code(), absl::StatusCode::kInvalidArgument);
  half = e;
  half.enterprise_signature.clear();
  EXPECT_EQ(EncodeNotarizationEntry(half).status().code(), absl::StatusCode::kInvalidArgument);
  NotarizationEntry big = e;
  big.enterprise_signature.assign(kMaxEnterpriseSignatureBytes + 1, 1);
  EXPECT_EQ(EncodeNotarizationEntry(big).status().code(), absl::StatusCode::kInvalidArgument);
  big = e;
  big.enterprise_certificate.assign(kMaxEnterpriseCertificateBytes + 1, 1);
  EXPECT_EQ(EncodeNotarizationEntry(big).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NotarizationEntry, DocumentTypeNames) {
  EXPECT_EQ(DocumentTypeName(DocumentType::kEContract), "e_contract");
  EXPECT_EQ(DocumentTypeName(DocumentType::kCertificateOfOrigin), "certificate_of_origin");
  EXPECT_EQ(DocumentTypeName(DocumentType::kInvoice), "invoice");
  EXPECT_EQ(DocumentTypeName(DocumentType::kBillOfLading), "bill_of_lading");
  EXPECT_EQ(DocumentTypeName(DocumentType::kOther), "other");
  for (std::string_view n :
       {"e_contract", "certificate_of_origin", "invoice", "bill_of_lading", "other"}) {
    EXPECT_EQ(DocumentTypeName(*ParseDocumentType(n)), n);
  }
  EXPECT_FALSE(ParseDocumentType("Invoice").has_value());
  EXPECT_FALSE(ParseDocumentType("").has_value());
}

TEST(Timestamps, FormatAsRfc3339Utc) {
  EXPECT_EQ(FormatTimestampMs(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestampMs(1764250200123), "2025-11-27T13:30:00.123Z");
  EXPECT_EQ(FormatTimestampMs(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatTimestampMs(1735689599999), "2024-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatTimestampMs(kMaxTimestampMs), "9999-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace beibu::audit
