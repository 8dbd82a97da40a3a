// Client::Connect, unary calls with retries, transfer ids and header checks.
#include <thread>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/bytes.h"
#include "beibu/crypto/random.h"
#include "client_impl.h"
#include "identity.h"
#include "tunnel_transport.h"

namespace beibu {
namespace {

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

std::string NewTransferId() { return HexEncode(crypto::RandomBytes(16)); }

absl::Status ValidateHeader(const v1::TransferHeader& h) {
  const std::string& id = h.transfer_id();
  if (id.size() < 16 || id.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "transfer id \"", id, "\" is ", id.size(),
        " characters long: use 16 to 64 of [A-Za-z0-9._-], or leave it empty for a random one"));
  }
  for (char c : id) {
    if (!IsIdChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("transfer id \"", id, "\" contains '", std::string(1, c),
                       "': use only letters, digits, '.', '_' and '-'"));
    }
  }
  const std::string& cc = h.to_country();
  if (cc.size() != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z') {
    return absl::InvalidArgumentError(absl::StrCat(
        "destination country \"", cc, "\" is not an ISO 3166-1 alpha-2 code such as CN or VN"));
  }
  if (h.to_enterprise().empty()) {
    return absl::InvalidArgumentError(
        "no recipient: set the recipient enterprise's id (its certificate id)");
  }
  if (h.category().empty()) {
    return absl::InvalidArgumentError(
        "no category: set the data category, e.g. logistics.track (see `beibu policy show`)");
  }
  const std::string& level = h.declared_level();
  if (!level.empty() && level != "GENERAL" && level != "IMPORTANT" && level != "CORE") {
    return absl::InvalidArgumentError(
        absl::StrCat("declared level \"", level, "\" is not GENERAL, IMPORTANT or CORE"));
  }
  return absl::OkStatus();
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  absl::StatusOr<std::unique_ptr<sdk_internal::Transport>> t = sdk_internal::ConnectTunnel(options);
  if (!t.ok()) return t.status();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->transport = *std::move(t);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

std::string Client::server_id() const { return impl_->transport->server_id(); }

std::string Client::my_id() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->my_id.empty()) {
    absl::StatusOr<channel::Credentials> creds =
        sdk_internal::LoadSigningCredentials(impl_->options);
    if (creds.ok()) {
      absl::StatusOr<pki::Identity> me = creds->chain.front().GetIdentity();
      if (me.ok()) impl_->my_id = me->id;
    }
  }
  return impl_->my_id;
}

void Client::Impl::BackoffAndReconnect(int attempt) {
  auto delay = retry_delay * (1 << std::min(attempt - 1, 4));
  std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(2)));
  (void)transport->Reconnect();  // if it fails, the next call says UNAVAILABLE
}

absl::Status Client::Impl::Call(const std::string& method, const google::protobuf::Message& request,
                                google::protobuf::Message* response, bool idempotent) {
  for (int attempt = 0;; ++attempt) {
    absl::Status s = transport->Call(method, request, response, options.call_timeout);
    if (s.ok() || !sdk_internal::IsRetryable(s) || !idempotent) return s;
    if (attempt >= options.max_retries) {
      return absl::Status(s.code(), absl::StrCat(s.message(), " (gave up after ", attempt + 1,
                                                 " attempts; try again later)"));
    }
    BackoffAndReconnect(attempt + 1);
  }
}

absl::StatusOr<v1::TransferStatus> Client::Send(const v1::TransferHeader& header,
                                                std::string_view payload) {
  v1::SendRequest req;
  *req.mutable_header() = header;
  if (header.transfer_id().empty()) req.mutable_header()->set_transfer_id(NewTransferId());
  if (absl::Status s = ValidateHeader(req.header()); !s.ok()) return s;
  if (payload.size() > kMaxSendPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("the payload is ", payload.size(),
                     " bytes; Send takes at most 4 MiB: use SendFile (`beibu send-file`)"));
  }
  req.set_payload(std::string(payload));
  v1::TransferStatus resp;
  // Safe to retry: the same transfer id and content give the first answer.
  if (absl::Status s = impl_->Call(kSendMethod, req, &resp); !s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::TransferStatus> Client::GetTransfer(const std::string& transfer_id) {
  if (transfer_id.empty()) return absl::InvalidArgumentError("no transfer id given");
  v1::GetTransferRequest req;
  req.set_transfer_id(transfer_id);
  v1::TransferStatus resp;
  if (absl::Status s = impl_->Call(kGetTransferMethod, req, &resp); !s.ok()) return s;
  return resp;
}

namespace {

// Along the delivery path IN_FLIGHT -> DELIVERED -> ACKNOWLEDGED a later state
// counts as having reached an earlier one: a transfer acknowledged at once
// goes from IN_FLIGHT straight to ACKNOWLEDGED (the destination sends one
// notice for both, data-plane.md §6), and a waiter for DELIVERED must not
// wait for a state that was skipped.
bool ReachedOneOf(v1::TransferState state, const std::set<v1::TransferState>& states) {
  if (states.count(state)) return true;
  auto rank = [](v1::TransferState s) {
    switch (s) {
      case v1::IN_FLIGHT:
        return 1;
      case v1::DELIVERED:
        return 2;
      case v1::ACKNOWLEDGED:
        return 3;
      default:
        return 0;
    }
  };
  const int reached = rank(state);
  if (reached == 0) return false;
  for (v1::TransferState wanted : states) {
    if (rank(wanted) > 0 && rank(wanted) <= reached) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<v1::TransferStatus> Client::WaitForState(const std::string& transfer_id,
                                                        const std::set<v1::TransferState>& states,
                                                        std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::milliseconds delay{100};
  while (true) {
    absl::StatusOr<v1::TransferStatus> st = GetTransfer(transfer_id);
    if (!st.ok()) return st.status();
    if (ReachedOneOf(st->state(), states)) return st;
    if (std::chrono::steady_clock::now() + delay > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("transfer ", transfer_id, " is still ", v1::TransferState_Name(st->state()),
                       " after ", timeout.count(), " ms; wait longer or check it later"));
    }
    std::this_thread::sleep_for(delay);
    delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::seconds(1));
  }
}

absl::StatusOr<uint32_t> Client::Ack(const std::vector<std::string>& transfer_ids) {
  v1::AckRequest req;
  for (const std::string& id : transfer_ids) req.add_transfer_ids(id);
  v1::AckResponse resp;
  if (absl::Status s = impl_->Call(kAckMethod, req, &resp); !s.ok()) return s;
  return resp.acknowledged();
}

absl::StatusOr<v1::AuditQueryResponse> Client::QueryAudit(const v1::AuditQueryRequest& request) {
  v1::AuditQueryResponse resp;
  if (absl::Status s = impl_->Call("/beibu.v1.AuditQuery/Query", request, &resp); !s.ok()) {
    return s;
  }
  return resp;
}

}  // namespace beibu
