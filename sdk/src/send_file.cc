// Client::SendFile: SendStream in chunks with constant memory, resuming from
// the edge's byte count after a broken session (exchange.proto, SendChunk).
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client_impl.h"

namespace beibu {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

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
  bool ask_edge = false;  // after a failure: where does the edge stand?
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
        return where;  // the edge had the whole payload; only its answer was lost
      } else if (where.size() > size) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the edge holds ", where.size(), " bytes of transfer ", header.transfer_id(),
            " but the file has ", size, ": the file changed; send it with a new transfer id"));
      } else {
        offset = where.size();
      }
      ask_edge = false;
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
