// A 1 GiB file VN -> CN through `beibu send-file`, with the sender killed
// (kill -9) half-way and run again with the same --id: it resumes from the
// edge's staged bytes, the recipient gets a file with the same SM3, and
// neither edge's memory grows with the file (VmHWM).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cluster.h"
#include "exchange_client.h"

namespace beibu::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kFileSize = 1024 * kMiB;

// Pseudo-random bytes with the high bit set: no ASCII, so the scanner finds
// no personal information and the transfer stays FAST.
void WritePattern(const fs::path& path, uint64_t size) {
  std::vector<char> block(kMiB);
  std::mt19937_64 rng(20261127);
  for (char& b : block) b = static_cast<char>(0x80 | (rng() & 0x7f));
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  for (uint64_t i = 0; i < size / kMiB; ++i) {
    for (int k = 0; k < 8; ++k) block[k] = static_cast<char>(0x80 | ((i >> (7 * k)) & 0x7f));
    ASSERT_EQ(std::fwrite(block.data(), 1, block.size(), f), block.size());
  }
  std::fclose(f);
}

std::string Sm3Of(const fs::path& path) {
  RunResult r = Run({"openssl", "dgst", "-sm3", "-r", path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find(' '));
}

// Peak resident set of a process in KiB (VmHWM), -1 if unknown.
long PeakKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class Bulk : public ::testing::Test {
 protected:
  void SetUp() override {
    started_ = std::chrono::steady_clock::now();
    c_.StartHub();
    c_.AddEdge("edge-vn", "VN");
    c_.AddEdge("edge-cn", "CN");
    ASSERT_TRUE(c_.WaitForHealth("edge-vn", "online")) << c_.EdgeLog("edge-vn");
    ASSERT_TRUE(c_.WaitForHealth("edge-cn", "online")) << c_.EdgeLog("edge-cn");
    vn_ = c_.Enroll("vn-a", "enterprise", "VN");
    cn_ = c_.Enroll("cn-a", "enterprise", "CN");
    file_ = c_.dir() / "manifest.bin";
    WritePattern(file_, kFileSize);
    want_sm3_ = Sm3Of(file_);
    id_ = absl::StrCat("bulk-", std::chrono::system_clock::now().time_since_epoch().count());
  }

  // argv of `beibu ARGS --server EDGE --identity WHO`.
  std::vector<std::string> At(const std::string& edge, const fs::path& who,
                              std::vector<std::string> args) const {
    args.insert(args.begin(), BinPath("beibu"));
    for (const std::string& a :
         {std::string("--server"), c_.EdgeAddress(edge), std::string("--identity"), who.string()}) {
      args.push_back(a);
    }
    return args;
  }
  std::vector<std::string> SendFileArgv() const {
    return At(
        "edge-vn", vn_,
        {"send-file", file_.string(), "--id", id_, "--to", "CN", "--to-enterprise", "cn-a",
         "--category", "logistics.track", "--content-type", "application/octet-stream", "--json"});
  }
  // Bytes edge-vn holds of the transfer (GetTransfer size); -1 if unknown.
  int64_t Staged() const {
    std::vector<std::string> args = At("edge-vn", vn_, {"transfer", id_, "--json"});
    args.erase(args.begin());
    RunResult r = c_.Beibu(args);
    if (r.exit_code != 0) return -1;
    json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("size")) return 0;
    return std::stoll(j["size"].get<std::string>());
  }

  // Runs `beibu send-file --id` again and checks that it finishes without the
  // edge's staged bytes going below `resumed_from`.
  void ResumeWithTheCli(int64_t resumed_from) {
    auto t0 = std::chrono::steady_clock::now();
    Daemon second = Daemon::Start(SendFileArgv(), c_.dir() / "send-2.log");
    std::atomic<bool> done{false};
    std::atomic<int64_t> lowest{resumed_from};
    std::thread watch([&] {
      while (!done) {
        int64_t s = Staged();
        if (s >= 0 && s < lowest) lowest = s;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    int rc = second.Wait();
    done = true;
    watch.join();
    resume_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string out = ReadFile(c_.dir() / "send-2.log");
    ASSERT_EQ(rc, 0) << "send-file with the same --id failed: " << out;
    EXPECT_GE(lowest.load(), resumed_from) << "the edge's staged bytes went back";
    ASSERT_NE(out.find('{'), std::string::npos) << out;
    json st = json::parse(out.substr(out.find('{')), nullptr, false);
    ASSERT_FALSE(st.is_discarded()) << out;
    EXPECT_EQ(st["decision"].value("decision", ""), "FAST") << out;
    EXPECT_EQ(st.value("size", ""), std::to_string(kFileSize)) << out;
    EXPECT_EQ(st.value("payload_sm3", ""), want_sm3_) << out;
  }

  // The recipient reads it with `beibu inbox --out --ack`: same SM3; then
  // both edges' peak memory.
  void ReceiveAndCheckMemory() {
    auto t0 = std::chrono::steady_clock::now();
    fs::path inbox = c_.dir() / "inbox";
    std::vector<std::string> recv = At("edge-cn", cn_, {"inbox", "--out", inbox.string(), "--ack"});
    recv.erase(recv.begin());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(8);
    std::string last;
    while (!fs::exists(inbox / id_) && std::chrono::steady_clock::now() < deadline) {
      RunResult r = c_.Beibu(recv);
      last = r.out + r.err;
      if (!fs::exists(inbox / id_)) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    receive_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(fs::exists(inbox / id_)) << last << "\n" << c_.EdgeLog("edge-cn");
    EXPECT_EQ(fs::file_size(inbox / id_), kFileSize);
    EXPECT_EQ(Sm3Of(inbox / id_), want_sm3_);

    const long vn_kib = PeakKiB(c_.EdgePid("edge-vn"));
    const long cn_kib = PeakKiB(c_.EdgePid("edge-cn"));
    EXPECT_GT(vn_kib, 0);
    EXPECT_GT(cn_kib, 0);
    // Bounded whatever the file size, not small: RocksDB's buffers and cache
    // plus what the secure channel queues for one session (at most 256 MiB;
    // the tunnel has no per-call flow control yet, so a slow inbox reader lets
    // the destination queue up to that much). Seen: 243-412 MiB for 1 GiB.
    constexpr long kBoundKiB = 640 * 1024;
    EXPECT_LT(vn_kib, kBoundKiB) << "edge-vn peak RSS " << vn_kib << " KiB";
    EXPECT_LT(cn_kib, kBoundKiB) << "edge-cn peak RSS " << cn_kib << " KiB";
    std::printf(
        "bulk: first part %.1f s (stopped at %lld bytes); resumed send-file %.1f s; delivered "
        "and read %.1f s; VmHWM edge-vn %ld KiB, edge-cn %ld KiB; test %.1f s\n",
        first_s_, static_cast<long long>(stopped_at_), resume_s_, receive_s_, vn_kib, cn_kib,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  }

  std::chrono::steady_clock::time_point started_;
  Cluster c_;
  fs::path vn_, cn_, file_;
  std::string want_sm3_, id_;
  double first_s_ = 0, resume_s_ = 0, receive_s_ = 0;
  int64_t stopped_at_ = 0;
};

// As specified: `beibu send-file` killed (-9) half-way, run again with --id.
TEST_F(Bulk, SendFileKilledHalfWayResumesWithTheSameId) {
  auto t0 = std::chrono::steady_clock::now();
  Daemon first = Daemon::Start(SendFileArgv(), c_.dir() / "send-1.log");
  int64_t before_kill = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    before_kill = Staged();
    if (before_kill >= static_cast<int64_t>(kFileSize / 2)) break;
    if (ReadFile(c_.dir() / "send-1.log").find("gave up") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  first.Signal(SIGKILL);
  first.Wait();
  first_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stopped_at_ = before_kill;
  ASSERT_GE(before_kill, static_cast<int64_t>(kFileSize / 2))
      << "bug: the sender gave up on its own before half of the file reached the edge: "
      << ReadFile(c_.dir() / "send-1.log");
  ASSERT_LT(before_kill, static_cast<int64_t>(kFileSize)) << "the sender finished before the kill";
  const int64_t after_kill = Staged();
  ASSERT_GE(after_kill, before_kill);
  ResumeWithTheCli(after_kill);
  if (HasFatalFailure()) return;
  ReceiveAndCheckMemory();
}

// The same path with a sender that paces itself on the edge's staged bytes
// (the tunnel has no per-call flow control), dropped abruptly at 7/8 of the
// file; `beibu send-file --id` sends the rest.
// Manual (3 min): --gtest_also_run_disabled_tests.
TEST_F(Bulk, DISABLED_PacedStreamDroppedThenResumedByTheCli) {
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t stop_at = kFileSize / 8 * 7;
  {
    auto data = ConnectAs(vn_, c_.EdgeAddress("edge-vn"));
    ASSERT_TRUE(data.ok()) << data.status();
    auto control = ConnectAs(vn_, c_.EdgeAddress("edge-vn"));
    ASSERT_TRUE(control.ok()) << control.status();
    v1::TransferHeader h = Header(id_, "CN", "cn-a", "logistics.track");
    h.set_content_type("application/octet-stream");
    h.set_file_name(file_.filename().string());
    h.set_total_size(kFileSize);
    std::unique_ptr<rpc::TunnelCall> call = (*data)->StartCall("/beibu.v1.Exchange/SendStream");
    std::FILE* f = std::fopen(file_.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    std::vector<char> buf(kMiB);
    uint64_t edge_has = 0;
    for (uint64_t pos = 0; pos < stop_at; pos += kMiB) {
      ASSERT_EQ(std::fread(buf.data(), 1, kMiB, f), kMiB);
      v1::SendChunk chunk;
      if (pos == 0) *chunk.mutable_header() = h;
      chunk.set_offset(pos);
      chunk.set_data(buf.data(), kMiB);
      absl::Status w = call->Write(chunk);
      ASSERT_TRUE(w.ok()) << w << " at byte " << pos;
      while (pos + kMiB > edge_has + 32 * kMiB) {
        v1::GetTransferRequest req;
        req.set_transfer_id(id_);
        v1::TransferStatus st;
        if ((*control)->Call("/beibu.v1.Exchange/GetTransfer", req, &st).ok()) {
          edge_has = st.size();
        }
        if (pos + kMiB > edge_has + 32 * kMiB) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    }
    std::fclose(f);
    call->Cancel();  // as if the sender died: no last chunk, no half-close
    (*data)->Close();
  }
  first_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stopped_at_ = Staged();
  ASSERT_GE(stopped_at_, static_cast<int64_t>(kFileSize / 2));
  ASSERT_LE(stopped_at_, static_cast<int64_t>(stop_at));
  ResumeWithTheCli(stopped_at_);
  if (HasFatalFailure()) return;
  ReceiveAndCheckMemory();
}

}  // namespace
}  // namespace beibu::testing
