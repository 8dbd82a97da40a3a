// Fuzzes the evidence formats: the input is tried as a notarization entry
// (DecodeNotarizationEntry) and as a receipt (ParseReceipt); a receipt that
// parses is verified offline (VerifyReceiptOffline) against a fixed trust
// bundle. Nothing may crash; a decoded entry re-encodes to the input, and a
// parsed receipt formats to JSON that parses back to the same receipt.
#include <cstdint>
#include <map>

#include "beibu/audit/checkpoint.h"
#include "beibu/audit/receipt.h"
#include "beibu/crypto/sm3.h"
#include "beibu/merkle/tree.h"
#include "fuzz_pki.h"

using namespace beibu;

namespace {

// Fixed SM2 keys, for fuzzing only: seeds carry valid signatures and chains
// in every process, so the verifier's later steps are reachable and a crash
// that needs a valid signature replays.
constexpr char kCaKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg7mC3kqq2BGmV2qyb\n"
    "HaWshXpo9RECO0LoM/treTX45xihRANCAAQVCD8joV5X6oTL+LjQff9UhRG9CAPW\n"
    "yxdyjsSg9zA/gZqqA4d74MOUG4TqGUL8tU43xbH9h4PuRK6OhuGhtxkD\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kEdgeKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg1w05IXYX9BsXuHqj\n"
    "278eMGurufsDPq5/wFlxYFAXhvahRANCAARPUDy5SN0Vb8tj1QBOzltx6H4n/rbv\n"
    "AhL085E+dRrPbpoCrPX9ftEYlqH4mo9c4fM2U122Qa0yuyhA2RwbG4xI\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kHubKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgCiX58so3M3Ub26GU\n"
    "winonKA7EqyWAABXzqqnjH2sisWhRANCAAT05FJlsmnEhQQsXP4tRhBMvL70oA9z\n"
    "RAj3TAVi7VDaqD8T51kL3jo81iEc4t6WHuxuOiN+M4Mf1mL9vipi7Qn2\n"
    "-----END PRIVATE KEY-----\n";

constexpr char kEnterpriseKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg0KEWMDQFmNGSU7E4\n"
    "7oI8Pg7QEKqCjmQns3fkHUW/0HuhRANCAAS5v5llCYwgwQ2Wu20+sGXZL14rg5/m\n"
    "vmXGrv8a5XLnRKRLN0G1GZQeWGYwxucEIVE+BLN+FkRVM3XA/gdM9AjF\n"
    "-----END PRIVATE KEY-----\n";

constexpr std::string_view kDocument = "fuzz certificate of origin\n";
constexpr uint64_t kCheckpointMs = 1764250200123;  // 2025-11-27T13:30:00.123Z
// "Now" for verification: fixed, so that every run behaves the same.
const pki::Clock::time_point kNow{std::chrono::seconds(1767225600)};  // 2026-01-01

struct EvidencePki {
  pki::TrustBundle bundle;
  crypto::Sm2PrivateKey edge_key;
  crypto::Sm2PrivateKey hub_key;
  crypto::Sm2PrivateKey enterprise_key;
  Bytes enterprise_der;  // the enterprise's certificate
  std::string node_pem;  // edge certificate + root
  std::string hub_pem;

  static EvidencePki& Get() {
    static EvidencePki* p = Make();
    return *p;
  }

 private:
  static EvidencePki* Make() {
    pki::IssueOptions since_2025;
    since_2025.not_before = pki::Clock::time_point(std::chrono::seconds(1735689600));
    since_2025.validity = std::chrono::hours(24 * 365 * 10);
    auto ca =
        pki::CertificateAuthority::CreateRoot(crypto::Sm2PrivateKey::FromPem(kCaKeyPem).value(),
                                              "Fuzz Evidence Root", "CN", since_2025)
            .value();
    auto edge_key = crypto::Sm2PrivateKey::FromPem(kEdgeKeyPem).value();
    auto hub_key = crypto::Sm2PrivateKey::FromPem(kHubKeyPem).value();
    pki::Certificate edge =
        ca.Issue(edge_key.PublicKey(), {.id = "edge-vn", .role = pki::Role::kEdge, .country = "VN"},
                 since_2025)
            .value();
    pki::Certificate hub =
        ca.Issue(hub_key.PublicKey(), {.id = "hub", .role = pki::Role::kHub, .country = "CN"},
                 since_2025)
            .value();
    auto enterprise_key = crypto::Sm2PrivateKey::FromPem(kEnterpriseKeyPem).value();
    pki::Certificate enterprise =
        ca.Issue(enterprise_key.PublicKey(),
                 {.id = "vn-coffee-export", .role = pki::Role::kEnterprise, .country = "VN"},
                 since_2025)
            .value();
    pki::TrustBundle bundle;
    if (!bundle.AddRoot(ca.certificate()).ok()) __builtin_trap();
    return new EvidencePki{std::move(bundle),  std::move(edge_key),
                           std::move(hub_key), std::move(enterprise_key),
                           enterprise.ToDer(), edge.ToPem() + ca.certificate().ToPem(),
                           hub.ToPem()};
  }
};

// A log of 5 entries whose entry 2 notarizes kDocument, and its receipt.
audit::Receipt SeedReceipt(bool anchored) {
  EvidencePki& p = EvidencePki::Get();
  const merkle::Hasher& h = merkle::Sm3Hasher();
  std::map<std::pair<uint32_t, uint64_t>, Bytes> nodes;
  merkle::Appender appender(h);
  audit::NotarizationEntry e;
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(kDocument));
  e.document_digest.assign(d.begin(), d.end());
  e.document_type = audit::DocumentType::kEContract;
  e.issuer = "vn-coffee-export";
  e.parties = {"vn-coffee-export", "sg-trading"};
  e.reference = "FUZZ-1";
  e.notarized_at_ms = kCheckpointMs - 500;
  e.enterprise_signature = audit::SignNotarizationRequest(e, p.enterprise_key).value();
  e.enterprise_certificate = p.enterprise_der;
  Bytes entry = audit::EncodeNotarizationEntry(e).value();
  for (int i = 0; i < 5; ++i) {
    Bytes data = i == 2 ? entry : ToBytes("audit event " + std::to_string(i));
    appender.Append(h.HashLeaf(data), [&](uint32_t level, uint64_t index, ByteView hash) {
      nodes[{level, index}] = Bytes(hash.begin(), hash.end());
    });
  }
  merkle::NodeSource source = [&](uint32_t level, uint64_t index) -> absl::StatusOr<Bytes> {
    auto it = nodes.find({level, index});
    if (it == nodes.end()) return absl::NotFoundError("node");
    return it->second;
  };
  audit::Checkpoint cp{audit::LogOrigin("edge-vn"), 5, appender.Root(), kCheckpointMs};
  std::string note = audit::SignCheckpoint(cp, p.edge_key, "edge-vn").value();
  if (anchored) note = audit::AddSignature(note, p.hub_key, "hub").value();
  audit::Receipt r;
  r.entry = entry;
  r.index = 2;
  r.inclusion_proof = merkle::InclusionProof(h, source, 2, 5).value();
  r.checkpoint = note;
  r.node_certificates = p.node_pem;
  r.hub_certificates = p.hub_pem;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  audit::Receipt anchored = SeedReceipt(true);
  // The seeds must verify: otherwise the fuzzer starts far from the happy path.
  if (!audit::VerifyReceiptOffline(anchored, EvidencePki::Get().bundle, AsBytes(kDocument), kNow)
           .ok()) {
    __builtin_trap();
  }
  fuzz::MaybeWriteSeed("receipt", audit::FormatReceipt(anchored).value());
  fuzz::MaybeWriteSeed("receipt_unanchored", audit::FormatReceipt(SeedReceipt(false)).value());
  audit::Receipt no_hub = anchored;
  no_hub.hub_certificates.clear();
  fuzz::MaybeWriteSeed("receipt_no_hub", audit::FormatReceipt(no_hub).value());
  fuzz::MaybeWriteSeed("entry", std::string(anchored.entry.begin(), anchored.entry.end()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView bytes(data, size);
  absl::StatusOr<audit::NotarizationEntry> entry = audit::DecodeNotarizationEntry(bytes);
  if (entry.ok()) {
    absl::StatusOr<Bytes> again = audit::EncodeNotarizationEntry(*entry);
    if (!again.ok() || *again != Bytes(bytes.begin(), bytes.end())) __builtin_trap();
  }

  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<audit::Receipt> receipt = audit::ParseReceipt(text);
  if (!receipt.ok()) return 0;
  absl::StatusOr<std::string> formatted = audit::FormatReceipt(*receipt);
  if (!formatted.ok()) __builtin_trap();
  absl::StatusOr<audit::Receipt> back = audit::ParseReceipt(*formatted);
  if (!back.ok() || !(*back == *receipt)) __builtin_trap();

  const pki::TrustBundle& bundle = EvidencePki::Get().bundle;
  (void)audit::VerifyReceiptOffline(*receipt, bundle, std::nullopt, kNow);
  audit::ReceiptVerifyOptions lenient;
  lenient.require_anchor = false;
  lenient.certificates_at_now = true;
  (void)audit::VerifyReceiptOffline(*receipt, bundle, AsBytes(kDocument), kNow, lenient);
  return 0;
}
