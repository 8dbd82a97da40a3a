// Client::SendFile: SendStream in chunks with constant memory, resuming from
// the edge's byte count after a broken session (exchange.proto, SendChunk).
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client_impl.h"

namespace beibu {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

absl::Status Client::Impl::WaitForStaged(const std::string& transfer_id, uint64_t written,
                                         uint64_t resumed_at) {
  constexpr uint64_t kSendWindow = uint64_t{32} << 20;
  if (written - resumed_at < kSendWindow) return absl::OkStatus();
  const auto deadline = std::chrono::steady_clock::now() + options.call_timeout;
  while (true) {
    v1::GetTransferRequest req;
    req.set_transfer_id(transfer_id);
    v1::TransferStatus where;
    absl::Status s = transport->Call(kGetTransferMethod, req, &where, options.call_timeout);
    // NOT_FOUND: the first chunk is not staged yet.
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    if (s.ok() && (where.state() != v1::RECEIVING || where.size() + kSendWindow >= written)) {
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the edge stored nothing new for ", options.call_timeout.count(), " ms while ",
          written - where.size(), " bytes were in flight; try again later (the transfer resumes)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::StatusOr<v1::TransferStatus> Client::Impl::StreamFrom(std::FILE* file,
                                                            const v1::TransferHeader& header,
                                                            uint64_t offset, uint64_t size,
                                                            const ProgressFn& progress) {
  if (fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0) {
    return absl::DataLossError(absl::StrCat("cannot seek to byte ", offset, " of the file"));
  }
  std::unique_ptr<sdk_internal::Stream> stream =
      transport->StartCall(kSendStreamMethod, std::chrono::milliseconds(0));
  std::vector<char> buf(chunk_size);
  uint64_t pos = offset;
  bool first = true;
  absl::Status write_status;
  do {
    size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_size, size - pos));
    size_t n = want == 0 ? 0 : std::fread(buf.data(), 1, want, file);
    if (n != want) {
      stream->Cancel();
      return absl::DataLossError(absl::StrCat("the file ended or failed at byte ", pos + n, " of ",
                                              size, ": do not change it while sending"));
    }
    v1::SendChunk chunk;
    if (first) *chunk.mutable_header() = header;
    chunk.set_offset(pos);
    chunk.set_data(buf.data(), n);
    chunk.set_last(pos + n == size);
    write_status = stream->Write(chunk);
    if (!write_status.ok()) break;
    pos += n;
    first = false;
    if (progress) progress(pos, size);
    // The stream itself has no flow control inside the secure channel, so a
    // file read faster than the edge stores it would pile up in memory (and
    // the session gives up past 256 MiB queued): stay at most kSendWindow
    // bytes ahead of what the edge reports staged.
    if (pos < size) {
      if (absl::Status s = WaitForStaged(header.transfer_id(), pos, offset); !s.ok()) {
        stream->Cancel();
        (void)stream->Finish();
        return s;
      }
    }
  } while (pos < size);
  v1::TransferStatus resp;
  bool got = false;
  if (write_status.ok()) {
    (void)stream->WritesDone();
    got = stream->Read(&resp);
  }
  absl::Status s = stream->Finish();
  if (s.ok() && !write_status.ok()) s = write_status;
  if (s.ok() && !got) return absl::InternalError("SendStream returned no status");
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::TransferStatus> Client::SendFile(const std::string& path,
                                                    const v1::TransferHeader& header_in,
                                                    const ProgressFn& progress) {
  v1::TransferHeader header = header_in;
  if (header.transfer_id().empty()) header.set_transfer_id(NewTransferId());
  if (absl::Status s = ValidateHeader(header); !s.ok()) return s;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fileno(file.get()), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     " is not a regular file: SendFile needs a file it can seek in (use "
                     "Send for data in memory)"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  header.set_total_size(size);
  if (header.file_name().empty()) {
    header.set_file_name(std::filesystem::path(path).filename().string());
  }

  uint64_t offset = 0;
  // After a failure: where does the edge stand? Also before the first stream
  // when the caller chose the id: an earlier run may have left the transfer
  // RECEIVING, and the edge refuses data at offset 0 once bytes are staged.
  bool ask_edge = !header_in.transfer_id().empty();
  bool probing = ask_edge;  // nothing sent yet in this call
  absl::Status last;
  for (int attempt = 0;;) {
    if (attempt > 0) {
      if (attempt > impl_->options.max_retries) {
        return absl::Status(
            last.code(),
            absl::StrCat(last.message(), " (gave up after ", attempt, " attempts; run again with ",
                         "the same transfer id ", header.transfer_id(), " to resume)"));
      }
      impl_->BackoffAndReconnect(attempt);
    }
    if (ask_edge) {
      // Resume where the edge stands: bytes before its size are not sent again.
      v1::GetTransferRequest req;
      req.set_transfer_id(header.transfer_id());
      v1::TransferStatus where;
      absl::Status s =
          impl_->transport->Call(kGetTransferMethod, req, &where, impl_->options.call_timeout);
      if (sdk_internal::IsRetryable(s)) {
        last = s;
        ++attempt;
        continue;
      }
      if (absl::IsNotFound(s)) {
        offset = 0;  // the edge kept nothing: start over
      } else if (!s.ok()) {
        return s;
      } else if (where.state() != v1::RECEIVING) {
        // Lost answer of this call: the edge had the whole payload. Before
        // sending anything, let the edge compare the content and answer (the
        // first answer, or ALREADY_EXISTS for other content).
        if (!probing) return where;
        offset = 0;
      } else if (where.size() > size) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the edge holds ", where.size(), " bytes of transfer ", header.transfer_id(),
            " but the file has ", size, ": the file changed; send it with a new transfer id"));
      } else {
        offset = where.size();
      }
      ask_edge = false;
      probing = false;
    }
    absl::StatusOr<v1::TransferStatus> done =
        impl_->StreamFrom(file.get(), header, offset, size, progress);
    if (done.ok() || !sdk_internal::IsRetryable(done.status())) return done;
    last = done.status();
    ask_edge = true;
    ++attempt;
  }
}

}  // namespace beibu
