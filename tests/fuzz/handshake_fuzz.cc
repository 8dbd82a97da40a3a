// Fuzzes the handshake parsers: the input is tried as a ClientHello (server
// side) and as a ServerFlight (client side). Nothing may crash, and a forged
// flight must never produce a session.
#include <cstdint>

#include "beibu/channel/handshake.h"
#include "fuzz_pki.h"

using namespace beibu;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::FuzzPki& p = fuzz::FuzzPki::Get();
  auto client = channel::ClientHandshake::Start(p.client).value();
  Bytes ch = client.client_hello();
  fuzz::MaybeWriteSeed("client_hello", std::string(ch.begin(), ch.end()));
  auto server = channel::ServerHandshake::Accept(p.server, ch).value();
  fuzz::MaybeWriteSeed("server_flight", server.server_flight().SerializeAsString());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzPki& p = fuzz::FuzzPki::Get();
  (void)channel::ServerHandshake::Accept(p.server, ByteView(data, size));

  v1::ServerFlight flight;
  if (flight.ParseFromArray(data, static_cast<int>(size))) {
    auto client = channel::ClientHandshake::Start(p.client);
    if (!client.ok()) __builtin_trap();
    auto result = client->Finish(flight);
    // The flight is not signed over this client's fresh hello: must fail.
    if (result.ok()) __builtin_trap();
  }
  return 0;
}
