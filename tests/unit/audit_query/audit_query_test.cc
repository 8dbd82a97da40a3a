// The regulator audit API (audit_query_service.h) served by a ServerHost and
// called through a real loopback tunnel: jurisdiction, refusals, pagination,
// the live tail, proofs and the JSON Lines export.
#include "beibu/audit/audit_query_service.h"

#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "beibu/audit/checkpoint.h"
#include "beibu/daemon/server_host.h"
#include "beibu/merkle/hasher.h"
#include "beibu/merkle/tree.h"
#include "beibu/rpc/tunnel_client.h"
#include "pki_fixture.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace beibu::audit {
namespace {

using pki::Role;

constexpr char kQuery[] = "/beibu.v1.AuditQuery/Query";
constexpr char kTail[] = "/beibu.v1.AuditQuery/Tail";
constexpr char kInclusion[] = "/beibu.v1.AuditQuery/GetInclusionProof";
constexpr char kConsistency[] = "/beibu.v1.AuditQuery/GetConsistencyProof";
constexpr char kExport[] = "/beibu.v1.AuditQuery/Export";

struct Spec {
  const char* node;
  const char* who;
  const char* src;
  const char* dst;
};

// Events of several jurisdictions. VN sees those with VN anywhere.
constexpr Spec kSpecs[] = {
    {"VN", "VN", "VN", "SG"},  // VN
    {"SG", "SG", "SG", "CN"},  // not VN
    {"CN", "CN", "CN", "VN"},  // VN only as destination
    {"CN", "CN", "CN", "SG"},  // not VN
    {"SG", "VN", "SG", "SG"},  // VN only as who.country
    {"SG", "SG", "VN", "CN"},  // VN only as source
    {"CN", "CN", "", ""},      // not VN
};

v1::AuditEvent MakeEvent(const Spec& s, int i) {
  v1::AuditEvent e;
  e.set_schema_version(1);
  *e.mutable_time() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(1'800'000'000'000LL + i * 1000LL);
  e.mutable_who()->set_id(absl::StrCat("ent-", s.who, "-", i % 3));
  e.mutable_who()->set_role("enterprise");
  e.mutable_who()->set_country(s.who);
  e.mutable_who()->set_organization(absl::StrCat("Org ", s.who, " ", i % 3));
  e.set_operation("transfer.send");
  e.set_node_id(absl::StrCat("edge-", s.node));
  e.set_node_country(s.node);
  e.set_source_country(s.src);
  e.set_destination_country(s.dst);
  e.set_data_level(i % 2 ? "GENERAL" : "IMPORTANT");
  e.set_decision(i % 4 == 0 ? "DENY" : "FAST");
  e.set_transfer_id(absl::StrCat("t-", i));
  return e;
}

bool Touches(const Spec& s, const std::string& c) {
  return s.node == c || s.who == c || s.src == c || s.dst == c;
}

class AuditQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = AuditLog::Open({.dir = (dir_ / "audit").string(),
                           .node_id = "edge-vn",
                           .key = key_,
                           .node_country = "VN",
                           .checkpoint_interval = std::chrono::milliseconds(0)})
               .value();
    for (int i = 0; i < kEntries; ++i) {
      if (i % 10 == 9) {  // a notarization record: never returned
        ASSERT_TRUE(log_->AppendEntry(AsBytes("BBNZ\x01 notarization")).ok());
        continue;
      }
      const Spec& s = kSpecs[i % std::size(kSpecs)];
      ASSERT_TRUE(log_->AppendEntry(EncodeAuditEvent(MakeEvent(s, i))).ok());
      if (Touches(s, "VN")) vn_.push_back(i);
    }
    ASSERT_TRUE(log_->Checkpoint().ok());
    StartHost(AuditQueryService::kMaxExaminedPerCall);
  }

  void StartHost(uint64_t max_examined) {
    if (service_) service_->Stop();
    host_.reset();
    service_ = std::make_unique<AuditQueryService>(log_.get(), "VN", max_examined);

    auto server_creds = pki_.Issue("edge-vn", Role::kEdge, "VN");
    auto started = daemon::ServerHost::Start({
        .listen_address = "127.0.0.1:0",
        .handshake =
            [this, server_creds] {
              channel::HandshakeConfig c = pki_.Config(server_creds);
              c.allowed_peer_roles = {Role::kEnterprise, Role::kOfficer, Role::kRegulator};
              return c;
            },
        .services = {service_.get()},
    });
    ASSERT_TRUE(started.ok()) << started.status();
    host_ = *std::move(started);
  }

  void TearDown() override {
    if (service_) service_->Stop();
    host_.reset();
  }

  std::unique_ptr<rpc::TunnelClient> Connect(const std::string& id, Role role,
                                             const std::string& country) {
    auto client = rpc::TunnelClient::Connect(
        {.address = "127.0.0.1:" + std::to_string(host_->port()),
         .handshake = pki_.Config(pki_.Issue(id, role, country), {Role::kEdge})});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Every record of every page, in order.
  std::vector<v1::AuditRecord> QueryAll(rpc::TunnelClient& client, v1::AuditQueryRequest req,
                                        int* pages = nullptr) {
    std::vector<v1::AuditRecord> out;
    for (int n = 0; n < 10000; ++n) {
      v1::AuditQueryResponse resp;
      absl::Status s = client.Call(kQuery, req, &resp);
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok()) break;
      if (pages) ++*pages;
      for (const auto& r : resp.records()) out.push_back(r);
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return out;
  }

  static constexpr int kEntries = 300;
  testing::TempDir dir_;
  crypto::Sm2PrivateKey key_ = crypto::Sm2PrivateKey::Generate().value();
  std::unique_ptr<AuditLog> log_;
  std::vector<uint64_t> vn_;  // indexes a VN regulator may see, ascending
  testing::TestPki pki_;
  std::unique_ptr<AuditQueryService> service_;
  std::unique_ptr<daemon::ServerHost> host_;
};

std::vector<uint64_t> Indexes(const std::vector<v1::AuditRecord>& records) {
  std::vector<uint64_t> out;
  for (const auto& r : records) out.push_back(r.index());
  return out;
}

TEST_F(AuditQueryTest, VnRegulatorSeesVnEventsOnly) {
  auto client = Connect("mps-vn", Role::kRegulator, "VN");
  ASSERT_NE(client, nullptr);
  v1::AuditQueryRequest req;
  req.set_page_size(1000);
  req.set_oldest_first(true);
  std::vector<v1::AuditRecord> got = QueryAll(*client, req);
  EXPECT_EQ(Indexes(got), vn_);
  bool saw_destination_only = false;
  for (const auto& r : got) {
    const v1::AuditEvent& e = r.event();
    EXPECT_TRUE(TouchesJurisdiction(e, "VN")) << r.index();
    EXPECT_EQ(DecodeAuditEvent(AsBytes(r.entry())).value().SerializeAsString(),
              e.SerializeAsString());
    EXPECT_EQ(r.leaf_hash(),
              std::string(AsChars(merkle::Sm3Hasher().HashLeaf(AsBytes(r.entry())))));
    if (e.destination_country() == "VN" && e.node_country() != "VN" && e.source_country() != "VN" &&
        e.who().country() != "VN") {
      saw_destination_only = true;
    }
  }
  EXPECT_TRUE(saw_destination_only);

  // An SG regulator sees a different set, never VN-only events.
  auto sg = Connect("mti-sg", Role::kRegulator, "SG");
  ASSERT_NE(sg, nullptr);
  for (const auto& r : QueryAll(*sg, req)) EXPECT_TRUE(TouchesJurisdiction(r.event(), "SG"));
}

TEST_F(AuditQueryTest, PaginationReturnsEverythingExactlyOnceBothWays) {
  auto client = Connect("mps-vn", Role::kRegulator, "VN");
  ASSERT_NE(client, nullptr);
  for (bool oldest_first : {true, false}) {
    v1::AuditQueryRequest req;
    req.set_page_size(7);
    req.set_oldest_first(oldest_first);
    int pages = 0;
    std::vector<uint64_t> got = Indexes(QueryAll(*client, req, &pages));
    std::vector<uint64_t> want = vn_;
    if (!oldest_first) std::reverse(want.begin(), want.end());
    EXPECT_EQ(got, want) << "oldest_first=" << oldest_first;
    EXPECT_GE(pages, static_cast<int>(vn_.size() / 7));
  }
  // Appends between pages do not disturb a newest-first scan.
  v1::AuditQueryRequest req;
  req.set_page_size(5);
  v1::AuditQueryResponse first;
  ASSERT_TRUE(client->Call(kQuery, req, &first).ok());
  ASSERT_TRUE(log_->AppendEntry(EncodeAuditEvent(MakeEvent(kSpecs[0], 999))).ok());
  req.set_page_token(first.next_page_token());
  std::vector<uint64_t> got =
      Indexes(std::vector<v1::AuditRecord>(first.records().begin(), first.records().end()));
  for (uint64_t i : Indexes(QueryAll(*client, req))) got.push_back(i);
  std::vector<uint64_t> want(vn_.rbegin(), vn_.rend());
  EXPECT_EQ(got, want);

  // A token of the other direction, or garbage, is refused.
  req.set_oldest_first(true);
  v1::AuditQueryResponse resp;
  EXPECT_EQ(client->Call(kQuery, req, &resp).code(), absl::StatusCode::kInvalidArgument);
  req.set_page_token("zzz");
  EXPECT_EQ(client->Call(kQuery, req, &resp).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditQueryTest, EachCallExaminesABoundedNumberOfEntries) {
  StartHost(4);
  auto client = Connect("mps-vn", Role::kRegulator, "VN");
  ASSERT_NE(client, nullptr);
  for (bool oldest_first : {true, false}) {
    v1::AuditQueryRequest req;
    req.set_page_size(1000);
    req.set_oldest_first(oldest_first);
    int pages = 0;
    std::vector<uint64_t> got = Indexes(QueryAll(*client, req, &pages));
    std::vector<uint64_t> want = vn_;
    if (!oldest_first) std::reverse(want.begin(), want.end());
    EXPECT_EQ(got, want);
    EXPECT_EQ(pages, kEntries / 4);
  }
  // Only SG events in a window: pages with no records, still a token.
  v1::AuditQueryRequest req;
  req.set_oldest_first(true);
  req.set_page_token("o1");
  v1::AuditQueryResponse resp;
  ASSERT_TRUE(client->Call(kQuery, req, &resp).ok());
  EXPECT_EQ(resp.entries_examined(), 4u);
  EXPECT_EQ(resp.next_page_token(), "o5");
}

TEST_F(AuditQueryTest, Filters) {
  auto client = Connect("mps-vn", Role::kRegulator, "VN");
  ASSERT_NE(client, nullptr);
  v1::AuditQueryRequest req;
  req.set_page_size(1000);
  req.mutable_filter()->set_transfer_id("t-2");
  std::vector<uint64_t> got = Indexes(QueryAll(*client, req));
  EXPECT_EQ(got, std::vector<uint64_t>{2});
  // A transfer outside VN's jurisdiction is invisible even when asked for by id.
  req.mutable_filter()->set_transfer_id("t-1");
  EXPECT_TRUE(QueryAll(*client, req).empty());

  req.clear_filter();
  req.mutable_filter()->set_country("SG");
  req.mutable_filter()->set_decision("DENY");
  for (const auto& r : QueryAll(*client, req)) {
    EXPECT_TRUE(TouchesJurisdiction(r.event(), "SG"));
    EXPECT_TRUE(TouchesJurisdiction(r.event(), "VN"));
    EXPECT_EQ(r.event().decision(), "DENY");
  }

  req.clear_filter();
  req.mutable_filter()->set_enterprise("Org VN 0");
  std::vector<v1::AuditRecord> by_org = QueryAll(*client, req);
  EXPECT_FALSE(by_org.empty());
  for (const auto& r : by_org) EXPECT_EQ(r.event().who().organization(), "Org VN 0");

  req.clear_filter();
  *req.mutable_filter()->mutable_since() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(1'800'000'000'000LL + 100'000);
  *req.mutable_filter()->mutable_until() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(1'800'000'000'000LL + 200'000);
  std::vector<uint64_t> want;
  for (uint64_t i : vn_)
    if (i >= 100 && i < 200) want.push_back(i);
  std::reverse(want.begin(), want.end());
  EXPECT_EQ(Indexes(QueryAll(*client, req)), want);
}

TEST_F(AuditQueryTest, EnterpriseAndOfficerCertificatesAreRefused) {
  for (Role role : {Role::kEnterprise, Role::kOfficer}) {
    auto client = Connect("someone", role, "VN");
    ASSERT_NE(client, nullptr);
    v1::AuditQueryResponse resp;
    EXPECT_EQ(client->Call(kQuery, v1::AuditQueryRequest(), &resp).code(),
              absl::StatusCode::kPermissionDenied);
    v1::GetInclusionProofRequest ireq;
    ireq.set_index(vn_[0]);
    v1::GetInclusionProofResponse iresp;
    EXPECT_EQ(client->Call(kInclusion, ireq, &iresp).code(), absl::StatusCode::kPermissionDenied);
    v1::GetConsistencyProofRequest creq;
    creq.set_old_size(1);
    v1::GetConsistencyProofResponse cresp;
    EXPECT_EQ(client->Call(kConsistency, creq, &cresp).code(), absl::StatusCode::kPermissionDenied);
    for (const char* method : {kTail, kExport}) {
      auto call = client->StartCall(method, std::chrono::seconds(10));
      ASSERT_TRUE(call->Write(v1::TailRequest()).ok());
      ASSERT_TRUE(call->WritesDone().ok());
      v1::AuditRecord r;
      EXPECT_FALSE(call->Read(&r));
      EXPECT_EQ(call->Finish().code(), absl::StatusCode::kPermissionDenied) << method;
    }
  }
}

TEST_F(AuditQueryTest, TailDeliversNewEventsInJurisdiction) {
  auto client = Connect("mps-vn", Role::kRegulator, "VN");
  ASSERT_NE(client, nullptr);
  const uint64_t before = log_->store().size();
  auto call = client->StartCall(kTail, std::chrono::seconds(60));
  ASSERT_TRUE(call->Write(v1::TailRequest()).ok());
  ASSERT_TRUE(call->WritesDone().ok());
  // Append pairs (SG only, then VN as destination) until the tail, which
  // starts at the log's size when the call arrives, delivers one.
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    for (int i = 1000; !stop.load(); i += 2) {
      ASSERT_TRUE(log_->AppendEntry(EncodeAuditEvent(MakeEvent(kSpecs[1], i))).ok());
      ASSERT_TRUE(log_->AppendEntry(EncodeAuditEvent(MakeEvent(kSpecs[2], i + 1))).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
  });
  v1::AuditRecord r;
  bool got = call->Read(&r);
  stop.store(true);
  appender.join();
  ASSERT_TRUE(got) << call->Finish();
  EXPECT_GE(r.index(), before);
  EXPECT_TRUE(TouchesJurisdiction(r.event(), "VN"));
  EXPECT_EQ(r.event().destination_country(), "VN");
  call->Cancel();
  (void)call->Finish();

  // start_index replays from the past.
  auto replay = client->StartCall(kTail);
  v1::TailRequest req;
  req.set_start_index(0);
  ASSERT_TRUE(replay->Write(req).ok());
  ASSERT_TRUE(replay->WritesDone().ok());
  ASSERT_TRUE(replay->Read(&r));
  EXPECT_EQ(r.index(), vn_[0]);
  replay->Cancel();
  (void)replay->Finish();
}

TEST_F(AuditQueryTest, ProofsVerifyAgainstTheSignedCheckpoint) {
  auto client = Connect("mps-vn", Role::kRegulator, "VN");
  ASSERT_NE(client, nullptr);
  for (uint64_t index : {vn_.front(), vn_[vn_.size() / 2], vn_.back()}) {
    v1::GetInclusionProofRequest req;
    req.set_index(index);
    v1::GetInclusionProofResponse resp;
    ASSERT_TRUE(client->Call(kInclusion, req, &resp).ok());
    SignedNote note = ParseSignedNote(resp.checkpoint_note()).value();
    ASSERT_TRUE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
    Checkpoint cp = ParseCheckpoint(note.body).value();
    EXPECT_EQ(cp.size, resp.tree_size());
    EXPECT_EQ(std::string(AsChars(cp.root)), resp.root());
    std::vector<Bytes> path;
    for (const auto& h : resp.path()) path.push_back(ToBytes(h));
    EXPECT_TRUE(merkle::VerifyInclusion(merkle::Sm3Hasher(), index, cp.size,
                                        AsBytes(resp.record().leaf_hash()), path, cp.root)
                    .ok());
    EXPECT_EQ(resp.record().index(), index);
  }
  // Invisible (SG-only, notarization, past the end): NOT_FOUND alike.
  for (uint64_t index : {1ull, 9ull, 100000ull}) {
    v1::GetInclusionProofRequest req;
    req.set_index(index);
    v1::GetInclusionProofResponse resp;
    EXPECT_EQ(client->Call(kInclusion, req, &resp).code(), absl::StatusCode::kNotFound) << index;
  }
  // A visible entry not yet checkpointed.
  uint64_t fresh = log_->AppendEntry(EncodeAuditEvent(MakeEvent(kSpecs[0], 2000))).value();
  v1::GetInclusionProofRequest req;
  req.set_index(fresh);
  v1::GetInclusionProofResponse resp;
  EXPECT_EQ(client->Call(kInclusion, req, &resp).code(), absl::StatusCode::kFailedPrecondition);

  v1::GetConsistencyProofRequest creq;
  creq.set_old_size(17);
  v1::GetConsistencyProofResponse cresp;
  ASSERT_TRUE(client->Call(kConsistency, creq, &cresp).ok());
  Checkpoint cp = ParseCheckpoint(ParseSignedNote(cresp.checkpoint_note()).value().body).value();
  EXPECT_EQ(cresp.new_size(), cp.size);
  EXPECT_EQ(cresp.new_root(), std::string(AsChars(cp.root)));
  std::vector<Bytes> path;
  for (const auto& h : cresp.path()) path.push_back(ToBytes(h));
  EXPECT_TRUE(merkle::VerifyConsistency(merkle::Sm3Hasher(), 17, cp.size, AsBytes(cresp.old_root()),
                                        cp.root, path)
                  .ok());
  creq.set_old_size(0);
  EXPECT_EQ(client->Call(kConsistency, creq, &cresp).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditQueryTest, ExportIsJsonLinesWithVerifiableProofs) {
  auto client = Connect("mps-vn", Role::kRegulator, "VN");
  ASSERT_NE(client, nullptr);
  auto call = client->StartCall(kExport, std::chrono::seconds(60));
  ASSERT_TRUE(call->Write(v1::ExportRequest()).ok());
  ASSERT_TRUE(call->WritesDone().ok());
  std::string text;
  v1::ExportChunk chunk;
  while (call->Read(&chunk)) text += chunk.data();
  ASSERT_TRUE(call->Finish().ok());

  std::istringstream in(text);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  nlohmann::json head = nlohmann::json::parse(line);
  EXPECT_EQ(head["type"], "checkpoint");
  SignedNote note = ParseSignedNote(head["note"].get<std::string>()).value();
  ASSERT_TRUE(VerifyNoteSignature(note, key_.PublicKey(), "edge-vn").ok());
  Checkpoint cp = ParseCheckpoint(note.body).value();
  std::vector<uint64_t> got;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["type"], "record");
    const nlohmann::json& p = j["proof"];
    EXPECT_EQ(p["type"], "inclusion");
    EXPECT_EQ(p["tree_size"].get<uint64_t>(), cp.size);
    EXPECT_EQ(p["root"].get<std::string>(), HexEncode(cp.root));
    std::vector<Bytes> path;
    for (const auto& h : p["path"]) path.push_back(HexDecode(h.get<std::string>()).value());
    Bytes entry = Base64Decode(j["entry"].get<std::string>()).value();
    Bytes leaf = merkle::Sm3Hasher().HashLeaf(entry);
    EXPECT_EQ(HexEncode(leaf), p["leaf_hash"].get<std::string>());
    EXPECT_TRUE(merkle::VerifyInclusion(merkle::Sm3Hasher(), p["index"].get<uint64_t>(), cp.size,
                                        leaf, path, cp.root)
                    .ok());
    EXPECT_TRUE(TouchesJurisdiction(DecodeAuditEvent(entry).value(), "VN"));
    got.push_back(j["index"].get<uint64_t>());
  }
  EXPECT_EQ(got, vn_);
}

// `beibu audit query|export|prove` against the same server.
TEST_F(AuditQueryTest, CliQueryExportAndProve) {
  channel::Credentials creds = pki_.Issue("mps-vn", Role::kRegulator, "VN");
  std::string chain;
  for (const auto& c : creds.chain) chain += c.ToPem();
  testing::WriteFile(dir_ / "id/key.pem", creds.key.ToPem());
  testing::WriteFile(dir_ / "id/cert.pem", chain);
  testing::WriteFile(dir_ / "id/trust-bundle.pem", pki_.ca.certificate().ToPem());
  const std::vector<std::string> conn = {"--server", "127.0.0.1:" + std::to_string(host_->port()),
                                         "--identity", (dir_ / "id").string()};
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::BinPath("beibu"), "audit"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), conn.begin(), conn.end());
    return testing::Run(argv);
  };

  testing::RunResult r = run({"query", "--json", "--limit", "0", "--page-size", "9"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> got;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    got.push_back(nlohmann::json::parse(line)["index"].get<uint64_t>());
  }
  EXPECT_EQ(got, std::vector<uint64_t>(vn_.rbegin(), vn_.rend()));

  r = run({"query", "--transfer", "t-2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("INDEX"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("t-2"), std::string::npos) << r.out;

  r = run({"export", "-o", (dir_ / "export.jsonl").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string exported = testing::ReadFile(dir_ / "export.jsonl");
  EXPECT_EQ(std::count(exported.begin(), exported.end(), '\n'), static_cast<long>(vn_.size() + 1));

  // `prove` writes exactly what `verify-proof` checks.
  r = run({"prove", std::to_string(vn_[3])});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testing::RunResult v =
      testing::Run({testing::BinPath("beibu"), "audit", "verify-proof", "-"}, r.out);
  EXPECT_EQ(v.exit_code, 0) << v.err;

  // An enterprise certificate is refused by the CLI path too.
  channel::Credentials ent = pki_.Issue("acme", Role::kEnterprise, "VN");
  chain.clear();
  for (const auto& c : ent.chain) chain += c.ToPem();
  testing::WriteFile(dir_ / "id/key.pem", ent.key.ToPem());
  testing::WriteFile(dir_ / "id/cert.pem", chain);
  r = run({"query"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("regulator"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace beibu::audit
