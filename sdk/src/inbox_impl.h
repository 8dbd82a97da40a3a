// Internal: InboxReader's state (see inbox.cc).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "beibu/client/client.h"
#include "client_impl.h"
#include "transport.h"

namespace beibu {

class InboxReader::Impl {
 public:
  Impl(Client::Impl* client, std::unique_ptr<sdk_internal::Stream> stream, uint64_t max_in_memory,
       uint32_t max_unacked);
  ~Impl();

  // Assembles the next delivery into `sink`; see InboxReader::Next.
  absl::Status Next(ReceivedTransfer* out, const ChunkSink& sink,
                    std::optional<std::chrono::milliseconds> wait);
  Client::Impl* client() const { return client_; }
  uint64_t max_in_memory() const { return max_in_memory_; }

 private:
  void ReadLoop();
  // Reopens the stream as Inbox (one Delivery per message) for an edge that
  // answered InboxBatches UNIMPLEMENTED. False if that failed or we close.
  bool FallBackToInbox();
  // The next Delivery message; DEADLINE_EXCEEDED after `wait`; the stream's
  // end status (OUT_OF_RANGE for a clean end) once drained.
  absl::Status Pop(v1::Delivery* d, std::optional<std::chrono::milliseconds> wait);

  Client::Impl* const client_;
  std::unique_ptr<sdk_internal::Stream> stream_;  // replaced only under mu_
  const uint64_t max_in_memory_;
  const uint32_t max_unacked_;
  bool legacy_ = false;  // stream_ is Inbox, not InboxBatches
  absl::Status broken_;  // set once the stream is unusable

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Delivery> queue_;
  uint64_t queued_bytes_ = 0;  // payload bytes in queue_
  bool ended_ = false;
  bool closing_ = false;
  absl::Status end_status_;
  std::thread reader_;  // last: starts after everything above exists
};

}  // namespace beibu
