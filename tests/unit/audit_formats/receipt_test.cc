#include "beibu/audit/receipt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "evidence_test_util.h"

namespace beibu::audit {
namespace {

using nlohmann::json;
using testing::BuildReceipt;
using testing::BuiltReceipt;
using testing::Contains;
using testing::MemoryLog;
using testing::NowMs;
using testing::TestPki;
using testing::Unwrap;

constexpr std::string_view kDocument = "Certificate of origin CO-VN-2025-000417: 20 t coffee\n";

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  size_t pos = s.find(std::string(from));
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), std::string(to));
  return s;
}

class ReceiptTest : public ::testing::Test {
 protected:
  absl::StatusOr<VerifiedReceipt> Verify(const Receipt& r,
                                         std::optional<std::string_view> doc = kDocument,
                                         ReceiptVerifyOptions options = {}) {
    std::optional<ByteView> bytes;
    if (doc) bytes = AsBytes(*doc);
    return VerifyReceiptOffline(r, pki_.bundle, bytes, pki::Clock::now(), options);
  }
  // Formats, parses and verifies: what `beibu verify RECEIPT FILE` does.
  absl::Status VerifyJson(const std::string& text) {
    absl::StatusOr<Receipt> r = ParseReceipt(text);
    if (!r.ok()) return r.status();
    return Verify(*r).status();
  }

  TestPki pki_ = TestPki::Make();
};

TEST_F(ReceiptTest, EndToEndReceiptVerifiesOffline) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 5, 13);
  std::string text = Unwrap(FormatReceipt(b.receipt));
  Receipt parsed = Unwrap(ParseReceipt(text));
  EXPECT_EQ(parsed, b.receipt);
  EXPECT_EQ(Unwrap(FormatReceipt(parsed)), text);

  VerifiedReceipt v = Unwrap(Verify(parsed));
  EXPECT_EQ(v.node.id, "edge-vn");
  EXPECT_EQ(v.node.country, "VN");
  ASSERT_TRUE(v.hub.has_value());
  EXPECT_EQ(v.hub->id, "hub");
  EXPECT_EQ(v.checkpoint, b.checkpoint);
  EXPECT_EQ(v.entry.issuer, "vn-coffee-export");
  EXPECT_EQ(v.entry.document_type, DocumentType::kCertificateOfOrigin);
  // Without the document, the receipt alone verifies too.
  EXPECT_TRUE(Verify(parsed, std::nullopt).ok());
}

TEST_F(ReceiptTest, EveryPositionInSmallLogsVerifies) {
  for (uint64_t size = 1; size <= 9; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      BuiltReceipt b = BuildReceipt(pki_, kDocument, index, size);
      EXPECT_TRUE(VerifyJson(Unwrap(FormatReceipt(b.receipt))).ok()) << index << "/" << size;
    }
  }
}

TEST_F(ReceiptTest, AlteredDocumentIsRefused) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 2, 4);
  absl::Status s =
      Verify(b.receipt, "Certificate of origin CO-VN-2025-000417: 200 t coffee\n").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(s, "document does not match the receipt")) << s;
  EXPECT_FALSE(Verify(b.receipt, "").ok());
}

TEST_F(ReceiptTest, UnanchoredReceiptIsReportedAsSuch) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 0, 3, /*anchored=*/false);
  absl::StatusOr<VerifiedReceipt> v = Verify(b.receipt);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(v.status(), "not yet anchored")) << v.status();
  EXPECT_TRUE(Contains(v.status(), "no cosignature by hub hub")) << v.status();

  ReceiptVerifyOptions lenient;
  lenient.require_anchor = false;
  v = Verify(b.receipt, kDocument, lenient);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->hub.has_value());

  // No hub certificate at all: also just not anchored.
  b.receipt.hub_certificates.clear();
  v = Verify(b.receipt);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(v.status(), "no hub certificate")) << v.status();
  // Other problems still come first.
  EXPECT_EQ(Verify(b.receipt, "other document").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ReceiptTest, InvalidHubCosignatureIsNotMistakenForMissing) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 1, 3);
  SignedNote note = Unwrap(ParseSignedNote(b.receipt.checkpoint));
  ASSERT_EQ(note.signatures.size(), 2u);
  // The hub's line replaced by the hub's signature over some other text.
  note.signatures[1].signature = Unwrap(pki_.hub.key.Sign(AsBytes("other text\n")));
  b.receipt.checkpoint = FormatSignedNote(note);
  absl::Status s = Verify(b.receipt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "hub cosignature invalid")) << s;

  // A line named "hub" made with another key.
  note.signatures[1] = Unwrap(SignNote(note.body, testing::NewKey(), "hub"));
  b.receipt.checkpoint = FormatSignedNote(note);
  s = Verify(b.receipt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "hub cosignature invalid")) << s;
  EXPECT_TRUE(Contains(s, "another key")) << s;
}

// Every field of a receipt, altered in the JSON file, is refused with a
// reason naming what failed.
TEST_F(ReceiptTest, AlteredReceiptIsRefusedWithAReason) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 6, 11);
  const std::string text = Unwrap(FormatReceipt(b.receipt));
  ASSERT_TRUE(VerifyJson(text).ok());
  const json original = json::parse(text);
  const std::string note = original["checkpoint"];
  SignedNote parsed_note = Unwrap(ParseSignedNote(note));
  const std::string body = parsed_note.body;

  TestPki stranger = TestPki::Make();  // another CA: untrusted
  // Certificates issued below must already be valid at the checkpoint's time
  // (receipts are verified as of then): without backdating, a second that
  // ticks over between the checkpoint and the issuance makes them "not yet
  // valid" and the case fails for the wrong reason.
  pki::IssueOptions earlier;
  earlier.not_before = pki::Clock::now() - std::chrono::hours(1);
  NotarizationEntry other_entry = Unwrap(DecodeNotarizationEntry(b.receipt.entry));
  other_entry.reference = "CO-VN-2025-000418";
  Bytes other_encoded = Unwrap(EncodeNotarizationEntry(other_entry));

  struct Case {
    std::string name;
    std::function<void(json&)> edit;
    absl::StatusCode code;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"index + 1", [](json& j) { j["index"] = j["index"].get<uint64_t>() + 1; },
       absl::StatusCode::kDataLoss, "entry not in the log"},
      {"index - 1", [](json& j) { j["index"] = j["index"].get<uint64_t>() - 1; },
       absl::StatusCode::kDataLoss, "entry not in the log"},
      {"index past the tree", [](json& j) { j["index"] = 11; }, absl::StatusCode::kDataLoss,
       "outside the checkpoint's tree of size 11"},
      {"proof element flipped",
       [](json& j) {
         std::string h = j["inclusion_proof"][1];
         h[7] = h[7] == '0' ? '1' : '0';
         j["inclusion_proof"][1] = h;
       },
       absl::StatusCode::kDataLoss, "entry not in the log"},
      {"proof element removed", [](json& j) { j["inclusion_proof"].erase(0); },
       absl::StatusCode::kDataLoss, "entry not in the log"},
      {"proof element added", [](json& j) { j["inclusion_proof"].push_back(std::string(64, 'a')); },
       absl::StatusCode::kDataLoss, "entry not in the log"},
      {"proof elements swapped",
       [](json& j) { std::swap(j["inclusion_proof"][0], j["inclusion_proof"][1]); },
       absl::StatusCode::kDataLoss, "entry not in the log"},
      {"entry re-encoded consistently",
       [&](json& j) {
         j["entry"]["encoded"] = Base64Encode(other_encoded);
         j["entry"]["reference"] = other_entry.reference;
       },
       absl::StatusCode::kDataLoss, "entry not in the log"},
      {"entry metadata only", [](json& j) { j["entry"]["issuer"] = "someone-else"; },
       absl::StatusCode::kInvalidArgument, "\"issuer\" does not match the encoded entry"},
      {"entry digest only", [](json& j) { j["entry"]["document_digest"] = std::string(64, '0'); },
       absl::StatusCode::kInvalidArgument, "\"document_digest\" does not match"},
      {"entry bytes only", [&](json& j) { j["entry"]["encoded"] = Base64Encode(other_encoded); },
       absl::StatusCode::kInvalidArgument, "\"reference\" does not match"},
      {"checkpoint size", [&](json& j) { j["checkpoint"] = Replace(note, "\n11\n", "\n12\n"); },
       absl::StatusCode::kUnauthenticated, "checkpoint signature by node edge-vn"},
      {"checkpoint root",
       [&](json& j) {
         std::string root_line = body.substr(body.find("\n11\n") + 4, 44);
         std::string other = root_line;
         other[0] = other[0] == 'A' ? 'B' : 'A';
         j["checkpoint"] = Replace(note, root_line, other);
       },
       absl::StatusCode::kUnauthenticated, "checkpoint signature by node edge-vn"},
      {"checkpoint timestamp",
       [&](json& j) {
         std::string ts = std::to_string(b.checkpoint.timestamp_ms);
         j["checkpoint"] = Replace(note, ts, std::to_string(b.checkpoint.timestamp_ms - 1));
       },
       absl::StatusCode::kUnauthenticated, "checkpoint signature by node edge-vn"},
      {"node signature removed",
       [&](json& j) {
         SignedNote n = parsed_note;
         n.signatures.erase(n.signatures.begin());
         j["checkpoint"] = FormatSignedNote(n);
       },
       absl::StatusCode::kUnauthenticated, "no signature by edge-vn"},
      {"hub cosignature removed",
       [&](json& j) {
         SignedNote n = parsed_note;
         n.signatures.pop_back();
         j["checkpoint"] = FormatSignedNote(n);
       },
       absl::StatusCode::kFailedPrecondition, "not yet anchored"},
      {"checkpoint not a note", [](json& j) { j["checkpoint"] = "beibu/edge-vn\n11\n"; },
       absl::StatusCode::kInvalidArgument, "receipt: signed note"},
      {"node certificate from an untrusted CA",
       [&](json& j) { j["certificates"]["node"] = stranger.edge.cert.ToPem(); },
       absl::StatusCode::kUnauthenticated, "node certificate not trusted: "},
      {"node certificate of another edge",
       [&](json& j) {
         j["certificates"]["node"] =
             TestPki::Issue(pki_.ca, "edge-sg", pki::Role::kEdge, "SG", earlier).cert.ToPem();
       },
       absl::StatusCode::kUnauthenticated, "checkpoint is not from node edge-sg's log"},
      {"node certificate of the same name, other key",
       [&](json& j) {
         j["certificates"]["node"] =
             TestPki::Issue(pki_.ca, "edge-vn", pki::Role::kEdge, "VN", earlier).cert.ToPem();
       },
       absl::StatusCode::kUnauthenticated, "another key"},
      {"node certificate of an enterprise",
       [&](json& j) {
         j["certificates"]["node"] =
             TestPki::Issue(pki_.ca, "edge-vn", pki::Role::kEnterprise, "VN", earlier).cert.ToPem();
       },
       absl::StatusCode::kPermissionDenied, "node certificate not trusted: role enterprise"},
      {"node certificate garbage", [](json& j) { j["certificates"]["node"] = "hello"; },
       absl::StatusCode::kInvalidArgument, "node certificates"},
      {"hub certificate of an edge",
       [&](json& j) { j["certificates"]["hub"] = pki_.edge.cert.ToPem(); },
       absl::StatusCode::kPermissionDenied, "hub certificate not trusted: role edge"},
      {"hub certificate from an untrusted CA",
       [&](json& j) { j["certificates"]["hub"] = stranger.hub.cert.ToPem(); },
       absl::StatusCode::kUnauthenticated, "hub certificate not trusted"},
      {"hub certificate removed", [](json& j) { j["certificates"].erase("hub"); },
       absl::StatusCode::kFailedPrecondition, "not yet anchored"},
      {"version", [](json& j) { j["version"] = 2; }, absl::StatusCode::kInvalidArgument,
       "unsupported version 2"},
      {"type", [](json& j) { j["type"] = "beibu.proof"; }, absl::StatusCode::kInvalidArgument,
       "\"type\""},
  };
  for (const Case& c : cases) {
    json j = original;
    c.edit(j);
    absl::Status s = VerifyJson(j.dump(2));
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s;
    EXPECT_TRUE(Contains(s, c.reason)) << c.name << ": " << s;
  }
}

TEST_F(ReceiptTest, CheckpointOfAnotherOriginIsRefused) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 0, 2);
  Checkpoint cp = b.checkpoint;
  cp.origin = "beibu/edge-sg";  // the edge signing for a log that is not its own
  b.receipt.checkpoint = Unwrap(SignCheckpoint(cp, pki_.edge.key, pki_.edge.id));
  absl::Status s = Verify(b.receipt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "checkpoint is not from node edge-vn's log")) << s;
}

TEST_F(ReceiptTest, CheckpointFromTheFutureIsRefused) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 0, 2);
  absl::Status s = VerifyReceiptOffline(b.receipt, pki_.bundle, std::nullopt,
                                        pki::Clock::now() - std::chrono::hours(1))
                       .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "dated in the future")) << s;
}

TEST_F(ReceiptTest, EvidenceOutlivesTheCertificates) {
  // Certificates valid for an hour; the receipt is checked two years later.
  pki::IssueOptions hour;
  hour.validity = std::chrono::hours(1);
  auto issue = [&](std::string id, pki::Role role) {
    crypto::Sm2PrivateKey key = testing::NewKey();
    pki::Identity identity{.id = id, .role = role, .country = "VN"};
    pki::Certificate cert = Unwrap(pki_.ca.Issue(key.PublicKey(), identity, hour));
    return testing::Party{std::move(key), std::move(cert), id};
  };
  pki_.edge = issue("edge-vn", pki::Role::kEdge);
  pki_.hub = issue("hub", pki::Role::kHub);
  pki_.enterprise = issue("vn-coffee-export", pki::Role::kEnterprise);
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 3, 5);
  const auto later = pki::Clock::now() + std::chrono::hours(24 * 730);
  EXPECT_TRUE(VerifyReceiptOffline(b.receipt, pki_.bundle, AsBytes(kDocument), later).ok());
  ReceiptVerifyOptions strict;
  strict.certificates_at_now = true;
  absl::Status s =
      VerifyReceiptOffline(b.receipt, pki_.bundle, AsBytes(kDocument), later, strict).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(s, "node certificate not trusted: certificate expired")) << s;
}

TEST_F(ReceiptTest, RevokedNodeCertificateIsRefused) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 0, 1);
  pki::RevocationList crl =
      Unwrap(pki_.ca.IssueCrl({{pki_.edge.cert.SerialHex(), pki::Clock::now()}}, 1));
  ASSERT_TRUE(pki_.bundle.AddCrl(crl).ok());
  absl::Status s = Verify(b.receipt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(s, "revoked")) << s;
}

TEST_F(ReceiptTest, ParseIsStrict) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 1, 2);
  const std::string text = Unwrap(FormatReceipt(b.receipt));
  const json original = json::parse(text);
  std::vector<std::pair<std::string, std::function<void(json&)>>> edits = {
      {"unknown key", [](json& j) { j["extra"] = 1; }},
      {"unknown entry key", [](json& j) { j["entry"]["extra"] = 1; }},
      {"unknown certificates key", [](json& j) { j["certificates"]["extra"] = "x"; }},
      {"missing index", [](json& j) { j.erase("index"); }},
      {"missing entry field", [](json& j) { j["entry"].erase("reference"); }},
      {"missing node certificates", [](json& j) { j["certificates"].erase("node"); }},
      {"negative index", [](json& j) { j["index"] = -1; }},
      {"float index", [](json& j) { j["index"] = 1.0; }},
      {"string index", [](json& j) { j["index"] = "1"; }},
      {"version as string", [](json& j) { j["version"] = "1"; }},
      {"uppercase proof hex",
       [](json& j) {
         std::string h = j["inclusion_proof"][0];
         for (char& c : h) c = static_cast<char>(std::toupper(c));
         j["inclusion_proof"][0] = h;
       }},
      {"short proof hash", [](json& j) { j["inclusion_proof"][0] = std::string(62, 'a'); }},
      {"proof not an array", [](json& j) { j["inclusion_proof"] = "aa"; }},
      {"proof of numbers", [](json& j) { j["inclusion_proof"] = json::array({1}); }},
      {"proof too long",
       [](json& j) {
         for (int i = 0; i < 65; ++i) j["inclusion_proof"].push_back(std::string(64, 'a'));
       }},
      {"parties not an array", [](json& j) { j["entry"]["parties"] = "vn-coffee-export"; }},
      {"parties reordered",
       [](json& j) { std::swap(j["entry"]["parties"][0], j["entry"]["parties"][1]); }},
      {"document type unknown", [](json& j) { j["entry"]["document_type"] = "poem"; }},
      {"notarized_at other format",
       [](json& j) {
         std::string t = j["entry"]["notarized_at"];
         j["entry"]["notarized_at"] = t.substr(0, 19) + "Z";
       }},
      {"encoded not base64", [](json& j) { j["entry"]["encoded"] = "@@@@"; }},
      {"encoded not an entry", [](json& j) { j["entry"]["encoded"] = "QUJDRA=="; }},
      {"empty hub", [](json& j) { j["certificates"]["hub"] = ""; }},
      {"hub not a string", [](json& j) { j["certificates"]["hub"] = json::array(); }},
      {"node with control characters",
       [](json& j) { j["certificates"]["node"] = std::string("\x01", 1); }},
      {"certificates not an object", [](json& j) { j["certificates"] = "pem"; }},
      {"entry not an object", [](json& j) { j["entry"] = json::array(); }},
      {"not an object",
       [](json& j) {
         j = json::array({1, 2});
       }},
      {"checkpoint with a bad signature line",
       [](json& j) { j["checkpoint"] = j["checkpoint"].get<std::string>() + "- x y\n"; }},
  };
  for (const auto& [name, edit] : edits) {
    json j = original;
    edit(j);
    absl::StatusOr<Receipt> r = ParseReceipt(j.dump());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(Contains(r.status(), "receipt: ")) << name << ": " << r.status();
  }
  std::vector<std::string> raw = {
      "",
      "{",
      "null",
      "[]",
      text.substr(0, text.size() / 2),
      text + "x",
      Replace(text, "\"index\": 1,", "\"index\": 1, \"index\": 1,"),  // duplicate key
      Replace(text, "\"version\": 1", "\"version\": 1 /* c */"),      // comment
      Replace(text, "\"index\": 1,", "\"index\": 01,"),               // leading zero
      Replace(text, "\"parties\": [", "\"parties\": [[[[[]]]],"),     // too deep
      std::string(2000, '[') + std::string(2000, ']'),
      std::string(kMaxReceiptBytes + 1, ' '),
      Replace(text, "\"type\": \"beibu.receipt\"", "\"type\": \"beibu.receipt\xFF\""),
  };
  for (const std::string& t : raw) {
    absl::StatusOr<Receipt> r = ParseReceipt(t);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << t.substr(0, 80);
  }
  // Whitespace and key order are free; escapes decode.
  json reordered = json::object();
  for (auto it = original.rbegin(); it != original.rend(); ++it) reordered[it.key()] = *it;
  EXPECT_EQ(Unwrap(ParseReceipt(reordered.dump())), b.receipt);
  EXPECT_EQ(Unwrap(ParseReceipt(original.dump(-1, ' ', /*ensure_ascii=*/true))), b.receipt);
}

TEST(NotarizationRequest, SignsAndVerifies) {
  TestPki pki = TestPki::Make();
  NotarizationEntry e = testing::SampleEntry(kDocument, 1764250200123);
  Bytes request = Unwrap(NotarizationRequestBytes(e));
  const std::string want =
      HexEncode(AsBytes("BBNZ-REQ")) + "01" + "02" + HexEncode(e.document_digest) + "0010" +
      HexEncode(AsBytes("vn-coffee-export")) + "02" + "0010" +
      HexEncode(AsBytes("vn-coffee-export")) + "000a" + HexEncode(AsBytes("sg-trading")) + "0011" +
      HexEncode(AsBytes("CO-VN-2025-000417"));
  EXPECT_EQ(HexEncode(request), want);
  EXPECT_EQ(request.size(), 110u);  // docs/evidence.md §2.1
  // The node's timestamp is not part of what the enterprise signs.
  NotarizationEntry later = e;
  later.notarized_at_ms += 5000;
  EXPECT_EQ(Unwrap(NotarizationRequestBytes(later)), request);

  Bytes sig = Unwrap(SignNotarizationRequest(e, pki.enterprise.key));
  EXPECT_TRUE(VerifyNotarizationRequest(later, sig, pki.enterprise.key.PublicKey()).ok());
  // The same signature as a plain SM2 signature over the request bytes.
  EXPECT_TRUE(pki.enterprise.key.PublicKey().Verify(request, sig).ok());
  EXPECT_EQ(VerifyNotarizationRequest(e, sig, pki.edge.key.PublicKey()).code(),
            absl::StatusCode::kUnauthenticated);
  for (auto edit : std::vector<std::function<void(NotarizationEntry&)>>{
           [](NotarizationEntry& x) { x.document_digest[0] ^= 1; },
           [](NotarizationEntry& x) { x.document_type = DocumentType::kInvoice; },
           [](NotarizationEntry& x) { x.issuer = "sg-trading"; },
           [](NotarizationEntry& x) { x.parties.pop_back(); },
           [](NotarizationEntry& x) { x.reference = "CO-VN-2025-000418"; }}) {
    NotarizationEntry x = e;
    edit(x);
    EXPECT_EQ(VerifyNotarizationRequest(x, sig, pki.enterprise.key.PublicKey()).code(),
              absl::StatusCode::kUnauthenticated);
  }
  NotarizationEntry bad = e;
  bad.document_digest.pop_back();
  EXPECT_EQ(NotarizationRequestBytes(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReceiptTest, ReceiptCarriesTheEnterprise) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 2, 4);
  VerifiedReceipt v = Unwrap(Verify(b.receipt));
  EXPECT_EQ(v.enterprise.id, "vn-coffee-export");
  EXPECT_EQ(v.enterprise.role, pki::Role::kEnterprise);
  NotarizationEntry e = Unwrap(DecodeNotarizationEntry(b.receipt.entry));
  EXPECT_EQ(e.enterprise_certificate, pki_.enterprise.cert.ToDer());
  EXPECT_TRUE(VerifyJson(Unwrap(FormatReceipt(b.receipt))).ok());
}

TEST_F(ReceiptTest, EnterpriseSignatureIsChecked) {
  TestPki stranger = TestPki::Make();  // another CA: untrusted
  // Certificates issued below must already be valid at the checkpoint's time
  // (receipts are verified as of then): without backdating, a second that
  // ticks over between the checkpoint and the issuance makes them "not yet
  // valid" and the case fails for the wrong reason.
  pki::IssueOptions earlier;
  earlier.not_before = pki::Clock::now() - std::chrono::hours(1);
  testing::Party other_cn = TestPki::Issue(pki_.ca, "sg-trading", pki::Role::kEnterprise, "SG");
  testing::Party not_enterprise =
      TestPki::Issue(pki_.ca, "vn-coffee-export", pki::Role::kEdge, "VN");
  struct Case {
    std::string name;
    std::function<void(NotarizationEntry&)> edit;
    absl::StatusCode code;
    std::string reason;
  };
  auto signed_by = [](const testing::Party& p) {
    return [&p](NotarizationEntry& e) {
      e.enterprise_signature = Unwrap(SignNotarizationRequest(e, p.key));
      e.enterprise_certificate = p.cert.ToDer();
    };
  };
  std::vector<Case> cases = {
      {"signed by another key",
       [&](NotarizationEntry& e) {
         e.enterprise_signature = Unwrap(SignNotarizationRequest(e, pki_.edge.key));
       },
       absl::StatusCode::kUnauthenticated,
       "enterprise signature invalid: vn-coffee-export's signature does not verify"},
      {"signature over other fields",
       [&](NotarizationEntry& e) {
         NotarizationEntry other = e;
         other.reference = "CO-VN-2025-000418";
         e.enterprise_signature = Unwrap(SignNotarizationRequest(other, pki_.enterprise.key));
       },
       absl::StatusCode::kUnauthenticated, "enterprise signature invalid"},
      {"certificate of another CN", signed_by(other_cn), absl::StatusCode::kUnauthenticated,
       "enterprise signature invalid: the entry's certificate is sg-trading's, but the issuer is "
       "vn-coffee-export"},
      {"certificate not an enterprise", signed_by(not_enterprise),
       absl::StatusCode::kPermissionDenied, "enterprise certificate not trusted: role"},
      {"certificate of an untrusted CA", signed_by(stranger.enterprise),
       absl::StatusCode::kUnauthenticated, "enterprise certificate not trusted"},
      {"certificate garbage",
       [](NotarizationEntry& e) { e.enterprise_certificate = ToBytes("not a certificate"); },
       absl::StatusCode::kUnauthenticated, "enterprise certificate does not parse"},
      {"version 1 entry (unsigned)",
       [](NotarizationEntry& e) {
         e.enterprise_signature.clear();
         e.enterprise_certificate.clear();
       },
       absl::StatusCode::kUnauthenticated,
       "enterprise signature invalid: the entry carries no enterprise signature"},
  };
  for (const Case& c : cases) {
    BuiltReceipt b = BuildReceipt(pki_, kDocument, 1, 3, /*anchored=*/true, c.edit);
    absl::Status s = Verify(b.receipt).status();
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s;
    EXPECT_TRUE(Contains(s, c.reason)) << c.name << ": " << s;
    // Through the JSON too, and whether anchored or not.
    s = VerifyJson(Unwrap(FormatReceipt(b.receipt)));
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s;
    ReceiptVerifyOptions lenient;
    lenient.require_anchor = false;
    s = Verify(BuildReceipt(pki_, kDocument, 1, 3, false, c.edit).receipt, kDocument, lenient)
            .status();
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s;
  }
}

TEST_F(ReceiptTest, RevokedEnterpriseCertificateIsRefused) {
  BuiltReceipt b = BuildReceipt(pki_, kDocument, 0, 1);
  pki::RevocationList crl =
      Unwrap(pki_.ca.IssueCrl({{pki_.enterprise.cert.SerialHex(), pki::Clock::now()}}, 1));
  ASSERT_TRUE(pki_.bundle.AddCrl(crl).ok());
  absl::Status s = Verify(b.receipt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(s, "enterprise certificate not trusted")) << s;
}

// Prints the worked example of docs/evidence.md:
//   BEIBU_EVIDENCE_EXAMPLE=1 audit_formats_test --gtest_filter=*WorkedExample*
TEST_F(ReceiptTest, WorkedExample) {
  const uint64_t at = 1764250200123;  // 2025-11-27T13:30:00.123Z
  pki::IssueOptions since_2025;
  since_2025.not_before = pki::Clock::time_point(std::chrono::seconds(1735689600));
  since_2025.validity = std::chrono::hours(24 * 365 * 5);
  pki_ = TestPki::Make(since_2025);
  MemoryLog log;
  for (int i = 0; i < 6; ++i) log.Append(ToBytes("audit event " + std::to_string(i)));
  NotarizationEntry entry = testing::SignedEntry(pki_.enterprise, kDocument, at);
  Bytes encoded = Unwrap(EncodeNotarizationEntry(entry));
  uint64_t index = log.Append(encoded);
  log.Append(ToBytes("audit event 7"));
  Checkpoint cp{LogOrigin("edge-vn"), log.size(), log.Root(log.size()), at + 877};
  std::string note = Unwrap(SignCheckpoint(cp, pki_.edge.key, "edge-vn"));
  note = Unwrap(WitnessCosign(note, pki_.edge.key.PublicKey(), "edge-vn", std::nullopt, {}, NowMs(),
                              pki_.hub.key, "hub"));
  Receipt r{encoded,
            index,
            log.Inclusion(index, log.size()),
            note,
            pki_.edge.cert.ToPem() + pki_.ca.certificate().ToPem(),
            pki_.hub.cert.ToPem()};
  std::string text = Unwrap(FormatReceipt(r));
  VerifiedReceipt v = Unwrap(VerifyReceiptOffline(Unwrap(ParseReceipt(text)), pki_.bundle,
                                                  AsBytes(kDocument), pki::Clock::now()));
  EXPECT_TRUE(v.hub.has_value());
  if (std::getenv("BEIBU_EVIDENCE_EXAMPLE") == nullptr) return;
  std::cout << "document (" << kDocument.size() << " bytes): " << kDocument
            << "document SM3: " << HexEncode(entry.document_digest) << "\n"
            << "entry (" << encoded.size() << " bytes): " << HexEncode(encoded) << "\n"
            << "leaf hash: " << HexEncode(EntryLeafHash(encoded)) << "\n"
            << "edge key id: " << std::hex << KeyId("edge-vn", pki_.edge.key.PublicKey())
            << " hub key id: " << KeyId("hub", pki_.hub.key.PublicKey()) << std::dec << "\n"
            << "----- checkpoint -----\n"
            << note << "----- receipt -----\n"
            << text;
}

}  // namespace
}  // namespace beibu::audit
