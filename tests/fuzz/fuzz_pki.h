// A fixed test PKI for the fuzz targets, built once per process.
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

#include "beibu/channel/handshake.h"
#include "beibu/pki/authority.h"

namespace beibu::fuzz {

struct FuzzPki {
  pki::CertificateAuthority ca;
  channel::HandshakeConfig server;
  channel::HandshakeConfig client;

  static FuzzPki& Get() {
    static FuzzPki* p = Make();
    return *p;
  }

 private:
  static FuzzPki* Make() {
    auto ca = pki::CertificateAuthority::CreateRoot(crypto::Sm2PrivateKey::Generate().value(),
                                                    "Fuzz Root", "CN")
                  .value();
    auto bundle = std::make_shared<pki::TrustBundle>();
    (void)bundle->AddRoot(ca.certificate());
    auto issue = [&](const char* id, pki::Role role) {
      crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::Generate().value();
      pki::Certificate cert = ca.Issue(key.PublicKey(), {.id = id, .role = role, .country = "CN"}).value();
      return channel::Credentials{key, {cert, ca.certificate()}};
    };
    channel::HandshakeConfig server;
    server.credentials = issue("hub", pki::Role::kHub);
    server.trust = bundle;
    server.allow_anonymous_peer = true;
    channel::HandshakeConfig client;
    client.credentials = issue("edge", pki::Role::kEdge);
    client.trust = bundle;
    return new FuzzPki{std::move(ca), std::move(server), std::move(client)};
  }
};

// With BEIBU_FUZZ_SEED_DIR set, writes `bytes` there as a seed input.
inline void MaybeWriteSeed(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("BEIBU_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << bytes;
}

}  // namespace beibu::fuzz
