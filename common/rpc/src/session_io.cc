#include "session_io.h"

#include "absl/strings/str_cat.h"

namespace beibu::rpc::internal {

absl::Status SessionIo::SealAndWrite(channel::RecordType type, ByteView payload) {
  // Caller holds write_mu_: sequence numbers must go out in sealing order.
  if (closed_) return absl::UnavailableError("secure channel is closed");
  if (session_.sealer.KeyUpdateDue()) {
    absl::StatusOr<Bytes> update = session_.sealer.Seal(channel::RecordType::kKeyUpdate, {});
    if (!update.ok()) return update.status();
    v1::TunnelFrame f;
    f.set_record(std::string(update->begin(), update->end()));
    if (!write_(f)) {
      closed_ = true;
      return absl::UnavailableError("secure channel stream closed");
    }
  }
  absl::StatusOr<Bytes> record = session_.sealer.Seal(type, payload);
  if (!record.ok()) return record.status();
  v1::TunnelFrame f;
  f.set_record(std::string(record->begin(), record->end()));
  if (!write_(f)) {
    closed_ = true;
    return absl::UnavailableError("secure channel stream closed");
  }
  return absl::OkStatus();
}

absl::Status SessionIo::Send(const v1::CallFrame& frame) {
  std::string payload = frame.SerializeAsString();
  std::lock_guard<std::mutex> lock(write_mu_);
  return SealAndWrite(channel::RecordType::kData, AsBytes(payload));
}

absl::Status SessionIo::SendClose() {
  std::lock_guard<std::mutex> lock(write_mu_);
  absl::Status s = SealAndWrite(channel::RecordType::kClose, {});
  closed_ = true;
  return s;
}

absl::StatusOr<SessionIo::Received> SessionIo::Open(const v1::TunnelFrame& frame) {
  if (frame.frame_case() == v1::TunnelFrame::kAlert) {
    return absl::Status(static_cast<absl::StatusCode>(frame.alert().code()),
                        absl::StrCat("peer refused: ", frame.alert().message()));
  }
  if (frame.frame_case() != v1::TunnelFrame::kRecord) {
    return absl::InvalidArgumentError("expected an encrypted record after the handshake");
  }
  absl::StatusOr<channel::OpenedRecord> rec = session_.opener.Open(AsBytes(frame.record()));
  if (!rec.ok()) return rec.status();
  Received out;
  switch (rec->type) {
    case channel::RecordType::kKeyUpdate:
      out.kind = Kind::kKeyUpdate;
      return out;
    case channel::RecordType::kClose:
      out.kind = Kind::kClose;
      return out;
    case channel::RecordType::kData:
      out.kind = Kind::kCall;
      if (!out.call.ParseFromArray(rec->payload.data(), static_cast<int>(rec->payload.size()))) {
        return absl::InvalidArgumentError("record does not hold a valid CallFrame");
      }
      return out;
  }
  return absl::InternalError("unreachable record type");
}

}  // namespace beibu::rpc::internal
