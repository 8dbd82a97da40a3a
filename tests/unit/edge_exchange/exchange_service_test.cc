// The Exchange service end to end on one edge: real RocksDB, real gRPC on
// 127.0.0.1, the baseline policy database, and fixed epoch shares so that the
// sealed outbox opens with the peer edge's keys.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/sm3.h"
#include "exchange_test_util.h"

namespace beibu::edge::testing {
namespace {

using beibu::testing::TempDir;
using google::protobuf::util::MessageDifferencer;

v1::TransferHeader Header(const std::string& id, const std::string& to,
                          const std::string& category) {
  v1::TransferHeader h;
  h.set_transfer_id(id);
  h.set_to_country(to);
  h.set_to_enterprise("recipient-co");
  h.set_category(category);
  return h;
}

grpc::Status Send(TestEdge& edge, const v1::TransferHeader& h, const std::string& payload,
                  v1::TransferStatus* status, const std::string& who = "sender-co",
                  const std::string& country = "") {
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, who, country.empty() ? edge.self().country : country);
  v1::SendRequest req;
  *req.mutable_header() = h;
  req.set_payload(payload);
  return edge.stub().Send(&ctx, req, status);
}

// Every outbox envelope of `id`, opened with the destination's keys.
std::string OpenOutbox(TestEdge& edge, const std::string& id) {
  std::vector<v1::Envelope> items = edge.store().ReadOutbox(0, 10000, size_t{1} << 40).value();
  std::optional<envelope::ChunkOpener> opener;
  std::string out;
  for (const v1::Envelope& env : items) {
    if (env.has_notice()) continue;
    v1::EnvelopeHeader h;
    EXPECT_TRUE(h.ParseFromString(env.header()));
    if (h.transfer_id() != id) continue;
    if (!opener) {
      opener.emplace(envelope::ChunkOpener::Create(edge.keys().PeerKeys(h), env.header()).value());
    }
    for (int i = 0; i < env.sealed_chunks_size(); ++i) {
      Bytes plain = opener->Open(env.first_chunk() + i, AsBytes(env.sealed_chunks(i))).value();
      out.append(AsChars(plain));
    }
  }
  EXPECT_TRUE(opener.has_value()) << "nothing of " << id << " in the outbox";
  if (opener) {
    EXPECT_TRUE(opener->Finish().ok());
  }
  return out;
}

// Every stream fails instead of hanging if a message never comes.
void WithDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

v1::SendRequest Request(const std::string& id, const std::string& category,
                        const std::string& payload) {
  v1::SendRequest req;
  *req.mutable_header() = Header(id, "CN", category);
  req.set_payload(payload);
  return req;
}

// Sends `reqs` on one SendMany stream as sender-co; every answer, in order.
std::vector<v1::TransferStatus> SendManyAll(TestEdge& edge,
                                            const std::vector<v1::SendRequest>& reqs) {
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "sender-co", edge.self().country);
  auto stream = edge.stub().SendMany(&ctx);
  for (const v1::SendRequest& r : reqs) EXPECT_TRUE(stream->Write(r));
  stream->WritesDone();
  std::vector<v1::TransferStatus> answers;
  v1::TransferStatus st;
  while (stream->Read(&st)) answers.push_back(st);
  EXPECT_TRUE(stream->Finish().ok());
  return answers;
}

size_t OutboxTransfers(TestEdge& edge) {
  size_t n = 0;
  // A named vector: a range-for over StatusOr::value() of a temporary dangles.
  const std::vector<v1::Envelope> items =
      edge.store().ReadOutbox(0, 10000, size_t{1} << 40).value();
  for (const v1::Envelope& env : items) {
    if (!env.has_notice() && env.first_chunk() == 0) ++n;
  }
  return n;
}

TEST(ExchangeServiceTest, FastTransferIsSealedIntoTheOutbox) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferStatus st;
  const std::string payload = "container,port,eta\nMSCU1234565,Haiphong,2026-12-01\n";
  ASSERT_TRUE(Send(edge, Header("fast-transfer-0001", "CN", "logistics.track"), payload, &st).ok());
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
  EXPECT_EQ(st.decision().decision(), "FAST");
  EXPECT_EQ(st.decision().policy_version(), 1u);
  EXPECT_FALSE(st.decision().policy_digest().empty());
  EXPECT_EQ(st.size(), payload.size());
  crypto::Sm3Digest d = crypto::Sm3::Hash(AsBytes(payload));
  EXPECT_EQ(st.payload_sm3(), HexEncode(ByteView(d.data(), d.size())));
  EXPECT_TRUE(st.steps().contains("ACCEPTED"));
  EXPECT_TRUE(st.steps().contains("IN_FLIGHT"));
  EXPECT_EQ(st.to_country(), "CN");
  EXPECT_EQ(OpenOutbox(edge, "fast-transfer-0001"), payload);
  EXPECT_EQ(edge.store().outbox().items, 1u);
  EXPECT_GE(edge.outbox_wakeups.load(), 1);
  v1::TransferRecord r = edge.store().GetTransfer("fast-transfer-0001").value();
  EXPECT_EQ(r.to_edge(), "edge-cn");
  EXPECT_EQ(r.from_enterprise(), "sender-co");
  EXPECT_GT(r.source_sequence(), 0u);
  // The accept is audited with both digests.
  v1::AuditEvent e =
      audit::DecodeAuditEvent(edge.audit().store().Entry(edge.audit().store().size() - 1).value())
          .value();
  EXPECT_EQ(e.operation(), "transfer.accept");
  EXPECT_EQ(e.decision(), "FAST");
  EXPECT_EQ(e.data_level(), "GENERAL");
  ASSERT_EQ(e.digests_size(), 2);
  EXPECT_EQ(e.digests(1).algorithm(), "sm3-envelope-header");
}

TEST(ExchangeServiceTest, MaskedCustomerListHasItsPhonesMasked) {
  TempDir dir;
  TestEdge edge(dir, "SG");
  v1::TransferHeader h = Header("mask-transfer-0001", "CN", "customer.contact");
  h.add_attested("asean-mcc");
  h.set_content_type("text/csv");
  const std::string payload =
      "name,phone,email\nAlice Tan,13800138000,alice@example.sg\nBob Lim,13912345678,bob@x.com\n";
  v1::TransferStatus st;
  ASSERT_TRUE(Send(edge, h, payload, &st).ok());
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
  EXPECT_EQ(st.decision().decision(), "MASK");
  EXPECT_EQ(st.decision().mask_profile(), "contact-mask");
  EXPECT_TRUE(st.steps().contains("MASKED"));
  std::string sealed = OpenOutbox(edge, "mask-transfer-0001");
  EXPECT_EQ(sealed.find("13800138000"), std::string::npos) << sealed;
  EXPECT_EQ(sealed.find("13912345678"), std::string::npos) << sealed;
  EXPECT_NE(sealed.find("138****8000"), std::string::npos) << sealed;
  EXPECT_NE(sealed.find("name,phone,email"), std::string::npos) << sealed;
}

TEST(ExchangeServiceTest, ReviewIsHeldAtTheSource) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferStatus st;
  ASSERT_TRUE(Send(edge, Header("review-transfer-01", "CN", "health.record"), "x", &st).ok());
  EXPECT_EQ(st.state(), v1::HELD_FOR_REVIEW);
  EXPECT_EQ(st.decision().decision(), "REVIEW");
  EXPECT_EQ(edge.store().outbox().items, 0u);
  EXPECT_GT(edge.store().GetTransfer("review-transfer-01").value().source_sequence(), 0u);
}

TEST(ExchangeServiceTest, DenyAndSandboxAreAnswersNotErrors) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferStatus st;
  ASSERT_TRUE(
      Send(edge, Header("deny-transfer-0001", "CN", "infrastructure.critical"), "grid", &st).ok());
  EXPECT_EQ(st.state(), v1::DENIED);
  ASSERT_GE(st.decision().rules_size(), 1);
  EXPECT_EQ(st.decision().rules(0), "G-CORE-001");
  EXPECT_EQ(st.decision().level(), "CORE");
  ASSERT_TRUE(
      Send(edge, Header("sandbox-transfer-1", "CN", "finance.credit_record"), "s", &st).ok());
  EXPECT_EQ(st.state(), v1::SANDBOX_ONLY);
  EXPECT_FALSE(st.sandbox_hint().empty());
  EXPECT_EQ(edge.store().outbox().items, 0u);
  EXPECT_EQ(edge.store().GetTransfer("deny-transfer-0001").value().status().state(), v1::DENIED);
}

TEST(ExchangeServiceTest, RetryGetsTheFirstAnswerAndOtherContentIsRefused) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferHeader h = Header("idempotent-000001", "CN", "logistics.track");
  v1::TransferStatus first, second, third;
  ASSERT_TRUE(Send(edge, h, "payload", &first).ok());
  h.set_file_name("renamed.csv");  // informative: not part of the identity
  ASSERT_TRUE(Send(edge, h, "payload", &second).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(first, second));
  EXPECT_EQ(OutboxTransfers(edge), 1u);
  grpc::Status s = Send(edge, h, "other payload", &third);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  h.set_category("trade.contract");
  EXPECT_EQ(Send(edge, h, "payload", &third).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(OutboxTransfers(edge), 1u);
}

TEST(ExchangeServiceTest, ConcurrentDuplicatesMakeOneTransfer) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      v1::TransferStatus st;
      if (Send(edge, Header("concurrent-00001", "CN", "logistics.track"), "same", &st).ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(OutboxTransfers(edge), 1u);
}

TEST(ExchangeServiceTest, CallersOfOtherRolesOrCountriesAreRefused) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferStatus st;
  v1::TransferHeader h = Header("refused-caller-01", "CN", "logistics.track");
  EXPECT_EQ(Send(edge, h, "x", &st, "sender-co", "SG").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, "edge-th", "VN", "edge");
  v1::SendRequest req;
  *req.mutable_header() = h;
  EXPECT_EQ(edge.stub().Send(&ctx, req, &st).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext anon;
  EXPECT_EQ(edge.stub().Send(&anon, req, &st).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer("refused-caller-01").status()));
}

TEST(ExchangeServiceTest, BadHeadersSayWhatToChange) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferStatus st;
  struct Case {
    v1::TransferHeader h;
    std::string needle;
  };
  std::vector<Case> cases;
  cases.push_back({Header("short", "CN", "logistics.track"), "transfer_id"});
  cases.push_back({Header("bad/transfer/id/0001", "CN", "logistics.track"), "transfer_id"});
  cases.push_back({Header("valid-transfer-01", "XX", "logistics.track"), "to_country"});
  cases.push_back({Header("valid-transfer-01", "VN", "logistics.track"), "own country"});
  cases.push_back({Header("valid-transfer-01", "CN", "no.such"), "unknown category"});
  Case no_recipient{Header("valid-transfer-01", "CN", "logistics.track"), "to_enterprise"};
  no_recipient.h.clear_to_enterprise();
  cases.push_back(no_recipient);
  Case level{Header("valid-transfer-01", "CN", "logistics.track"), "declared_level"};
  level.h.set_declared_level("SECRET");
  cases.push_back(level);
  for (const Case& c : cases) {
    grpc::Status s = Send(edge, c.h, "x", &st);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.needle;
    EXPECT_NE(s.error_message().find(c.needle), std::string::npos) << s.error_message();
  }
  std::string big((size_t{4} << 20) + 1, 'a');
  grpc::Status s = Send(edge, Header("too-big-transfer-1", "CN", "logistics.track"), big, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("SendStream"), std::string::npos);
}

TEST(ExchangeServiceTest, UnknownDestinationKeysStoreNothing) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  edge.keys().unavailable = true;
  v1::TransferStatus st;
  v1::TransferHeader h = Header("no-keys-transfer-1", "CN", "logistics.track");
  EXPECT_EQ(Send(edge, h, "x", &st).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer(h.transfer_id()).status()));
  edge.keys().unavailable = false;
  ASSERT_TRUE(Send(edge, h, "x", &st).ok());
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
}

TEST(ExchangeServiceTest, PersonsAddUpAcrossTransfersToCrossAThreshold) {
  TempDir dir;
  TestEdge edge(dir, "CN");
  v1::TransferHeader h = Header("persons-transfer-01", "VN", "customer.contact");
  h.set_persons(60000);
  v1::TransferStatus st;
  ASSERT_TRUE(Send(edge, h, "name\nAn\n", &st).ok());
  EXPECT_EQ(st.decision().decision(), "MASK");
  EXPECT_EQ(st.decision().rules(0), "CN-PI-001");
  h.set_transfer_id("persons-transfer-02");
  ASSERT_TRUE(Send(edge, h, "name\nBinh\n", &st).ok());
  EXPECT_EQ(st.decision().decision(), "REVIEW");
  EXPECT_EQ(st.decision().rules(0), "CN-PI-002");
  int year = 0;
  for (int y = 2020; y < 2200 && year == 0; ++y) {
    if (edge.store().PersonsSent("sender-co", y) > 0) year = y;
  }
  EXPECT_EQ(edge.store().PersonsSent("sender-co", year), 120000u);
  // A refused transfer does not count.
  v1::TransferHeader deny = Header("persons-transfer-03", "VN", "infrastructure.critical");
  deny.set_persons(5);
  ASSERT_TRUE(Send(edge, deny, "x", &st).ok());
  EXPECT_EQ(st.state(), v1::DENIED);
  EXPECT_EQ(edge.store().PersonsSent("sender-co", year), 120000u);
}

// Streams `data[from..]` in `piece`-byte messages; `last` on the final one
// unless `interrupt_after` bytes were sent.
grpc::Status Stream(TestEdge& edge, const v1::TransferHeader& h, const std::string& data,
                    size_t from, size_t piece, size_t stop_at, v1::TransferStatus* st) {
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, "sender-co", edge.self().country);
  auto writer = edge.stub().SendStream(&ctx, st);
  bool first = true;
  for (size_t off = from; off < stop_at || first; off += piece) {
    v1::SendChunk c;
    if (first) *c.mutable_header() = h;
    first = false;
    c.set_offset(off);
    size_t n = std::min(piece, stop_at > off ? stop_at - off : 0);
    c.set_data(data.substr(off, n));
    c.set_last(off + n == data.size());
    if (!writer->Write(c)) break;
    if (c.last()) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

TEST(ExchangeServiceTest, SendStreamResumesAfterAnInterruptedStream) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  std::string data;
  for (int i = 0; data.size() < (size_t{5} << 20) + 123; ++i) {
    absl::StrAppend(&data, "MSCU", 1000000 + i, ",Haiphong,Nansha,2026-12-01\n");
  }
  v1::TransferHeader h = Header("stream-transfer-01", "CN", "logistics.track");
  h.set_total_size(data.size());
  const size_t piece = size_t{512} << 10;
  v1::TransferStatus st;
  // The first stream stops at 2 MiB without `last`.
  grpc::Status s = Stream(edge, h, data, 0, piece, size_t{2} << 20, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  grpc::ClientContext gctx;
  TestEdge::As(&gctx, "sender-co", "VN");
  v1::GetTransferRequest get;
  get.set_transfer_id(h.transfer_id());
  ASSERT_TRUE(edge.stub().GetTransfer(&gctx, get, &st).ok());
  EXPECT_EQ(st.state(), v1::RECEIVING);
  ASSERT_EQ(st.size(), size_t{2} << 20);
  // Resuming from the wrong offset is refused with the right one.
  s = Stream(edge, h, data, st.size() + piece, piece, data.size(), &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find(absl::StrCat("offset ", size_t{2} << 20)), std::string::npos)
      << s.error_message();
  ASSERT_TRUE(Stream(edge, h, data, size_t{2} << 20, piece, data.size(), &st).ok());
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
  EXPECT_EQ(st.size(), data.size());
  EXPECT_TRUE(st.steps().contains("RECEIVING"));
  EXPECT_EQ(OpenOutbox(edge, h.transfer_id()), data);
  EXPECT_EQ(edge.store().outbox().items, 2u);  // 6 chunks in slices of 4
  // A retry of the finished stream gets the first answer.
  v1::TransferStatus again;
  ASSERT_TRUE(Stream(edge, h, data, 0, piece, piece, &again).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(again, st));
}

TEST(ExchangeServiceTest, SendStreamMasksLargeCsv) {
  TempDir dir;
  TestEdge edge(dir, "SG");
  std::string data = "name,phone\n";
  for (int i = 0; data.size() < (size_t{3} << 20); ++i) {
    absl::StrAppend(&data, "Person ", i, ",1380013", 8000 + i % 1000, "\n");
  }
  v1::TransferHeader h = Header("stream-mask-00001", "CN", "customer.contact");
  h.add_attested("asean-mcc");
  h.set_content_type("text/csv");
  v1::TransferStatus st;
  ASSERT_TRUE(Stream(edge, h, data, 0, size_t{1} << 20, data.size(), &st).ok());
  EXPECT_EQ(st.decision().decision(), "MASK");
  std::string sealed = OpenOutbox(edge, h.transfer_id());
  EXPECT_EQ(sealed.find("13800138000"), std::string::npos);
  EXPECT_NE(sealed.find("138****8000"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(dir / "exchange") == false);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".masking-"), std::string::npos);
  }
}

TEST(ExchangeServiceTest, SendStreamOfAnEmptyPayload) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferStatus st;
  ASSERT_TRUE(
      Stream(edge, Header("empty-stream-00001", "CN", "logistics.track"), "", 0, 1, 0, &st).ok());
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
  EXPECT_EQ(st.size(), 0u);
  EXPECT_EQ(OpenOutbox(edge, "empty-stream-00001"), "");
}

TEST(ExchangeServiceTest, SendManyAnswersEachRequestInOrder) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  std::vector<v1::TransferStatus> answers =
      SendManyAll(edge, {Request("many-transfer-0001", "logistics.track", "data"),
                         Request("many-transfer-0002", "infrastructure.critical", "data"),
                         Request("bad", "logistics.track", "data"),
                         Request("many-transfer-0003", "logistics.track", "data")});
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[0].state(), v1::IN_FLIGHT);
  EXPECT_EQ(answers[1].state(), v1::DENIED);
  EXPECT_EQ(answers[2].state(), v1::TRANSFER_STATE_UNSPECIFIED);
  EXPECT_NE(answers[2].detail().find("INVALID_ARGUMENT"), std::string::npos);
  EXPECT_EQ(answers[3].transfer_id(), "many-transfer-0003");
  EXPECT_EQ(OutboxTransfers(edge), 2u);
}

// Group commit: many pipelined requests, with duplicates inside the stream;
// every answer in request order, one transfer per id, and the outbox in the
// order the sends were answered.
TEST(ExchangeServiceTest, SendManyGroupCommitKeepsOrderAndIdempotency) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  constexpr int kCount = 300;
  std::vector<std::string> ids;
  std::vector<v1::SendRequest> reqs;
  for (int i = 0; i < kCount; ++i) {
    // Every 10th request repeats the previous id with the same payload; the
    // 7th of every 50 reuses an id with other content.
    int n = (i % 10 == 9) ? i - 1 : i;
    std::string payload = absl::StrCat("data ", n);
    if (i % 50 == 7) {
      n = i - 1;
      payload = "other content";
    }
    ids.push_back(absl::StrCat("group-transfer-", n));
    reqs.push_back(Request(ids.back(), "logistics.track", payload));
  }
  std::vector<v1::TransferStatus> answers = SendManyAll(edge, reqs);
  ASSERT_EQ(answers.size(), static_cast<size_t>(kCount));
  std::vector<std::string> answered;  // ids answered IN_FLIGHT for the first time
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(answers[i].transfer_id(), ids[i]) << i;
    if (i % 50 == 7) {
      EXPECT_NE(answers[i].detail().find("ALREADY_EXISTS"), std::string::npos) << i;
      continue;
    }
    EXPECT_EQ(answers[i].state(), v1::IN_FLIGHT) << i;
    if (i % 10 == 9) {
      EXPECT_TRUE(MessageDifferencer::Equals(answers[i], answers[i - 1])) << i;
    } else {
      answered.push_back(ids[i]);
    }
  }
  std::vector<std::string> outbox;
  const std::vector<v1::Envelope> items =
      edge.store().ReadOutbox(0, 10000, size_t{1} << 40).value();
  for (const v1::Envelope& env : items) {
    v1::EnvelopeHeader h;
    ASSERT_TRUE(h.ParseFromString(env.header()));
    outbox.push_back(h.transfer_id());
  }
  EXPECT_EQ(outbox, answered);
}

// A request that failed retryably (destination keys not known yet) is resent
// by the client; a later request of the same stream must not be committed
// before it, or it would be delivered first.
TEST(ExchangeServiceTest, SendManyHoldsBackRequestsAfterARetryableFailure) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  const std::string first = "retry-order-000001", second = "retry-order-000002";
  auto send = [&](grpc::ClientReaderWriter<v1::SendRequest, v1::TransferStatus>& stream,
                  const std::string& id) {
    v1::SendRequest req;
    *req.mutable_header() = Header(id, "CN", "logistics.track");
    req.set_payload("data " + id);
    v1::TransferStatus st;
    EXPECT_TRUE(stream.Write(req));
    EXPECT_TRUE(stream.Read(&st));
    return st;
  };
  {
    grpc::ClientContext ctx;
    TestEdge::As(&ctx, "sender-co", "VN");
    auto stream = edge.stub().SendMany(&ctx);
    edge.keys().unavailable = true;
    v1::TransferStatus a = send(*stream, first);
    EXPECT_NE(a.detail().find("UNAVAILABLE"), std::string::npos) << a.ShortDebugString();
    edge.keys().unavailable = false;
    v1::TransferStatus b = send(*stream, second);
    EXPECT_NE(b.detail().find("ABORTED"), std::string::npos) << b.ShortDebugString();
    EXPECT_NE(b.detail().find(first), std::string::npos) << b.ShortDebugString();
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer(second).status()));
  // The client resends from the failed one: both accepted, in order.
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, "sender-co", "VN");
  auto stream = edge.stub().SendMany(&ctx);
  EXPECT_EQ(send(*stream, first).state(), v1::IN_FLIGHT);
  EXPECT_EQ(send(*stream, second).state(), v1::IN_FLIGHT);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  const std::vector<v1::Envelope> items = edge.store().ReadOutbox(0, 10, size_t{1} << 20).value();
  ASSERT_EQ(items.size(), 2u);
  v1::EnvelopeHeader h0, h1;
  ASSERT_TRUE(h0.ParseFromString(items[0].header()));
  ASSERT_TRUE(h1.ParseFromString(items[1].header()));
  EXPECT_EQ(h0.transfer_id(), first);
  EXPECT_EQ(h1.transfer_id(), second);
}

TEST(ExchangeServiceTest, GetTransferOnlyForItsSender) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferStatus st;
  ASSERT_TRUE(Send(edge, Header("visible-transfer-1", "CN", "logistics.track"), "x", &st).ok());
  v1::GetTransferRequest get;
  get.set_transfer_id("visible-transfer-1");
  grpc::ClientContext other;
  TestEdge::As(&other, "other-co", "VN");
  EXPECT_EQ(edge.stub().GetTransfer(&other, get, &st).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext owner;
  TestEdge::As(&owner, "sender-co", "VN");
  ASSERT_TRUE(edge.stub().GetTransfer(&owner, get, &st).ok());
  EXPECT_EQ(st.state(), v1::IN_FLIGHT);
}

}  // namespace
}  // namespace beibu::edge::testing

namespace beibu::edge::testing {
namespace {

TEST(PolicyHolderTest, ReplaceNeedsAHigherVersion) {
  auto holder = PolicyHolder::CreateWithBaseline().value();
  std::shared_ptr<const PolicySnapshot> before = holder->current();
  ASSERT_NE(before->detector, nullptr);
  policy::Database same = before->db;
  EXPECT_EQ(holder->Replace(same).code(), absl::StatusCode::kFailedPrecondition);
  policy::Database next = before->db;
  next.version += 1;
  ASSERT_TRUE(holder->Replace(next).ok());
  EXPECT_EQ(holder->current()->db.version, before->db.version + 1);
  EXPECT_EQ(before->db.version, same.version);  // a snapshot taken earlier is unchanged
}

TEST(ExchangeServiceTest, EngineRefusalsAreInvalidArgument) {
  beibu::testing::TempDir dir;
  TestEdge edge(dir, "VN");
  v1::TransferHeader h;
  h.set_transfer_id("unknown-mechanism-1");
  h.set_to_country("CN");
  h.set_to_enterprise("recipient-co");
  h.set_category("logistics.track");
  h.add_attested("no-such-mechanism");
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, "sender-co", "VN");
  v1::SendRequest req;
  *req.mutable_header() = h;
  v1::TransferStatus st;
  grpc::Status s = edge.stub().Send(&ctx, req, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("no-such-mechanism"), std::string::npos) << s.error_message();
  EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer(h.transfer_id()).status()));
}

}  // namespace
}  // namespace beibu::edge::testing

namespace beibu::edge::testing {
namespace {

// Manual check (BEIBU_BIG_STREAM_MIB=N): a large stream in constant memory;
// run under /usr/bin/time -f %M and compare the peak with N.
TEST(ExchangeServiceTest, BigStreamManual) {
  const char* mib = std::getenv("BEIBU_BIG_STREAM_MIB");
  if (mib == nullptr) GTEST_SKIP() << "set BEIBU_BIG_STREAM_MIB to run";
  beibu::testing::TempDir dir;
  TestEdge edge(dir, "SG");
  v1::TransferHeader h;
  h.set_transfer_id("big-stream-transfer");
  h.set_to_country("CN");
  h.set_to_enterprise("recipient-co");
  h.set_category("customer.contact");
  h.add_attested("asean-mcc");
  h.set_content_type("text/csv");
  std::string piece;
  for (int i = 0; piece.size() < (size_t{1} << 20) - 64; ++i) {
    absl::StrAppend(&piece, "Person ", i, ",1380013", 8000 + i % 1000, "\n");
  }
  grpc::ClientContext ctx;
  TestEdge::As(&ctx, "sender-co", "SG");
  v1::TransferStatus st;
  auto writer = edge.stub().SendStream(&ctx, &st);
  uint64_t off = 0;
  const int n = std::atoi(mib);
  for (int i = 0; i < n; ++i) {
    v1::SendChunk c;
    if (i == 0) *c.mutable_header() = h;
    c.set_offset(off);
    c.set_data(i == 0 ? "name,phone\n" + piece : piece);
    off += c.data().size();
    c.set_last(i + 1 == n);
    ASSERT_TRUE(writer->Write(c));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(st.decision().decision(), "MASK");
  EXPECT_EQ(st.size(), off);
}

}  // namespace
}  // namespace beibu::edge::testing

// SendBatches and InboxBatches: SendMany and Inbox packed into fewer
// messages, with the same answers and deliveries.
namespace beibu::edge::testing {
namespace {

using beibu::testing::TempDir;
using google::protobuf::util::MessageDifferencer;

// A mix of every kind of answer: FAST, DENY, a retry of the same id and
// content, the same id with other content, an invalid header, more FAST.
std::vector<v1::SendRequest> MixedRequests() {
  return {Request("mixed-transfer-0001", "logistics.track", "data 1"),
          Request("mixed-transfer-0002", "infrastructure.critical", "grid"),
          Request("mixed-transfer-0001", "logistics.track", "data 1"),
          Request("mixed-transfer-0001", "logistics.track", "other content"),
          Request("bad", "logistics.track", "data"),
          Request("mixed-transfer-0003", "logistics.track", "data 3"),
          Request("mixed-transfer-0002", "infrastructure.critical", "grid"),
          Request("mixed-transfer-0004", "logistics.track", "data 4")};
}

// Sends `batches` on one SendBatches stream; every answer in order, the
// number of answer messages, and the stream's final status.
struct BatchAnswers {
  std::vector<v1::TransferStatus> answers;
  size_t messages = 0;
  grpc::Status status;
};
BatchAnswers SendBatchesAll(TestEdge& edge, const std::vector<v1::SendBatch>& batches) {
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "sender-co", edge.self().country);
  auto stream = edge.stub().SendBatches(&ctx);
  for (const v1::SendBatch& b : batches) {
    if (!stream->Write(b)) break;  // the server may end the stream (empty batch)
  }
  stream->WritesDone();
  BatchAnswers out;
  v1::TransferStatusBatch msg;
  while (stream->Read(&msg)) {
    ++out.messages;
    EXPECT_GT(msg.statuses_size(), 0);
    for (const v1::TransferStatus& st : msg.statuses()) out.answers.push_back(st);
  }
  out.status = stream->Finish();
  return out;
}

std::vector<v1::SendBatch> Split(const std::vector<v1::SendRequest>& reqs,
                                 const std::vector<size_t>& sizes) {
  std::vector<v1::SendBatch> batches;
  size_t next = 0;
  for (size_t n : sizes) {
    v1::SendBatch b;
    for (size_t i = 0; i < n; ++i) *b.add_requests() = reqs.at(next++);
    batches.push_back(b);
  }
  EXPECT_EQ(next, reqs.size());
  return batches;
}

// An answer without its timestamps (two edges never reach a step at the
// same instant).
v1::TransferStatus Timeless(v1::TransferStatus st) {
  st.clear_steps();
  return st;
}

TEST(ExchangeBatchesTest, SendBatchesAnswersLikeSendManyInOrder) {
  const std::vector<v1::SendRequest> reqs = MixedRequests();
  TempDir many_dir, batch_dir;
  TestEdge many_edge(many_dir, "VN"), batch_edge(batch_dir, "VN");
  const std::vector<v1::TransferStatus> expected = SendManyAll(many_edge, reqs);
  ASSERT_EQ(expected.size(), reqs.size());
  BatchAnswers got = SendBatchesAll(batch_edge, Split(reqs, {3, 1, 4}));
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  ASSERT_EQ(got.answers.size(), reqs.size());
  EXPECT_LE(got.messages, reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(got.answers[i].transfer_id(), reqs[i].header().transfer_id()) << i;
    EXPECT_TRUE(MessageDifferencer::Equals(Timeless(got.answers[i]), Timeless(expected[i])))
        << i << "\nSendBatches: " << got.answers[i].ShortDebugString()
        << "\nSendMany:    " << expected[i].ShortDebugString();
  }
  // What each kind of answer is (so that two wrong services cannot agree).
  EXPECT_EQ(got.answers[0].state(), v1::IN_FLIGHT);
  EXPECT_EQ(got.answers[1].state(), v1::DENIED);
  EXPECT_TRUE(MessageDifferencer::Equals(got.answers[2], got.answers[0]));  // the first answer
  EXPECT_EQ(got.answers[3].state(), v1::TRANSFER_STATE_UNSPECIFIED);
  EXPECT_EQ(got.answers[3].detail().rfind("ALREADY_EXISTS: ", 0), 0u) << got.answers[3].detail();
  EXPECT_EQ(got.answers[4].detail().rfind("INVALID_ARGUMENT: ", 0), 0u) << got.answers[4].detail();
  EXPECT_EQ(got.answers[5].state(), v1::IN_FLIGHT);
  EXPECT_TRUE(MessageDifferencer::Equals(got.answers[6], got.answers[1]));
  EXPECT_EQ(got.answers[7].state(), v1::IN_FLIGHT);
  // One transfer per id, in the outbox in the order they were answered.
  std::vector<std::string> outbox;
  const std::vector<v1::Envelope> items =
      batch_edge.store().ReadOutbox(0, 100, size_t{1} << 30).value();
  for (const v1::Envelope& env : items) {
    v1::EnvelopeHeader h;
    ASSERT_TRUE(h.ParseFromString(env.header()));
    outbox.push_back(h.transfer_id());
  }
  EXPECT_EQ(outbox, (std::vector<std::string>{"mixed-transfer-0001", "mixed-transfer-0003",
                                              "mixed-transfer-0004"}));
  // Another split of the same requests on the same edge: every answer is now
  // a replay, still in order.
  BatchAnswers again = SendBatchesAll(batch_edge, Split(reqs, {1, 6, 1}));
  ASSERT_TRUE(again.status.ok());
  ASSERT_EQ(again.answers.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(again.answers[i], got.answers[i])) << i;
  }
}

// The ABORTED rule holds across batches: after a retryable failure, the
// later requests of the stream are not stored.
TEST(ExchangeBatchesTest, SendBatchesHoldsBackRequestsAfterARetryableFailure) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "sender-co", "VN");
  auto stream = edge.stub().SendBatches(&ctx);
  edge.keys().unavailable = true;
  ASSERT_TRUE(
      stream->Write(Split({Request("batch-retry-000001", "logistics.track", "a")}, {1})[0]));
  std::vector<v1::TransferStatus> answers;
  v1::TransferStatusBatch msg;
  while (answers.size() < 1 && stream->Read(&msg)) {
    answers.insert(answers.end(), msg.statuses().begin(), msg.statuses().end());
  }
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].detail().rfind("UNAVAILABLE: ", 0), 0u) << answers[0].ShortDebugString();
  edge.keys().unavailable = false;
  ASSERT_TRUE(stream->Write(Split({Request("batch-retry-000002", "logistics.track", "b"),
                                   Request("batch-retry-000003", "logistics.track", "c")},
                                  {2})[0]));
  stream->WritesDone();
  while (stream->Read(&msg)) {
    answers.insert(answers.end(), msg.statuses().begin(), msg.statuses().end());
  }
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(answers.size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(answers[i].detail().rfind("ABORTED: ", 0), 0u) << answers[i].ShortDebugString();
    EXPECT_NE(answers[i].detail().find("batch-retry-000001"), std::string::npos);
    EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer(answers[i].transfer_id()).status()));
  }
}

TEST(ExchangeBatchesTest, OverSizeBatchIsRefusedPerRequestAndEmptyBatchEndsTheStream) {
  TempDir dir;
  TestEdge edge(dir, "VN");
  // Each payload alone is within Send's 4 MiB; together they are not.
  const std::string three_mib(size_t{3} << 20, 'a');
  std::vector<v1::SendBatch> batches =
      Split({Request("size-transfer-0001", "logistics.track", "small"),
             Request("size-transfer-0002", "logistics.track", three_mib),
             Request("size-transfer-0003", "logistics.track", three_mib),
             Request("size-transfer-0004", "logistics.track", "small")},
            {1, 2, 1});
  batches.emplace_back();  // no request
  // Never read: the stream ended at the empty batch.
  batches.push_back(Split({Request("size-transfer-0005", "logistics.track", "x")}, {1})[0]);
  BatchAnswers got = SendBatchesAll(edge, batches);
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(got.status.error_message().find("no request"), std::string::npos)
      << got.status.error_message();
  // Every request before the empty batch is answered, in step.
  ASSERT_EQ(got.answers.size(), 4u);
  EXPECT_EQ(got.answers[0].state(), v1::IN_FLIGHT);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(got.answers[i].transfer_id(), absl::StrCat("size-transfer-000", i + 1));
    EXPECT_EQ(got.answers[i].state(), v1::TRANSFER_STATE_UNSPECIFIED);
    EXPECT_EQ(got.answers[i].detail().rfind("INVALID_ARGUMENT: ", 0), 0u)
        << got.answers[i].detail();
    EXPECT_NE(got.answers[i].detail().find("fewer requests per batch"), std::string::npos)
        << got.answers[i].detail();
    EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer(got.answers[i].transfer_id()).status()));
  }
  // The stream went on after the refused batch.
  EXPECT_EQ(got.answers[3].transfer_id(), "size-transfer-0004");
  EXPECT_EQ(got.answers[3].state(), v1::IN_FLIGHT);
  EXPECT_TRUE(absl::IsNotFound(edge.store().GetTransfer("size-transfer-0005").status()));
  EXPECT_EQ(OutboxTransfers(edge), 2u);
}

// A transfer the peer edge sealed for `to_enterprise` of this edge, stored
// as it arrives from the hub (1 MiB chunks, four per slice).
void ReceiveFromPeer(TestEdge& edge, const std::string& id, const std::string& to_enterprise,
                     const std::string& payload, uint64_t sequence) {
  std::vector<IncomingPart> parts;
  uint64_t hub_sequence = sequence * 100;
  for (v1::Envelope& e : SealedByPeer(edge.keys(), id, to_enterprise, payload, size_t{1} << 20, 4,
                                      sequence, [&](v1::EnvelopeHeader& h) {
                                        h.add_rules("G-FAST-001");
                                        h.mutable_accepted_at()->set_seconds(
                                            1790000000 + static_cast<int64_t>(sequence));
                                      })) {
    parts.push_back({hub_sequence++, std::move(e)});
  }
  ASSERT_TRUE(edge.store().StoreIncoming(parts).ok());
}

// Reads until `transfers` deliveries are complete (a part with `last`).
std::vector<v1::Delivery> ReadDeliveries(grpc::ClientReader<v1::Delivery>* reader,
                                         size_t transfers) {
  std::vector<v1::Delivery> out;
  v1::Delivery d;
  size_t complete = 0;
  while (complete < transfers && reader->Read(&d)) {
    complete += d.last() ? 1 : 0;
    out.push_back(d);
  }
  return out;
}

// The same from InboxBatches; `sizes` gets each message's number of parts.
std::vector<v1::Delivery> ReadBatches(grpc::ClientReader<v1::DeliveryBatch>* reader,
                                      size_t transfers, std::vector<size_t>* sizes) {
  std::vector<v1::Delivery> out;
  v1::DeliveryBatch b;
  size_t complete = 0;
  while (complete < transfers && reader->Read(&b)) {
    sizes->push_back(static_cast<size_t>(b.deliveries_size()));
    for (const v1::Delivery& d : b.deliveries()) {
      complete += d.last() ? 1 : 0;
      out.push_back(d);
    }
  }
  return out;
}

void Acknowledge(TestEdge& edge, const std::vector<std::string>& ids) {
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "cn-co", "CN");
  v1::AckRequest ack;
  for (const std::string& id : ids) ack.add_transfer_ids(id);
  v1::AckResponse resp;
  ASSERT_TRUE(edge.stub().Ack(&ctx, ack, &resp).ok());
  EXPECT_EQ(resp.acknowledged(), ids.size());
}

TEST(ExchangeBatchesTest, InboxBatchesPacksTheDeliveriesInboxGives) {
  TempDir dir;
  TestEdge edge(dir, "CN");
  constexpr size_t kTransfers = 6;
  for (size_t i = 0; i < kTransfers; ++i) {
    ReceiveFromPeer(edge, absl::StrCat("packed-transfer-00", i), "cn-co",
                    std::string(1024, static_cast<char>('a' + i)), i + 1);
  }
  ReceiveFromPeer(edge, "packed-transfer-other", "cn-other", "not yours", 50);
  std::vector<v1::Delivery> expected;
  {
    grpc::ClientContext ctx;
    WithDeadline(&ctx);
    TestEdge::As(&ctx, "cn-co", "CN");
    auto reader = edge.stub().Inbox(&ctx, v1::InboxRequest());
    expected = ReadDeliveries(reader.get(), kTransfers);
    ctx.TryCancel();
  }
  ASSERT_EQ(expected.size(), kTransfers);
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "cn-co", "CN");
  auto reader = edge.stub().InboxBatches(&ctx, v1::InboxRequest());
  std::vector<size_t> sizes;
  std::vector<v1::Delivery> got = ReadBatches(reader.get(), kTransfers, &sizes);
  ctx.TryCancel();
  ASSERT_EQ(got.size(), kTransfers);
  // All were pending when the stream opened: one read, one message.
  EXPECT_LT(sizes.size(), kTransfers);
  EXPECT_EQ(sizes, std::vector<size_t>{kTransfers});
  for (size_t i = 0; i < kTransfers; ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(got[i], expected[i]))
        << i << "\nInboxBatches: " << got[i].ShortDebugString().substr(0, 300)
        << "\nInbox:        " << expected[i].ShortDebugString().substr(0, 300);
    EXPECT_EQ(got[i].transfer_id(), absl::StrCat("packed-transfer-00", i));
    EXPECT_EQ(got[i].data(), std::string(1024, static_cast<char>('a' + i)));
    EXPECT_EQ(got[i].payload_sm3(), HexEncode(ByteView(crypto::Sm3::Hash(AsBytes(got[i].data())))));
  }
}

TEST(ExchangeBatchesTest, InboxBatchesKeepsFlowControlAndSplitsLargePayloads) {
  TempDir dir;
  TestEdge edge(dir, "CN");
  for (uint64_t i = 0; i < 3; ++i) {
    ReceiveFromPeer(edge, absl::StrCat("window-transfer-00", i), "cn-co",
                    absl::StrCat("payload ", i), i + 1);
  }
  grpc::ClientContext ctx;
  WithDeadline(&ctx);
  TestEdge::As(&ctx, "cn-co", "CN");
  v1::InboxRequest req;
  req.set_max_unacked(2);
  auto reader = edge.stub().InboxBatches(&ctx, req);
  // The first message holds the window's two, not the third.
  v1::DeliveryBatch b;
  ASSERT_TRUE(reader->Read(&b));
  ASSERT_EQ(b.deliveries_size(), 2);
  EXPECT_EQ(b.deliveries(0).transfer_id(), "window-transfer-000");
  EXPECT_EQ(b.deliveries(1).transfer_id(), "window-transfer-001");
  // An ack frees one slot: the third comes alone.
  Acknowledge(edge, {"window-transfer-000"});
  ASSERT_TRUE(reader->Read(&b));
  ASSERT_EQ(b.deliveries_size(), 1);
  EXPECT_EQ(b.deliveries(0).transfer_id(), "window-transfer-002");
  EXPECT_EQ(b.deliveries(0).data(), "payload 2");
  // A large payload arriving live: its parts in order, across messages of
  // about 1 MiB, payload_sm3 on the last part only.
  Acknowledge(edge, {"window-transfer-001", "window-transfer-002"});
  std::string big;
  for (int i = 0; big.size() < (size_t{2} << 20) + 77; ++i) absl::StrAppend(&big, "row ", i, "\n");
  ReceiveFromPeer(edge, "window-transfer-big", "cn-co", big, 9);
  std::vector<size_t> sizes;
  std::vector<v1::Delivery> parts = ReadBatches(reader.get(), 1, &sizes);
  ctx.TryCancel();
  ASSERT_EQ(parts.size(), 3u);  // three 1 MiB chunks
  EXPECT_GE(sizes.size(), 2u);
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].transfer_id(), "window-transfer-big");
    EXPECT_EQ(parts[i].offset(), joined.size()) << i;
    EXPECT_EQ(parts[i].size(), big.size());
    EXPECT_EQ(parts[i].last(), i + 1 == parts.size()) << i;
    EXPECT_EQ(parts[i].payload_sm3().empty(), i + 1 != parts.size()) << i;
    joined += parts[i].data();
  }
  EXPECT_EQ(joined, big);
  EXPECT_EQ(parts.back().payload_sm3(), HexEncode(ByteView(crypto::Sm3::Hash(AsBytes(big)))));
  // The same parts as Inbox gives for it.
  grpc::ClientContext ictx;
  WithDeadline(&ictx);
  TestEdge::As(&ictx, "cn-co", "CN");
  auto inbox = edge.stub().Inbox(&ictx, v1::InboxRequest());
  std::vector<v1::Delivery> expected = ReadDeliveries(inbox.get(), 1);
  ictx.TryCancel();
  ASSERT_EQ(expected.size(), parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(parts[i], expected[i])) << i;
  }
}

}  // namespace
}  // namespace beibu::edge::testing
