// Internal: what a Client and an InboxReader hold. Tests reach it through
// ClientTestPeer to run the real logic over a fake Transport.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "beibu/channel/handshake.h"
#include "beibu/client/client.h"
#include "transport.h"

namespace beibu {

inline constexpr char kSendMethod[] = "/beibu.v1.Exchange/Send";
inline constexpr char kSendBatchesMethod[] = "/beibu.v1.Exchange/SendBatches";
inline constexpr char kSendStreamMethod[] = "/beibu.v1.Exchange/SendStream";
inline constexpr char kGetTransferMethod[] = "/beibu.v1.Exchange/GetTransfer";
// InboxBatches: the same Delivery messages as Inbox, several per stream message.
inline constexpr char kInboxMethod[] = "/beibu.v1.Exchange/InboxBatches";
// Edges older than InboxBatches answer it UNIMPLEMENTED: the reader falls back.
inline constexpr char kInboxLegacyMethod[] = "/beibu.v1.Exchange/Inbox";
inline constexpr char kAckMethod[] = "/beibu.v1.Exchange/Ack";
inline constexpr uint64_t kMaxSendPayload = 4ull << 20;  // exchange.proto: Send takes at most 4 MiB

struct Client::Impl {
  ClientOptions options;
  std::unique_ptr<sdk_internal::Transport> transport;
  std::chrono::milliseconds retry_delay{200};  // first backoff; doubles up to 2 s
  size_t chunk_size = 1 << 20;                 // SendStream chunk (exchange.proto: up to 1 MiB)

  std::mutex mu;
  std::optional<channel::Credentials> signing;  // loaded on first use
  std::string my_id;

  // A unary call. When `idempotent`, retried on UNAVAILABLE / DEADLINE_EXCEEDED
  // up to options.max_retries times, reconnecting first.
  absl::Status Call(const std::string& method, const google::protobuf::Message& request,
                    google::protobuf::Message* response, bool idempotent = true);
  // Sleeps before retry number `attempt` (1-based) and reconnects.
  void BackoffAndReconnect(int attempt);
  // One SendStream from `offset` to the end of the file (see send.cc).
  // Blocks until the edge has staged all but the last 32 MiB of `written`
  // (the window SendFile keeps in flight); DEADLINE_EXCEEDED after
  // call_timeout without room.
  absl::Status WaitForStaged(const std::string& transfer_id, uint64_t written, uint64_t resumed_at);
  absl::StatusOr<v1::TransferStatus> StreamFrom(std::FILE* file, const v1::TransferHeader& header,
                                                uint64_t offset, uint64_t size,
                                                const ProgressFn& progress);
};

struct ClientTestPeer {
  static std::unique_ptr<Client> Make(ClientOptions options,
                                      std::unique_ptr<sdk_internal::Transport> transport) {
    auto impl = std::make_unique<Client::Impl>();
    impl->options = std::move(options);
    impl->transport = std::move(transport);
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  }
  static Client::Impl& impl(Client& c) { return *c.impl_; }
};

}  // namespace beibu
