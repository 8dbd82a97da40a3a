#include "key_schedule.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/crypto.h"

namespace beibu::channel::internal {
namespace {

void AppendBe32(Bytes& out, size_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void Append(Bytes& out, ByteView v) { out.insert(out.end(), v.begin(), v.end()); }

Bytes Concat(const char* label, ByteView v) {
  Bytes out = ToBytes(label);
  Append(out, v);
  return out;
}

}  // namespace

Bytes TranscriptHash1(ByteView client_hello, ByteView server_hello) {
  crypto::Sm3 h;
  Bytes prefix = ToBytes("BBSC/1 th1");
  AppendBe32(prefix, client_hello.size());
  h.Update(prefix).Update(client_hello);
  Bytes mid;
  AppendBe32(mid, server_hello.size());
  h.Update(mid).Update(server_hello);
  crypto::Sm3Digest d = h.Final();
  return Bytes(d.begin(), d.end());
}

Bytes TranscriptHash2(ByteView th1, const v1::HandshakeAuth& server_auth) {
  Bytes in = ToBytes("BBSC/1 th2");
  Append(in, th1);
  AppendBe32(in, server_auth.signature().size());
  Append(in, AsBytes(server_auth.signature()));
  Append(in, AsBytes(server_auth.finished()));
  crypto::Sm3Digest d = crypto::Sm3::Hash(in);
  return Bytes(d.begin(), d.end());
}

absl::StatusOr<Secrets> DeriveSecrets(ByteView shared, ByteView th1) {
  absl::StatusOr<Bytes> prk = crypto::HkdfSm3Extract(AsBytes("BBSC/1"), shared);
  if (!prk.ok()) return prk.status();
  Secrets s;
  struct Item {
    const char* label;
    Bytes* out;
  } items[] = {{"c2s traffic", &s.client_to_server},
               {"s2c traffic", &s.server_to_client},
               {"server finished", &s.server_finished_key},
               {"client finished", &s.client_finished_key}};
  for (const Item& item : items) {
    absl::StatusOr<Bytes> v = crypto::HkdfSm3Expand(*prk, Concat(item.label, th1), 32);
    if (!v.ok()) return v.status();
    *item.out = *std::move(v);
  }
  return s;
}

Bytes SignedContent(const char* context, ByteView transcript_hash) {
  return Concat(context, transcript_hash);
}

Bytes FinishedMac(ByteView key, ByteView transcript_hash, ByteView signature) {
  crypto::HmacSm3 mac(key);
  crypto::Sm3Digest d = mac.Update(transcript_hash).Update(signature).Final();
  return Bytes(d.begin(), d.end());
}

absl::StatusOr<std::vector<pki::Certificate>> ParseChain(
    const google::protobuf::RepeatedPtrField<std::string>& der_chain) {
  if (der_chain.size() > kMaxChainLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate chain of ", der_chain.size(), " exceeds ", kMaxChainLength));
  }
  std::vector<pki::Certificate> chain;
  for (const std::string& der : der_chain) {
    if (der.size() > kMaxCertificateSize) {
      return absl::InvalidArgumentError("certificate larger than 16 KiB");
    }
    absl::StatusOr<pki::Certificate> cert = pki::Certificate::FromDer(AsBytes(der));
    if (!cert.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("peer certificate is not valid DER X.509: ", cert.status().message()));
    }
    chain.push_back(*std::move(cert));
  }
  return chain;
}

absl::StatusOr<pki::Identity> VerifyPeer(const HandshakeConfig& config,
                                         const std::vector<pki::Certificate>& chain) {
  if (chain.empty()) return absl::UnauthenticatedError("peer presented no certificate");
  std::shared_ptr<const pki::TrustBundle> trust = config.trust;
  if (!trust && !config.pinned_root_fingerprint.empty()) {
    // First contact during enrolment: the join token pins the CA.
    auto pinned = std::find_if(chain.begin(), chain.end(), [&](const pki::Certificate& c) {
      return c.IsCa() && c.FingerprintHex() == config.pinned_root_fingerprint;
    });
    if (pinned == chain.end()) {
      return absl::UnauthenticatedError(
          "the server's CA does not match the fingerprint in the join token: wrong hub, or a "
          "man in the middle");
    }
    auto bundle = std::make_shared<pki::TrustBundle>();
    if (absl::Status s = bundle->AddRoot(*pinned); !s.ok()) return s;
    trust = bundle;
  }
  if (!trust) return absl::FailedPreconditionError("no trust bundle configured");
  return trust->Verify(chain, config.now(), config.allowed_peer_roles);
}

v1::CipherSuite SelectSuite(const std::vector<v1::CipherSuite>& client_order,
                            const std::vector<v1::CipherSuite>& server_supported) {
  for (v1::CipherSuite s : client_order) {
    if (std::find(server_supported.begin(), server_supported.end(), s) != server_supported.end()) {
      return s;
    }
  }
  return v1::CIPHER_SUITE_UNSPECIFIED;
}

absl::StatusOr<Session> MakeSession(const HandshakeConfig& config, v1::CipherSuite suite,
                                    const Secrets& secrets, bool is_client,
                                    std::optional<pki::Identity> peer, ByteView th1) {
  const Bytes& mine = is_client ? secrets.client_to_server : secrets.server_to_client;
  const Bytes& theirs = is_client ? secrets.server_to_client : secrets.client_to_server;
  absl::StatusOr<RecordSealer> sealer = RecordSealer::Create(suite, mine, config.limits);
  if (!sealer.ok()) return sealer.status();
  absl::StatusOr<RecordOpener> opener = RecordOpener::Create(suite, theirs);
  if (!opener.ok()) return opener.status();
  return Session{std::move(peer), suite, *std::move(sealer), *std::move(opener),
                 HexEncode(th1.first(8))};
}

}  // namespace beibu::channel::internal
