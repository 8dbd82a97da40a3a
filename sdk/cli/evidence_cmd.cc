// `beibu notarize FILE` and `beibu verify RECEIPT [FILE]`: one step each for
// enterprises and for anyone checking their evidence.
#include <thread>

#include "absl/strings/str_cat.h"
#include "beibu/audit/receipt.h"
#include "beibu/config/files.h"
#include "beibu/crypto/crypto.h"
#include "beibu/daemon/identity_files.h"
#include "beibu/enroll/enroll.h"
#include "beibu/v1/evidence.pb.h"
#include "commands.h"
#include "connection.h"

namespace beibu::cli {
namespace {

absl::StatusOr<crypto::Sm3Digest> DigestOfFile(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  crypto::Sm3 h;
  std::vector<uint8_t> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) h.Update(ByteView(buf.data(), n));
  bool failed = std::ferror(f);
  if (f != stdin) std::fclose(f);
  if (failed) return absl::DataLossError(absl::StrCat("error reading ", path));
  return h.Final();
}

struct NotarizeOptions {
  ConnectionFlags conn;
  std::string file, out, type = "other", reference;
  std::vector<std::string> parties;
  int wait_seconds = 0;
};

// The enterprise signs its notarization request with the key it connects
// with (--key, or key.pem in --identity), as the channel's connect step does.
absl::StatusOr<channel::Credentials> LoadSigningCredentials(const ConnectionFlags& c) {
  auto pick = [&](const std::string& explicit_path, const char* file) {
    if (!explicit_path.empty()) return explicit_path;
    return c.identity_dir.empty() ? std::string() : c.identity_dir + "/" + file;
  };
  std::string key_path = pick(c.key, enroll::kKeyFile), cert_path = pick(c.cert, enroll::kCertFile);
  if (key_path.empty() || cert_path.empty()) {
    return absl::InvalidArgumentError(
        "no identity: pass --identity DIR (from `beibu enroll`) or --key, --cert and --trust");
  }
  absl::StatusOr<channel::Credentials> creds = daemon::LoadCredentials(key_path, cert_path);
  if (!creds.ok()) return creds.status();
  if (creds->chain.empty()) return absl::InvalidArgumentError("no certificate in " + cert_path);
  return creds;
}

int RunNotarize(const NotarizeOptions& o) {
  absl::StatusOr<crypto::Sm3Digest> digest = DigestOfFile(o.file);
  if (!digest.ok()) return ReportError(digest.status());
  std::optional<audit::DocumentType> type = audit::ParseDocumentType(o.type);
  if (!type) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat("--type ", o.type,
                     " is not one of e_contract, certificate_of_origin, invoice, bill_of_lading, "
                     "other")));
  }
  absl::StatusOr<channel::Credentials> creds = LoadSigningCredentials(o.conn);
  if (!creds.ok()) return ReportError(creds.status());
  absl::StatusOr<pki::Identity> me = creds->chain.front().GetIdentity();
  if (!me.ok()) return ReportError(me.status());
  audit::NotarizationEntry request{.document_digest = Bytes(digest->begin(), digest->end()),
                                   .document_type = *type,
                                   .issuer = me->id,
                                   .parties = o.parties,
                                   .reference = o.reference};
  absl::StatusOr<Bytes> signature = audit::SignNotarizationRequest(request, creds->key);
  if (!signature.ok()) return ReportError(signature.status());
  absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client = o.conn.Connect({pki::Role::kEdge});
  if (!client.ok()) return ReportError(client.status());
  v1::NotarizeRequest req;
  req.set_document_digest(std::string(digest->begin(), digest->end()));
  req.set_document_type(o.type);
  for (const std::string& p : o.parties) req.add_parties(p);
  req.set_reference(o.reference);
  req.set_enterprise_signature(std::string(signature->begin(), signature->end()));
  req.set_enterprise_certificate_pem(creds->chain.front().ToPem());
  v1::ReceiptResponse resp;
  if (absl::Status s = (*client)->Call("/beibu.v1.Evidence/Notarize", req, &resp); !s.ok()) {
    return ReportError(s);
  }
  // Poll until the hub's cosignature covers the entry, if asked to wait.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.wait_seconds);
  while (!resp.anchored() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    v1::GetReceiptRequest again;
    again.set_index(resp.index());
    v1::ReceiptResponse next;
    if ((*client)->Call("/beibu.v1.Evidence/GetReceipt", again, &next).ok()) resp = next;
  }
  std::string out = o.out.empty() ? o.file + ".receipt.json" : o.out;
  if (absl::Status s = config::WriteFileAtomic(out, resp.receipt_json()); !s.ok()) {
    return ReportError(s);
  }
  std::cout << "notarized " << o.file << " (SM3 " << HexEncode(*digest) << ") as entry "
            << resp.index() << " of " << (*client)->server().id << "'s log\n"
            << "receipt: " << out
            << (resp.anchored() ? " (anchored: cosigned by the hub)\n"
                                : " (not yet anchored: the hub cosigns within seconds; run with "
                                  "--wait 10, or fetch it again later)\n");
  return kExitOk;
}

struct VerifyOptions {
  ConnectionFlags conn;  // online when --server is given
  std::string receipt, file, trust;
  bool allow_unanchored = false;
};

int RunVerify(const VerifyOptions& o) {
  absl::StatusOr<std::string> json = config::ReadFile(o.receipt);
  if (!json.ok()) return ReportError(json.status());
  absl::StatusOr<audit::Receipt> receipt = audit::ParseReceipt(*json);
  if (!receipt.ok()) {
    std::cerr << "beibu: " << receipt.status().message() << "\n";
    return kExitUsage;
  }
  std::optional<crypto::Sm3Digest> digest;
  if (!o.file.empty()) {
    absl::StatusOr<crypto::Sm3Digest> d = DigestOfFile(o.file);
    if (!d.ok()) return ReportError(d.status());
    digest = *d;
  }
  if (!o.conn.server.empty()) {
    absl::StatusOr<std::unique_ptr<rpc::TunnelClient>> client =
        o.conn.Connect({pki::Role::kEdge, pki::Role::kHub});
    if (!client.ok()) return ReportError(client.status());
    v1::VerifyReceiptRequest req;
    req.set_receipt_json(*json);
    if (digest) req.set_document_digest(std::string(digest->begin(), digest->end()));
    v1::VerifyReceiptResponse resp;
    if (absl::Status s = (*client)->Call("/beibu.v1.Evidence/VerifyReceipt", req, &resp); !s.ok()) {
      return ReportError(s);
    }
    if (!resp.valid()) {
      std::cerr << "invalid (checked at " << (*client)->server().id << "): " << resp.reason()
                << "\n";
      return kExitInvalid;
    }
    if (!resp.anchored() && !o.allow_unanchored) {
      std::cerr << "not yet anchored (checked at " << (*client)->server().id
                << "): valid so far, but the hub has not cosigned it; fetch the receipt again "
                   "later, or pass --allow-unanchored\n";
      return kExitInvalid;
    }
    std::cout << "valid: " << resp.document_type() << " notarized at " << resp.node_id() << " on "
              << resp.notarized_at() << (resp.anchored() ? ", anchored by the hub" : "")
              << " (checked at " << (*client)->server().id << ")\n";
    return kExitOk;
  }
  if (o.trust.empty()) {
    std::cerr << "beibu: offline verification needs --trust TRUST-BUNDLE.pem (or --server to ask "
                 "a node)\n";
    return kExitUsage;
  }
  absl::StatusOr<std::shared_ptr<pki::TrustBundle>> bundle = daemon::LoadTrustBundle(o.trust);
  if (!bundle.ok()) return ReportError(bundle.status());
  audit::ReceiptVerifyOptions options;
  options.require_anchor = !o.allow_unanchored;
  absl::StatusOr<audit::VerifiedReceipt> verified =
      audit::VerifyReceiptOffline(*receipt, **bundle, std::nullopt, pki::Clock::now(), options);
  if (verified.ok() && digest &&
      Bytes(digest->begin(), digest->end()) != verified->entry.document_digest) {
    verified = absl::DataLossError("document does not match the receipt: its SM3 digest differs");
  }
  if (!verified.ok()) {
    std::cerr << (absl::IsFailedPrecondition(verified.status()) ? "" : "invalid: ")
              << verified.status().message() << "\n";
    return kExitInvalid;
  }
  std::cout << "valid: " << audit::DocumentTypeName(verified->entry.document_type)
            << " notarized at " << verified->node.id << " on "
            << audit::FormatTimestampMs(verified->entry.notarized_at_ms)
            << (verified->hub ? ", anchored by " + verified->hub->id : "") << "\n";
  return kExitOk;
}

}  // namespace

void AddEvidenceCommands(CLI::App& app, int* exit_code) {
  auto n = std::make_shared<NotarizeOptions>();
  CLI::App* notarize = app.add_subcommand(
      "notarize",
      "Notarize a document at your edge: its SM3 digest (never the document) goes into the\n"
      "edge's audit log, and a receipt comes back (FILE.receipt.json by default)");
  n->conn.AddTo(notarize);
  notarize->add_option("FILE", n->file, "the document")->required();
  notarize->add_option("--type", n->type,
                       "e_contract, certificate_of_origin, invoice, bill_of_lading or other");
  notarize->add_option("--party", n->parties, "an enterprise id party to the document (repeat)");
  notarize->add_option("--reference", n->reference, "contract or certificate number");
  notarize->add_option("--out", n->out, "where to write the receipt");
  notarize->add_option("--wait", n->wait_seconds,
                       "wait up to this many seconds for the hub's cosignature (anchoring)");
  notarize->callback([=] { *exit_code = RunNotarize(*n); });

  auto v = std::make_shared<VerifyOptions>();
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Verify a receipt, and the document if given: offline with --trust BUNDLE, or at any\n"
      "node with --server. Exit 0 valid, 1 invalid or not yet anchored (reason on stderr),\n"
      "2 malformed receipt");
  verify->add_option("RECEIPT", v->receipt, "receipt JSON from `beibu notarize`")->required();
  verify->add_option("FILE", v->file, "the document, to check it is the one notarized");
  verify->add_option("--trust", v->trust, "trust bundle PEM for offline verification")
      ->envname("BEIBU_TRUST");
  verify->add_flag("--allow-unanchored", v->allow_unanchored,
                   "accept a receipt the hub has not cosigned yet");
  verify->add_option("--server", v->conn.server, "verify online at this node instead");
  verify->add_option("--identity", v->conn.identity_dir, "your identity directory (online)");
  verify->add_option("--key", v->conn.key, "private key PEM (online)");
  verify->add_option("--cert", v->conn.cert, "certificate PEM (online)");
  verify->add_option("--tls-ca", v->conn.tls_ca, "TLS roots (online, TLS transport)");
  verify->callback([=] {
    if (!v->conn.server.empty() && v->conn.trust.empty()) v->conn.trust = v->trust;
    *exit_code = RunVerify(*v);
  });
}

}  // namespace beibu::cli
