#include "exchange_client.h"

#include <condition_variable>
#include <map>

#include "absl/strings/str_cat.h"
#include "beibu/daemon/identity_files.h"

namespace beibu::testing {

absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> ConnectAs(const std::filesystem::path& identity,
                                                            const std::string& address) {
  absl::StatusOr<channel::Credentials> creds = daemon::LoadCredentials(
      (identity / "key.pem").string(), (identity / "cert.pem").string());
  if (!creds.ok()) return creds.status();
  absl::StatusOr<std::shared_ptr<pki::TrustBundle>> trust =
      daemon::LoadTrustBundle((identity / "trust-bundle.pem").string());
  if (!trust.ok()) return trust.status();
  channel::HandshakeConfig hs;
  hs.credentials = *std::move(creds);
  hs.trust = *std::move(trust);
  hs.allowed_peer_roles = {pki::Role::kEdge, pki::Role::kHub};
  return rpc::TunnelClient::Connect({.address = address,
                                     .handshake = std::move(hs),
                                     .connect_timeout = std::chrono::milliseconds(2000)});
}

v1::TransferHeader Header(const std::string& id, const std::string& to_country,
                          const std::string& to_enterprise, const std::string& category) {
  v1::TransferHeader h;
  h.set_transfer_id(id);
  h.set_to_country(to_country);
  h.set_to_enterprise(to_enterprise);
  h.set_category(category);
  h.set_content_type("text/plain");
  return h;
}

absl::Status StreamSender::Run(std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  size_t next_unanswered = 0;
  absl::Status last = absl::OkStatus();
  while (next_unanswered < count) {
    if (std::chrono::steady_clock::now() > until) {
      return absl::DeadlineExceededError(absl::StrCat(next_unanswered, " of ", count,
                                                      " answered; last error: ", last.message()));
    }
    absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = ConnectAs(identity, address());
    if (!client.ok()) {
      last = client.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    ++reconnects;
    std::unique_ptr<rpc::TunnelCall> call = (*client)->StartCall("/beibu.v1.Exchange/SendMany");
    std::mutex mu;
    std::condition_variable cv;
    size_t written = next_unanswered;
    bool broken = false;
    std::thread reader([&] {
      v1::TransferStatus st;
      while (call->Read(&st)) {
        std::lock_guard<std::mutex> lock(mu);
        if (st.state() == v1::TRANSFER_STATE_UNSPECIFIED) {
          // An error answered in the stream (e.g. the destination's keys are
          // not known yet): not acknowledged; retry from here on a new stream.
          last = absl::UnavailableError(st.detail());
          broken = true;
          break;
        }
        if (st.transfer_id() != absl::StrCat(id_prefix, next_unanswered)) {
          last = absl::InternalError("answer out of order: " + st.transfer_id());
          broken = true;
          break;
        }
        acknowledged.push_back(st.transfer_id());
        ++next_unanswered;
        cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu);
      broken = true;
      cv.notify_all();
    });
    while (true) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return broken || next_unanswered == count || written - next_unanswered < window; });
      if (broken || written == count) break;
      size_t i = written++;
      lock.unlock();
      v1::SendRequest req;
      *req.mutable_header() = Header(absl::StrCat(id_prefix, i), to_country, to_enterprise,
                                     "logistics.track");
      req.set_payload(absl::StrCat("container ", id_prefix, i, " left the port"));
      if (!call->Write(req).ok()) break;
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      if (written == count && !broken) {
        lock.unlock();
        (void)call->WritesDone();
        lock.lock();
      }
      cv.wait(lock, [&] { return broken || next_unanswered == count; });
    }
    if (next_unanswered < count) call->Cancel();
    reader.join();
    if (next_unanswered < count) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    absl::Status fin = call->Finish();
    if (!fin.ok()) last = fin;
  }
  return absl::OkStatus();
}

InboxDrain::InboxDrain(std::function<std::string()> address, std::filesystem::path identity)
    : address_(std::move(address)), identity_(std::move(identity)) {}

InboxDrain::~InboxDrain() { Stop(); }

void InboxDrain::Start() { thread_ = std::thread([this] { Run(); }); }

void InboxDrain::Stop() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (client_) client_->Close();
  }
  if (thread_.joinable()) thread_.join();
}

void InboxDrain::Run() {
  while (!stop_) {
    absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = ConnectAs(identity_, address_());
    if (!client.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    rpc::TunnelClient* c = client->get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      client_ = *std::move(client);
      if (stop_) break;
    }
    std::unique_ptr<rpc::TunnelCall> call = c->StartCall("/beibu.v1.Exchange/Inbox");
    v1::InboxRequest req;
    req.set_max_unacked(256);
    if (call->Write(req).ok() && call->WritesDone().ok()) {
      v1::Delivery d;
      std::string assembling;
      while (!stop_ && call->Read(&d)) {
        if (d.offset() == 0) assembling.clear();
        assembling += d.data();
        if (!d.last()) continue;
        {
          std::lock_guard<std::mutex> lock(mu_);
          received_.push_back(d.transfer_id());
          if (acked_.count(d.transfer_id())) redelivered_.push_back(d.transfer_id());
          payloads_[d.transfer_id()] = assembling;
        }
        v1::AckRequest ack;
        ack.add_transfer_ids(d.transfer_id());
        v1::AckResponse resp;
        if (c->Call("/beibu.v1.Exchange/Ack", ack, &resp).ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          acked_.insert(d.transfer_id());
        }
      }
      call->Cancel();
      (void)call->Finish();
    }
    std::lock_guard<std::mutex> lock(mu_);
    client_.reset();
  }
}

std::vector<std::string> InboxDrain::received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}
std::vector<std::string> InboxDrain::redelivered_after_ack() const {
  std::lock_guard<std::mutex> lock(mu_);
  return redelivered_;
}
size_t InboxDrain::acknowledged_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_.size();
}
std::string InboxDrain::payload(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = payloads_.find(id);
  return it == payloads_.end() ? "" : it->second;
}
bool InboxDrain::WaitFor(size_t acknowledged, std::chrono::seconds timeout) const {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (acknowledged_count() >= acknowledged) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return acknowledged_count() >= acknowledged;
}

}  // namespace beibu::testing

namespace beibu::testing {

bool InboxDrain::WaitForDistinct(size_t n, std::chrono::seconds timeout) const {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (payloads_.size() >= n) return true;
    }
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace beibu::testing
