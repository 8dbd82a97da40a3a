// A hand-driven client on the raw Tunnel stream for tests: it completes a
// genuine handshake, then lets the test seal, send and read records itself,
// to misbehave on the record layer or to stop reading.
#pragma once

#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "beibu/channel/handshake.h"
#include "beibu/v1/tunnel.grpc.pb.h"

namespace beibu::rpc {

class RawTunnelClient {
 public:
  RawTunnelClient(const std::string& address, channel::HandshakeConfig config) {
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    stub_ = v1::Tunnel::NewStub(channel_);
    stream_ = stub_->Connect(&ctx_);
    auto hs = channel::ClientHandshake::Start(std::move(config)).value();
    v1::TunnelFrame f;
    f.set_client_hello(std::string(hs.client_hello().begin(), hs.client_hello().end()));
    EXPECT_TRUE(stream_->Write(f));
    EXPECT_TRUE(stream_->Read(&f));
    auto done = hs.Finish(f.server_flight()).value();
    v1::TunnelFrame auth;
    *auth.mutable_client_auth() = done.first;
    EXPECT_TRUE(stream_->Write(auth));
    session_.emplace(std::move(done.second));
    v1::CallFrame accepted;
    EXPECT_TRUE(ReadCall(&accepted));  // the server's confirmation
  }
  ~RawTunnelClient() { ctx_.TryCancel(); }

  Bytes Seal(const v1::CallFrame& cf) {
    return session_->sealer.Seal(channel::RecordType::kData, AsBytes(cf.SerializeAsString()))
        .value();
  }
  bool Send(const Bytes& record) {
    v1::TunnelFrame f;
    f.set_record(std::string(record.begin(), record.end()));
    return stream_->Write(f);
  }
  // The next call frame from the server, skipping key updates.
  bool ReadCall(v1::CallFrame* out) {
    v1::TunnelFrame f;
    while (stream_->Read(&f)) {
      auto rec = session_->opener.Open(AsBytes(f.record()));
      if (!rec.ok()) return false;
      if (rec->type == channel::RecordType::kKeyUpdate) continue;
      if (rec->type != channel::RecordType::kData) return false;
      return out->ParseFromArray(rec->payload.data(), static_cast<int>(rec->payload.size()));
    }
    return false;
  }
  // Half-closes, drains and returns how the server ended the stream.
  grpc::Status Finish() {
    stream_->WritesDone();
    v1::TunnelFrame f;
    while (stream_->Read(&f)) {
    }
    return stream_->Finish();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Tunnel::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::TunnelFrame, v1::TunnelFrame>> stream_;
  std::optional<channel::Session> session_;
};

}  // namespace beibu::rpc
