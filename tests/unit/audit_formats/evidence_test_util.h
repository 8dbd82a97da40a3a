// Fixtures of the checkpoint and receipt tests: a small in-memory Merkle log,
// a test PKI (hub CA, an edge and the hub) and an end-to-end receipt builder.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "beibu/audit/checkpoint.h"
#include "beibu/audit/receipt.h"
#include "beibu/crypto/sm2.h"
#include "beibu/crypto/sm3.h"
#include "beibu/merkle/tree.h"
#include "beibu/pki/authority.h"
#include "beibu/pki/trust_bundle.h"

namespace beibu::audit::testing {

template <typename T>
T Unwrap(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) std::abort();
  return *std::move(v);
}

inline crypto::Sm2PrivateKey NewKey() { return Unwrap(crypto::Sm2PrivateKey::Generate()); }

inline uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(pki::Clock::now().time_since_epoch())
          .count());
}

inline Bytes Sm3Of(std::string_view s) {
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(s));
  return Bytes(d.begin(), d.end());
}

// An append-only Merkle log in memory, built with merkle::Appender.
class MemoryLog {
 public:
  uint64_t Append(Bytes entry) {
    uint64_t index = entries_.size();
    Bytes leaf = merkle::Sm3Hasher().HashLeaf(entry);
    appender_.Append(leaf, [&](uint32_t level, uint64_t i, ByteView hash) {
      nodes_[{level, i}] = Bytes(hash.begin(), hash.end());
    });
    entries_.push_back(std::move(entry));
    return index;
  }
  uint64_t size() const { return entries_.size(); }
  const Bytes& entry(uint64_t i) const { return entries_[i]; }
  Bytes Root(uint64_t size) const {
    return Unwrap(merkle::RootAt(merkle::Sm3Hasher(), Nodes(), size));
  }
  std::vector<Bytes> Inclusion(uint64_t index, uint64_t size) const {
    return Unwrap(merkle::InclusionProof(merkle::Sm3Hasher(), Nodes(), index, size));
  }
  std::vector<Bytes> Consistency(uint64_t old_size, uint64_t new_size) const {
    if (old_size == 0) return {};
    return Unwrap(merkle::ConsistencyProof(merkle::Sm3Hasher(), Nodes(), old_size, new_size));
  }

 private:
  merkle::NodeSource Nodes() const {
    return [this](uint32_t level, uint64_t index) -> absl::StatusOr<Bytes> {
      auto it = nodes_.find({level, index});
      if (it == nodes_.end()) return absl::NotFoundError("node");
      return it->second;
    };
  }
  merkle::Appender appender_{merkle::Sm3Hasher()};
  std::vector<Bytes> entries_;
  std::map<std::pair<uint32_t, uint64_t>, Bytes> nodes_;
};

struct Party {
  crypto::Sm2PrivateKey key;
  pki::Certificate cert;
  std::string id;
};

// The hub CA, an edge (edge-vn), the hub and an enterprise
// (vn-coffee-export), a bundle trusting the CA.
struct TestPki {
  pki::CertificateAuthority ca;
  Party edge;
  Party hub;
  Party enterprise;
  pki::TrustBundle bundle;

  static Party Issue(const pki::CertificateAuthority& ca, std::string id, pki::Role role,
                     std::string country, pki::IssueOptions options = {}) {
    crypto::Sm2PrivateKey key = NewKey();
    pki::Identity identity;
    identity.id = id;
    identity.role = role;
    identity.country = std::move(country);
    pki::Certificate cert = Unwrap(ca.Issue(key.PublicKey(), identity, options));
    return Party{std::move(key), std::move(cert), std::move(id)};
  }

  static TestPki Make(pki::IssueOptions options = {}) {
    pki::CertificateAuthority ca =
        Unwrap(pki::CertificateAuthority::CreateRoot(NewKey(), "Beibu Test Root", "CN", options));
    Party edge = Issue(ca, "edge-vn", pki::Role::kEdge, "VN", options);
    Party hub = Issue(ca, "hub", pki::Role::kHub, "CN", options);
    Party enterprise = Issue(ca, "vn-coffee-export", pki::Role::kEnterprise, "VN", options);
    pki::TrustBundle bundle;
    EXPECT_TRUE(bundle.AddRoot(ca.certificate()).ok());
    return TestPki{std::move(ca), std::move(edge), std::move(hub), std::move(enterprise),
                   std::move(bundle)};
  }
};

inline NotarizationEntry SampleEntry(std::string_view document, uint64_t at_ms) {
  NotarizationEntry e;
  e.document_digest = Sm3Of(document);
  e.document_type = DocumentType::kCertificateOfOrigin;
  e.issuer = "vn-coffee-export";
  e.parties = {"vn-coffee-export", "sg-trading"};
  e.reference = "CO-VN-2025-000417";
  e.notarized_at_ms = at_ms;
  return e;
}

// SampleEntry signed by `signer` (its key and certificate): a version 2 entry.
inline NotarizationEntry SignedEntry(const Party& signer, std::string_view document,
                                     uint64_t at_ms) {
  NotarizationEntry e = SampleEntry(document, at_ms);
  e.enterprise_signature = Unwrap(SignNotarizationRequest(e, signer.key));
  e.enterprise_certificate = signer.cert.ToDer();
  return e;
}

// A log of `size` entries on `pki.edge`, one of which (at `index`) notarizes
// `document` (signed by pki.enterprise); a checkpoint signed by the edge and, when `anchored`,
// cosigned by the hub; and the receipt for that entry.
struct BuiltReceipt {
  MemoryLog log;
  Checkpoint checkpoint;
  Receipt receipt;
};

// `edit`, when given, changes the signed entry before it is logged.
inline BuiltReceipt BuildReceipt(const TestPki& pki, std::string_view document, uint64_t index,
                                 uint64_t size, bool anchored = true,
                                 const std::function<void(NotarizationEntry&)>& edit = nullptr) {
  BuiltReceipt b;
  const uint64_t now = NowMs();
  for (uint64_t i = 0; i < size; ++i) {
    if (i == index) {
      NotarizationEntry e = SignedEntry(pki.enterprise, document, now - 1000);
      if (edit) edit(e);
      b.log.Append(Unwrap(EncodeNotarizationEntry(e)));
    } else {
      b.log.Append(ToBytes("audit event " + std::to_string(i)));
    }
  }
  b.checkpoint = Checkpoint{LogOrigin(pki.edge.id), size, b.log.Root(size), now};
  std::string note = Unwrap(SignCheckpoint(b.checkpoint, pki.edge.key, pki.edge.id));
  if (anchored) {
    note = Unwrap(WitnessCosign(note, pki.edge.key.PublicKey(), pki.edge.id, std::nullopt, {}, now,
                                pki.hub.key, pki.hub.id));
  }
  b.receipt.entry = b.log.entry(index);
  b.receipt.index = index;
  b.receipt.inclusion_proof = b.log.Inclusion(index, size);
  b.receipt.checkpoint = note;
  b.receipt.node_certificates = pki.edge.cert.ToPem() + pki.ca.certificate().ToPem();
  b.receipt.hub_certificates = pki.hub.cert.ToPem();
  return b;
}

inline bool Contains(const absl::Status& s, std::string_view text) {
  return std::string(s.message()).find(std::string(text)) != std::string::npos;
}

}  // namespace beibu::audit::testing
