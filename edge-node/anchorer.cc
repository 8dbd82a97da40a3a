#include "anchorer.h"

#include "hub_connection.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "beibu/config/files.h"
#include "beibu/daemon/logging.h"
#include "beibu/v1/registry.pb.h"

namespace beibu::edge {
Anchorer::Anchorer(const EdgeConfig& config, EdgeIdentity* identity, audit::AuditLog* log)
    : config_(config), identity_(identity), log_(log) {}

Anchorer::~Anchorer() { Stop(); }

void Anchorer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Anchorer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Anchorer::Run() {
  std::chrono::milliseconds wait(1000);
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, wait, [&] { return stop_; })) return;
    }
    absl::Status s = AnchorOnce();
    if (s.ok()) {
      wait = std::chrono::milliseconds(1000);
      continue;
    }
    client_.reset();  // reconnect next time
    hub_size_.reset();
    if (absl::IsDataLoss(s)) {
      spdlog::error(
          "event=anchor_refused error=\"{}\" action=\"the hub saw this edge's audit log "
          "rewritten or forked; investigate before trusting its evidence\"",
          s.message());
    } else {
      spdlog::warn("event=anchor_failed error=\"{}\" retry_in_ms={}", s.message(), wait.count());
    }
    wait = std::min(wait * 2, std::chrono::milliseconds(30000));
  }
}

absl::Status Anchorer::Connect() {
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = ConnectToHub(config_, *identity_);
  if (!client.ok()) return client.status();
  client_ = *std::move(client);
  return absl::OkStatus();
}

absl::Status Anchorer::AnchorOnce() {
  absl::StatusOr<std::string> note = log_->Checkpoint();
  if (!note.ok()) return note.status();
  if (note->empty()) return absl::OkStatus();
  absl::StatusOr<audit::Checkpoint> mine = audit::ParseCheckpointNote(*note);
  if (!mine.ok()) return mine.status();
  if (hub_size_ && *hub_size_ == mine->size && hub_root_ == mine->root) return absl::OkStatus();

  if (!client_ || !client_->status().ok()) {
    if (absl::Status s = Connect(); !s.ok()) return s;
  }
  if (!hub_size_) {
    v1::GetAnchoredResponse anchored;
    if (absl::Status s =
            client_->Call("/beibu.v1.Anchor/GetAnchored", v1::GetAnchoredRequest(), &anchored);
        !s.ok()) {
      return s;
    }
    hub_size_ = anchored.size();
    hub_root_.clear();
    if (!anchored.cosigned_note().empty()) {
      if (absl::StatusOr<audit::Checkpoint> cp =
              audit::ParseCheckpointNote(anchored.cosigned_note());
          cp.ok()) {
        hub_root_ = cp->root;
      }
    }
    if (*hub_size_ == mine->size && hub_root_ == mine->root) return absl::OkStatus();
  }
  v1::SubmitCheckpointRequest req;
  req.set_checkpoint_note(*note);
  req.set_previous_size(*hub_size_);
  if (*hub_size_ > 0 && *hub_size_ <= mine->size) {
    absl::StatusOr<std::vector<Bytes>> proof =
        log_->store().ConsistencyProof(*hub_size_, mine->size);
    if (!proof.ok()) return proof.status();
    for (const Bytes& h : *proof) req.add_consistency_proof(std::string(h.begin(), h.end()));
  } else if (*hub_size_ > mine->size) {
    // Our log is shorter than what the hub already holds: it was truncated or
    // replaced. Submit anyway so the hub records it; it will refuse.
    spdlog::error("event=audit_log_behind_hub hub_size={} local_size={}", *hub_size_, mine->size);
  }
  v1::SubmitCheckpointResponse resp;
  if (absl::Status s = client_->Call("/beibu.v1.Anchor/SubmitCheckpoint", req, &resp); !s.ok()) {
    return s;
  }
  // The hub certificate first: a reader of anchored.note needs it.
  if (absl::Status s = config::WriteFileAtomic(config_.data_dir + "/audit/hub-cert.pem",
                                               resp.hub_certificate_pem());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          config::WriteFileAtomic(config_.data_dir + "/audit/anchored.note", resp.cosigned_note());
      !s.ok()) {
    return s;
  }
  hub_size_ = mine->size;
  hub_root_ = mine->root;
  spdlog::info("event=anchored size={} hub_log_index={}", mine->size, resp.hub_log_index());
  return absl::OkStatus();
}

}  // namespace beibu::edge
