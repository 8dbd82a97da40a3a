// `beibu audit query|tail|export|prove`: the regulator audit API
// (proto/beibu/v1/audit_api.proto) of an edge or the hub. Regulator
// certificates only; the node returns only events of the regulator's own
// jurisdiction. Output is a table by default, JSON Lines with --json.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "beibu/crypto/bytes.h"
#include "beibu/v1/audit_api.pb.h"
#include "commands.h"
#include "connection.h"

namespace beibu::cli {
namespace {

using google::protobuf::util::TimeUtil;

const std::set<pki::Role> kServerRoles = {pki::Role::kEdge, pki::Role::kHub};

struct FilterFlags {
  std::string since, until, enterprise, transfer_id, country, data_level, decision, category,
      operation;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("--since", since,
                    "events at or after this time (RFC 3339, e.g. 2026-11-27T00:00:00Z)");
    cmd->add_option("--until", until, "events before this time (RFC 3339)");
    cmd->add_option("--enterprise", enterprise, "who.organization or who.id");
    cmd->add_option("--transfer", transfer_id, "transfer id");
    cmd->add_option("--country", country,
                    "node, source, destination or actor country (ISO 3166 alpha-2)");
    cmd->add_option("--level", data_level, "data level: CORE, IMPORTANT, GENERAL");
    cmd->add_option("--decision", decision, "decision, e.g. FAST, DENY");
    cmd->add_option("--category", category, "data category");
    cmd->add_option("--operation", operation, "operation, e.g. transfer.send");
  }

  absl::Status Fill(v1::AuditFilter* f) const {
    if (!since.empty() && !TimeUtil::FromString(since, f->mutable_since())) {
      return absl::InvalidArgumentError(absl::StrCat("--since: not an RFC 3339 time: ", since));
    }
    if (!until.empty() && !TimeUtil::FromString(until, f->mutable_until())) {
      return absl::InvalidArgumentError(absl::StrCat("--until: not an RFC 3339 time: ", until));
    }
    f->set_enterprise(enterprise);
    f->set_transfer_id(transfer_id);
    f->set_country(country);
    f->set_data_level(data_level);
    f->set_decision(decision);
    f->set_category(category);
    f->set_operation(operation);
    return absl::OkStatus();
  }
};

std::string JsonLine(const v1::AuditRecord& r) {
  std::string event;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(r.event(), &event, opts);
  nlohmann::json j = {{"index", r.index()},
                      {"leaf_hash", HexEncode(AsBytes(r.leaf_hash()))},
                      {"event", nlohmann::json::parse(event, nullptr, false)}};
  return j.dump();
}

void PrintHeader() {
  std::cout << std::left << std::setw(8) << "INDEX" << std::setw(26) << "TIME" << std::setw(22)
            << "WHO" << std::setw(30) << "OPERATION" << std::setw(12) << "NODE" << std::setw(10)
            << "FROM>TO" << std::setw(11) << "LEVEL" << std::setw(9) << "DECISION"
            << "TRANSFER\n";
}

void PrintRow(const v1::AuditRecord& r) {
  const v1::AuditEvent& e = r.event();
  auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  std::string who = e.who().id();
  if (!e.who().country().empty()) who += "/" + e.who().country();
  std::cout << std::left << std::setw(8) << r.index() << std::setw(26)
            << (e.has_time() ? TimeUtil::ToString(e.time()) : "-") << std::setw(22) << dash(who)
            << std::setw(30) << dash(e.operation()) << std::setw(12)
            << dash(e.node_id() + (e.node_country().empty() ? "" : "/" + e.node_country()))
            << std::setw(10) << (dash(e.source_country()) + ">" + dash(e.destination_country()))
            << std::setw(11) << dash(e.data_level()) << std::setw(9) << dash(e.decision())
            << dash(e.transfer_id()) << "\n";
}

struct QueryFlags {
  ConnectionFlags conn;
  FilterFlags filter;
  uint32_t page_size = 100;
  uint64_t limit = 100;
  bool oldest_first = false;
  bool json = false;
  std::string page_token;
};

int RunQuery(const QueryFlags& f) {
  v1::AuditQueryRequest req;
  if (absl::Status s = f.filter.Fill(req.mutable_filter()); !s.ok()) return ReportError(s);
  req.set_page_size(f.page_size);
  req.set_oldest_first(f.oldest_first);
  req.set_page_token(f.page_token);
  auto client = f.conn.Connect(kServerRoles);
  if (!client.ok()) return ReportError(client.status());
  if (!f.json) PrintHeader();
  uint64_t printed = 0;
  while (true) {
    v1::AuditQueryResponse resp;
    if (absl::Status s = (*client)->Call("/beibu.v1.AuditQuery/Query", req, &resp); !s.ok()) {
      return ReportError(s);
    }
    for (const v1::AuditRecord& r : resp.records()) {
      if (f.limit != 0 && printed >= f.limit) break;
      if (f.json) {
        std::cout << JsonLine(r) << "\n";
      } else {
        PrintRow(r);
      }
      ++printed;
    }
    if (resp.next_page_token().empty()) break;
    if (f.limit != 0 && printed >= f.limit) {
      std::cerr << "beibu: stopped at --limit " << f.limit << "; continue with --page-token "
                << resp.next_page_token() << "\n";
      break;
    }
    req.set_page_token(resp.next_page_token());
  }
  return kExitOk;
}

struct TailFlags {
  ConnectionFlags conn;
  FilterFlags filter;
  int64_t from = -1;
  bool json = false;
};

int RunTail(const TailFlags& f) {
  v1::TailRequest req;
  if (absl::Status s = f.filter.Fill(req.mutable_filter()); !s.ok()) return ReportError(s);
  if (f.from >= 0) req.set_start_index(static_cast<uint64_t>(f.from));
  auto client = f.conn.Connect(kServerRoles);
  if (!client.ok()) return ReportError(client.status());
  auto call = (*client)->StartCall("/beibu.v1.AuditQuery/Tail");
  if (absl::Status s = call->Write(req); !s.ok()) return ReportError(s);
  if (absl::Status s = call->WritesDone(); !s.ok()) return ReportError(s);
  if (!f.json) PrintHeader();
  v1::AuditRecord r;
  while (call->Read(&r)) {
    if (f.json) {
      std::cout << JsonLine(r) << std::endl;
    } else {
      PrintRow(r);
      std::cout.flush();
    }
  }
  absl::Status s = call->Finish();
  return s.ok() ? kExitOk : ReportError(s);
}

struct ExportFlags {
  ConnectionFlags conn;
  FilterFlags filter;
  std::string output = "-";
};

int RunExport(const ExportFlags& f) {
  v1::ExportRequest req;
  if (absl::Status s = f.filter.Fill(req.mutable_filter()); !s.ok()) return ReportError(s);
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (f.output != "-") {
    file.open(f.output, std::ios::binary | std::ios::trunc);
    if (!file) return ReportError(absl::InvalidArgumentError("cannot write " + f.output));
    out = &file;
  }
  auto client = f.conn.Connect(kServerRoles);
  if (!client.ok()) return ReportError(client.status());
  auto call = (*client)->StartCall("/beibu.v1.AuditQuery/Export");
  if (absl::Status s = call->Write(req); !s.ok()) return ReportError(s);
  if (absl::Status s = call->WritesDone(); !s.ok()) return ReportError(s);
  v1::ExportChunk chunk;
  while (call->Read(&chunk)) out->write(chunk.data().data(), chunk.data().size());
  out->flush();
  absl::Status s = call->Finish();
  if (!s.ok()) return ReportError(s);
  if (!*out) return ReportError(absl::UnavailableError("write failed: " + f.output));
  return kExitOk;
}

struct ProveFlags {
  ConnectionFlags conn;
  uint64_t index = 0;
};

// Prints the inclusion proof of one record in the exact format of
// `beibu audit verify-proof`, against the node's latest signed checkpoint.
int RunProve(const ProveFlags& f) {
  auto client = f.conn.Connect(kServerRoles);
  if (!client.ok()) return ReportError(client.status());
  v1::GetInclusionProofRequest req;
  req.set_index(f.index);
  v1::GetInclusionProofResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.AuditQuery/GetInclusionProof", req, &resp);
      !s.ok()) {
    return ReportError(s);
  }
  nlohmann::json path = nlohmann::json::array();
  for (const std::string& h : resp.path()) path.push_back(HexEncode(AsBytes(h)));
  nlohmann::json j = {{"type", "inclusion"},
                      {"leaf_hash", HexEncode(AsBytes(resp.record().leaf_hash()))},
                      {"index", resp.record().index()},
                      {"tree_size", resp.tree_size()},
                      {"root", HexEncode(AsBytes(resp.root()))},
                      {"path", path}};
  std::cout << j.dump() << "\n";
  std::cerr << "checkpoint:\n" << resp.checkpoint_note();
  return kExitOk;
}

}  // namespace

void AddAuditQueryCommands(CLI::App& audit, int* exit_code) {
  {
    auto f = std::make_shared<QueryFlags>();
    CLI::App* cmd = audit.add_subcommand(
        "query", "Audit events of your jurisdiction on a node (regulators), newest first");
    f->conn.AddTo(cmd);
    f->filter.AddTo(cmd);
    cmd->add_option("--page-size", f->page_size, "records per request (at most 1000)")
        ->check(CLI::Range(1, 1000));
    cmd->add_option("--limit", f->limit, "stop after this many records (0 = all)");
    cmd->add_option("--page-token", f->page_token, "continue a previous query");
    cmd->add_flag("--oldest-first", f->oldest_first, "scan from the start of the log");
    cmd->add_flag("--json", f->json, "JSON Lines instead of a table");
    cmd->callback([f, exit_code] { *exit_code = RunQuery(*f); });
  }
  {
    auto f = std::make_shared<TailFlags>();
    CLI::App* cmd = audit.add_subcommand(
        "tail", "Follow new audit events of your jurisdiction as the node logs them (Ctrl-C ends)");
    f->conn.AddTo(cmd);
    f->filter.AddTo(cmd);
    cmd->add_option("--from", f->from, "start at this log index instead of now");
    cmd->add_flag("--json", f->json, "JSON Lines instead of a table");
    cmd->callback([f, exit_code] { *exit_code = RunTail(*f); });
  }
  {
    auto f = std::make_shared<ExportFlags>();
    CLI::App* cmd = audit.add_subcommand(
        "export",
        "Export audit events of your jurisdiction as JSON Lines, each with its inclusion proof "
        "against the node's signed checkpoint (the first line)");
    f->conn.AddTo(cmd);
    f->filter.AddTo(cmd);
    cmd->add_option("-o,--output", f->output, "output file; - for standard output");
    cmd->callback([f, exit_code] { *exit_code = RunExport(*f); });
  }
  {
    auto f = std::make_shared<ProveFlags>();
    CLI::App* cmd = audit.add_subcommand(
        "prove", "Print the inclusion proof of one audit record (input of `verify-proof`)");
    f->conn.AddTo(cmd);
    cmd->add_option("INDEX", f->index, "log index of the record")->required();
    cmd->callback([f, exit_code] { *exit_code = RunProve(*f); });
  }
}

}  // namespace beibu::cli
