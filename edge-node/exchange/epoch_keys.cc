#include "exchange/epoch_keys.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"
#include "beibu/envelope/epoch_key.h"
#include "beibu/pki/certificate.h"
#include "beibu/pki/trust_bundle.h"
#include "beibu/v1/relay_api.pb.h"

namespace beibu::edge {
namespace {

namespace fs = std::filesystem;

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// A key id names files: only the hex form EpochKeyId produces is accepted, so
// a hostile record can never make us write outside dir.
bool IsKeyId(const std::string& id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

struct OwnKey {
  crypto::Sm2KeyShare share;
  v1::EpochKey record;
};

struct PeerKey {
  v1::EpochKey record;
  pki::Identity cert;  // the verified edge certificate's identity (country, serial)
};

}  // namespace

struct EpochKeys::Impl {
  EpochKeyOptions options;
  EdgeIdentity* identity;
  envelope::EpochSecretCache cache;

  std::mutex callback_mu;  // guards on_missing_peer (never held with mu)
  std::function<void()> on_missing_peer;
  std::chrono::steady_clock::time_point last_missing_call;

  mutable std::mutex mu;
  std::map<std::string, OwnKey> own;     // by key id
  std::map<std::string, PeerKey> peers;  // by key id

  absl::Time Now() const { return options.now ? options.now() : absl::Now(); }
  std::string OwnDir() const { return options.dir + "/own"; }
  std::string PeerDir() const { return options.dir + "/peers"; }
  const std::string& self_id() const { return identity->self().id; }

  // The newest own key valid at `now`; nullptr when none.
  const OwnKey* CurrentLocked(absl::Time now) const {
    const OwnKey* best = nullptr;
    for (const auto& [id, k] : own) {
      if (ToTime(k.record.not_after()) <= now) continue;
      if (!best || ToTime(k.record.not_before()) > ToTime(best->record.not_before())) best = &k;
    }
    return best;
  }

  absl::Status GenerateLocked(absl::Time now) {
    absl::StatusOr<envelope::EpochKeyPair> pair = envelope::EpochKeyPair::Generate(
        identity->credentials().key, self_id(), now, now + absl::FromChrono(options.lifetime));
    if (!pair.ok()) return pair.status();
    absl::StatusOr<std::string> pem = pair->share.ToPrivatePem();
    if (!pem.ok()) return pem.status();
    const std::string base = OwnDir() + "/" + pair->key.key_id();
    // The private half first: a .key without its .pem would be a key we
    // published but cannot use. A .pem without .key is removed at load.
    if (absl::Status s = config::WriteFileAtomic(base + ".pem", *pem, 0600, /*overwrite=*/false);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            config::WriteFileAtomic(base + ".key", pair->key.SerializeAsString(), 0600);
        !s.ok()) {
      return s;
    }
    spdlog::info("event=epoch_key_generated key_id={} not_after={}", pair->key.key_id(),
                 absl::FormatTime(ToTime(pair->key.not_after())));
    std::string id = pair->key.key_id();
    own.emplace(id, OwnKey{std::move(pair->share), std::move(pair->key)});
    return absl::OkStatus();
  }

  void DestroyOwn(const std::string& key_id) {
    std::error_code ec;
    fs::remove(OwnDir() + "/" + key_id + ".pem", ec);
    fs::remove(OwnDir() + "/" + key_id + ".key", ec);
    own.erase(key_id);
  }

  void ForgetPeer(const std::string& key_id) {
    std::error_code ec;
    fs::remove(PeerDir() + "/" + key_id + ".key", ec);
    peers.erase(key_id);
  }

  // Expired own shares are destroyed (forward secrecy per epoch); expired or
  // revoked peer keys forgotten.
  void PurgeLocked(absl::Time now) {
    std::vector<std::string> gone;
    for (const auto& [id, k] : own) {
      if (ToTime(k.record.not_after()) <= now) gone.push_back(id);
    }
    for (const std::string& id : gone) {
      spdlog::info("event=epoch_key_destroyed key_id={}", id);
      DestroyOwn(id);
    }
    gone.clear();
    std::shared_ptr<const pki::TrustBundle> trust = identity->trust();
    for (const auto& [id, k] : peers) {
      if (ToTime(k.record.not_after()) <= now) {
        gone.push_back(id);
      } else if (trust->IsRevoked(k.cert)) {
        spdlog::warn("event=epoch_key_dropped edge={} key_id={} reason=\"certificate revoked\"",
                     k.record.edge_id(), id);
        gone.push_back(id);
      }
    }
    for (const std::string& id : gone) ForgetPeer(id);
  }

  // Checks a peer key; returns the verified certificate identity.
  absl::StatusOr<pki::Identity> Verify(const v1::EpochKey& key, absl::Time now) const {
    if (key.edge_certificate().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "epoch key ", key.key_id(), " of ", key.edge_id(), " carries no edge_certificate"));
    }
    absl::StatusOr<pki::Certificate> cert = pki::Certificate::FromPem(key.edge_certificate());
    if (!cert.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("epoch key ", key.key_id(), " of ", key.edge_id(),
                       ": edge_certificate does not parse: ", cert.status().message()));
    }
    absl::StatusOr<pki::Identity> who =
        identity->trust()->Verify({*cert}, absl::ToChronoTime(now), {pki::Role::kEdge});
    if (!who.ok()) {
      return absl::Status(who.status().code(),
                          absl::StrCat("epoch key ", key.key_id(), " of ", key.edge_id(),
                                       ": edge certificate refused: ", who.status().message()));
    }
    if (who->id != key.edge_id()) {
      return absl::PermissionDeniedError(
          absl::StrCat("epoch key ", key.key_id(), " claims edge '", key.edge_id(),
                       "' but its certificate is of '", who->id, "'"));
    }
    absl::StatusOr<crypto::Sm2PublicKey> pub = cert->PublicKey();
    if (!pub.ok()) return pub.status();
    // A key published by an edge whose clock runs a little ahead is usable
    // now: check it as of its not_before when that lies within the skew.
    absl::Time at = now;
    if (key.has_not_before()) {
      absl::Time nb = ToTime(key.not_before());
      if (nb > now && nb <= now + kEpochKeyClockSkew) at = nb;
    }
    if (absl::Status s = envelope::VerifyEpochKey(key, *pub, at); !s.ok()) {
      return s;  // its message names the key and the edge
    }
    if (!IsKeyId(key.key_id())) {  // VerifyEpochKey checked it is EpochKeyId(point)
      return absl::InvalidArgumentError(
          absl::StrCat("epoch key id '", key.key_id(), "' is not 32 lowercase hex digits"));
    }
    return *who;
  }

  // One own key pair (id.key, id.pem): loaded, or destroyed when expired.
  absl::Status LoadOwnPair(const std::string& id, absl::Time now) {
    const std::string base = OwnDir() + "/" + id;
    absl::StatusOr<std::string> raw = config::ReadFile(base + ".key");
    if (!raw.ok()) return raw.status();
    v1::EpochKey record;
    if (!record.ParseFromString(*raw) || record.key_id() != id) {
      return absl::DataLossError(
          absl::StrCat(base, ".key is not this edge's epoch key record ", id));
    }
    if (ToTime(record.not_after()) <= now) {
      spdlog::info("event=epoch_key_destroyed key_id={}", id);
      DestroyOwn(id);
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> pem = config::ReadFile(base + ".pem");
    if (!pem.ok()) return pem.status();
    absl::StatusOr<crypto::Sm2KeyShare> share = crypto::Sm2KeyShare::FromPrivatePem(*pem);
    if (!share.ok()) {
      return absl::DataLossError(absl::StrCat(base, ".pem: ", share.status().message()));
    }
    if (AsChars(share->public_point()) != record.public_key()) {
      return absl::DataLossError(
          absl::StrCat(base, ".pem does not hold the private half of the key in ", id, ".key"));
    }
    own.emplace(id, OwnKey{*std::move(share), std::move(record)});
    return absl::OkStatus();
  }

  // A damaged pair is left on disk for the operator and skipped: transfers
  // sealed to it are refused (the source sends again) and a new key is made.
  absl::Status LoadOwn(absl::Time now) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const fs::directory_entry& e : fs::directory_iterator(OwnDir(), ec)) {
      files.push_back(e.path());
    }
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot list ", OwnDir(), ": ", ec.message()));
    }
    for (const fs::path& p : files) {
      if (p.extension() == ".pem" && !fs::exists(fs::path(p).replace_extension(".key"))) {
        // Written just before a crash, never published: useless.
        spdlog::warn("event=epoch_key_orphan_removed path={}", p.string());
        fs::remove(p, ec);
      }
      if (p.extension() != ".key") continue;
      if (absl::Status s = LoadOwnPair(p.stem().string(), now); !s.ok()) {
        spdlog::error(
            "event=epoch_key_unusable error=\"{}\" action=\"restore the pair from a backup, "
            "or move it away: transfers sealed to it cannot be opened\"",
            std::string(s.message()));
      }
    }
    return absl::OkStatus();
  }

  void LoadPeers(absl::Time now) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const fs::directory_entry& e : fs::directory_iterator(PeerDir(), ec)) {
      files.push_back(e.path());
    }
    for (const fs::path& p : files) {
      if (p.extension() != ".key") continue;
      absl::StatusOr<std::string> raw = config::ReadFile(p.string());
      v1::EpochKey record;
      if (!raw.ok() || !record.ParseFromString(*raw)) {
        spdlog::warn("event=epoch_key_cache_unreadable path={}", p.string());
        fs::remove(p, ec);
        continue;
      }
      if (ToTime(record.not_after()) <= now) {
        fs::remove(p, ec);
        continue;
      }
      absl::StatusOr<pki::Identity> who = Verify(record, now);
      if (!who.ok()) {
        spdlog::warn("event=epoch_key_refused source=cache error=\"{}\"",
                     std::string(who.status().message()));
        fs::remove(p, ec);
        continue;
      }
      peers[record.key_id()] = PeerKey{record, *who};
    }
  }
};

EpochKeys::EpochKeys(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EpochKeys::~EpochKeys() = default;

absl::StatusOr<std::unique_ptr<EpochKeys>> EpochKeys::Open(EpochKeyOptions options,
                                                           EdgeIdentity* identity) {
  if (options.dir.empty()) return absl::InvalidArgumentError("epoch key dir is empty");
  if (options.rotation.count() <= 0 || options.lifetime <= options.rotation) {
    return absl::InvalidArgumentError(
        "epoch key lifetime must exceed the rotation period (old keys stay usable for "
        "transfers still in flight)");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->identity = identity;
  std::error_code ec;
  for (const std::string& d : {impl->OwnDir(), impl->PeerDir()}) {
    fs::create_directories(d, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create ", d, ": ", ec.message()));
  }
  fs::permissions(impl->options.dir, fs::perms::owner_all, ec);
  fs::permissions(impl->OwnDir(), fs::perms::owner_all, ec);
  const absl::Time now = impl->Now();
  if (absl::Status s = impl->LoadOwn(now); !s.ok()) return s;
  impl->LoadPeers(now);
  std::unique_ptr<EpochKeys> keys(new EpochKeys(std::move(impl)));
  if (absl::Status s = keys->RotateIfDue(); !s.ok()) return s;
  return keys;
}

absl::Status EpochKeys::RotateIfDue() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const absl::Time now = impl_->Now();
  impl_->PurgeLocked(now);
  const OwnKey* cur = impl_->CurrentLocked(now);
  if (cur && ToTime(cur->record.not_before()) + absl::FromChrono(impl_->options.rotation) > now) {
    return absl::OkStatus();
  }
  return impl_->GenerateLocked(now);
}

v1::EpochKey EpochKeys::current() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const OwnKey* cur = impl_->CurrentLocked(impl_->Now());
  if (!cur) return v1::EpochKey();
  v1::EpochKey out = cur->record;
  // Not signed: attached at publication so a renewed certificate is the one
  // peers check the key against.
  out.set_edge_certificate(impl_->identity->credentials().chain.front().ToPem());
  return out;
}

std::vector<v1::EpochKey> EpochKeys::own_keys() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<v1::EpochKey> out;
  for (const auto& [id, k] : impl_->own) out.push_back(k.record);
  std::sort(out.begin(), out.end(), [](const v1::EpochKey& a, const v1::EpochKey& b) {
    return ToTime(a.not_before()) < ToTime(b.not_before());
  });
  return out;
}

std::chrono::seconds EpochKeys::refresh() const { return impl_->options.refresh; }

size_t EpochKeys::peer_key_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->peers.size();
}

absl::Status EpochKeys::AddPeerKey(const v1::EpochKey& key) {
  if (key.edge_id() == impl_->self_id()) return absl::OkStatus();  // the hub lists ours too
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->peers.find(key.key_id());
    if (it != impl_->peers.end() &&
        it->second.record.SerializeAsString() == key.SerializeAsString()) {
      return absl::OkStatus();  // known and verified; revocation is re-checked by PurgeLocked
    }
  }
  // Verified without the lock: two SM2 verifications.
  absl::StatusOr<pki::Identity> who = impl_->Verify(key, impl_->Now());
  if (!who.ok()) return who.status();
  if (absl::Status s = config::WriteFileAtomic(impl_->PeerDir() + "/" + key.key_id() + ".key",
                                               key.SerializeAsString(), 0644);
      !s.ok()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->peers[key.key_id()] = PeerKey{key, *who};
  return absl::OkStatus();
}

void EpochKeys::SetOnMissingPeer(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(impl_->callback_mu);
  impl_->on_missing_peer = std::move(callback);
}

absl::StatusOr<envelope::TransferKeys> EpochKeys::PrepareSend(v1::EnvelopeHeader* header) {
  absl::StatusOr<envelope::TransferKeys> keys = PrepareSendLocked(header);
  if (keys.status().code() == absl::StatusCode::kUnavailable) {
    std::lock_guard<std::mutex> lock(impl_->callback_mu);
    auto now = std::chrono::steady_clock::now();
    if (impl_->on_missing_peer && now - impl_->last_missing_call > std::chrono::milliseconds(200)) {
      impl_->last_missing_call = now;
      impl_->on_missing_peer();
    }
  }
  return keys;
}

absl::StatusOr<envelope::TransferKeys> EpochKeys::PrepareSendLocked(v1::EnvelopeHeader* header) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const absl::Time now = impl_->Now();
  const OwnKey* mine = impl_->CurrentLocked(now);
  if (!mine) {
    return absl::UnavailableError(
        "this edge has no valid epoch key (its clock jumped past all of them?); retry");
  }
  const PeerKey* best = nullptr;
  for (const auto& [id, p] : impl_->peers) {
    if (p.cert.country != header->to_country()) continue;
    if (ToTime(p.record.not_after()) <= now ||
        ToTime(p.record.not_before()) > now + kEpochKeyClockSkew) {
      continue;
    }
    if (!best || ToTime(p.record.not_before()) > ToTime(best->record.not_before())) best = &p;
  }
  if (!best) {
    return absl::UnavailableError(
        absl::StrCat("no epoch key of an edge serving ", header->to_country(),
                     " yet (is that edge enrolled and connected to the hub?); retry"));
  }
  header->set_to_edge(best->record.edge_id());
  header->set_sender_key_id(mine->record.key_id());
  header->set_recipient_key_id(best->record.key_id());
  absl::StatusOr<Bytes> prk =
      impl_->cache.GetOrDerive(mine->record.key_id(), best->record.key_id(), mine->share,
                               AsBytes(best->record.public_key()));
  if (!prk.ok()) return prk.status();
  return envelope::DeriveTransferKeysFromPrk(*prk, envelope::TransferIdsOf(*header));
}

absl::StatusOr<envelope::TransferKeys> EpochKeys::KeysFor(const v1::EnvelopeHeader& header) {
  if (header.to_edge() != impl_->self_id()) {
    return absl::PermissionDeniedError(
        absl::StrCat("transfer ", header.transfer_id(), " is addressed to edge '", header.to_edge(),
                     "', not to this edge (", impl_->self_id(), ")"));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto own = impl_->own.find(header.recipient_key_id());
  if (own == impl_->own.end()) {
    return absl::NotFoundError(absl::StrCat(
        "own epoch key ", header.recipient_key_id(), " of transfer ", header.transfer_id(),
        " is unknown or expired (its private half is destroyed): the transfer cannot be "
        "opened; the source must send it again"));
  }
  auto peer = impl_->peers.find(header.sender_key_id());
  if (peer == impl_->peers.end() || peer->second.record.edge_id() != header.from_edge()) {
    return absl::NotFoundError(absl::StrCat("epoch key ", header.sender_key_id(), " of edge '",
                                            header.from_edge(),
                                            "' is not known (verified) here; fetch the keys "
                                            "from the hub and retry"));
  }
  absl::StatusOr<Bytes> prk = impl_->cache.GetOrDerive(own->first, peer->first, own->second.share,
                                                       AsBytes(peer->second.record.public_key()));
  if (!prk.ok()) return prk.status();
  return envelope::DeriveTransferKeysFromPrk(*prk, envelope::TransferIdsOf(header));
}

absl::Status EpochKeys::SyncWithHub(rpc::TunnelClient& hub) {
  if (absl::Status s = RotateIfDue(); !s.ok()) return s;
  v1::PublishEpochKeyResponse published;
  if (absl::Status s = hub.Call("/beibu.v1.Relay/PublishEpochKey", current(), &published);
      !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("publishing the epoch key to the hub: ", s.message()));
  }
  v1::GetEpochKeysResponse resp;
  if (absl::Status s = hub.Call("/beibu.v1.Relay/GetEpochKeys", v1::GetEpochKeysRequest(), &resp);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("fetching epoch keys from the hub: ", s.message()));
  }
  for (const v1::EpochKey& key : resp.keys()) {
    if (absl::Status s = AddPeerKey(key); !s.ok()) {
      spdlog::warn("event=epoch_key_refused edge={} key_id={} error=\"{}\"", key.edge_id(),
                   key.key_id(), std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace beibu::edge
