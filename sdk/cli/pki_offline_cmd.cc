// `beibu pki init|show|issue`: the certificate authority's offline commands.
// They work on files only, so an operator can bootstrap a hub (or issue a
// certificate while no hub runs) with nothing but this binary.
#include "pki_offline_cmd.h"

#include "beibu/config/files.h"

#include <fcntl.h>
#include <openssl/x509.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "beibu/crypto/random.h"
#include "beibu/crypto/sm2.h"
#include "beibu/pki/authority.h"
#include "beibu/pki/certificate.h"
#include "beibu/pki/trust_bundle.h"
#include "commands.h"

namespace beibu::cli {
namespace {

namespace fs = std::filesystem;
using pki::Certificate;
using pki::CertificateAuthority;
using pki::RevocationList;

constexpr std::chrono::hours kDay(24);
// End-entity certificates `init` makes for the hub and the operator.
constexpr int kDefaultLeafDays = 365;

// --- small I/O helpers --------------------------------------------------------

// Malformed input and bad arguments are the user's to fix (exit 2); anything
// else is a runtime failure (exit 3).
int ExitCodeFor(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
                 s.code() == absl::StatusCode::kAlreadyExists ||
                 s.code() == absl::StatusCode::kNotFound
             ? kExitUsage
             : kExitFailure;
}

int Fail(std::string_view command, const absl::Status& s) {
  std::cerr << "beibu pki " << command << ": " << s.message() << "\n";
  return ExitCodeFor(s);
}

absl::Status ErrnoError(std::string_view what, const fs::path& path) {
  int err = errno;
  std::string message = absl::StrCat(std::string(what), " ", path.string(), ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EEXIST) return absl::AlreadyExistsError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read", path);
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return ErrnoError("error reading", path);
  return buf.str();
}

absl::Status WritePrivateKey(const fs::path& path, const crypto::Sm2PrivateKey& key) {
  absl::Status s = config::WriteFileAtomic(path.string(), key.ToPem(), 0600, /*overwrite=*/false);
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat(path.string(),
                     " already exists; refusing to overwrite a private key (move it away or "
                     "pick another path)"));
  }
  return s;
}

absl::Status WritePublic(const fs::path& path, const std::string& content) {
  return config::WriteFileAtomic(path.string(), content, 0644, /*overwrite=*/true);
}

// An exclusive lock on a directory for the life of the object, so that two
// concurrent `init`s cannot interleave their files.
class DirLock {
 public:
  static absl::StatusOr<std::unique_ptr<DirLock>> Acquire(const fs::path& dir) {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("cannot open directory", dir);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("another beibu command is writing to ", dir.string()));
    }
    return std::unique_ptr<DirLock>(new DirLock(fd));
  }
  ~DirLock() { close(fd_); }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

// Creates `dir` (mode 0700: it will hold private keys) and its parents.
absl::Status MakeDirectory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return absl::OkStatus();
  ec.clear();  // is_directory() reports ENOENT for a directory still to be made
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", dir.parent_path().string(), ": ", ec.message()));
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError("cannot create", dir);
  return absl::OkStatus();
}

absl::StatusOr<pki::Role> RoleFromName(const std::string& name) {
  std::optional<pki::Role> role = pki::ParseRole(name);
  if (!role) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown role \"", name,
                     "\" (one of: hub, edge, enterprise, officer, regulator, operator)"));
  }
  return *role;
}

pki::Identity MakeIdentity(const std::string& id, pki::Role role, const std::string& country,
                           const std::string& organization) {
  pki::Identity identity;
  identity.id = id;
  identity.role = role;
  identity.country = country;
  identity.organization = organization;
  return identity;
}

// A fresh key and a certificate for it from `ca`.
struct KeyAndCert {
  crypto::Sm2PrivateKey key;
  Certificate cert;
};

absl::StatusOr<KeyAndCert> NewIdentity(const CertificateAuthority& ca,
                                       const pki::Identity& identity, int days) {
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::Generate();
  if (!key.ok()) return key.status();
  pki::IssueOptions options;
  options.validity = days * kDay;
  absl::StatusOr<Certificate> cert = ca.Issue(key->PublicKey(), identity, options);
  if (!cert.ok()) return cert.status();
  return KeyAndCert{*std::move(key), *std::move(cert)};
}

// --- init -------------------------------------------------------------------

struct InitArgs {
  std::string dir;
  std::string name = "Beibu Root CA";
  std::string country = "CN";
  std::string hub_id = "hub";
  std::string operator_id = "operator";
  int days = 3650;
};

absl::Status RunInitLocked(const InitArgs& args, const fs::path& dir) {
  absl::StatusOr<crypto::Sm2PrivateKey> ca_key = crypto::Sm2PrivateKey::Generate();
  if (!ca_key.ok()) return ca_key.status();
  pki::IssueOptions ca_options;
  ca_options.validity = args.days * kDay;
  absl::StatusOr<CertificateAuthority> ca =
      CertificateAuthority::CreateRoot(*ca_key, args.name, args.country, ca_options);
  if (!ca.ok()) return ca.status();

  // Leaves never outlive the root that vouches for them.
  int leaf_days = std::min(args.days, kDefaultLeafDays);
  pki::Identity hub = MakeIdentity(args.hub_id, pki::Role::kHub, args.country, "");
  pki::Identity op = MakeIdentity(args.operator_id, pki::Role::kOperator, args.country, "");
  absl::StatusOr<KeyAndCert> hub_pair = NewIdentity(*ca, hub, leaf_days);
  if (!hub_pair.ok()) return hub_pair.status();
  absl::StatusOr<KeyAndCert> op_pair = NewIdentity(*ca, op, leaf_days);
  if (!op_pair.ok()) return op_pair.status();
  pki::TrustBundle bundle;
  if (absl::Status s = bundle.AddRoot(ca->certificate()); !s.ok()) return s;

  struct Output {
    std::string file;
    std::string content;
    const crypto::Sm2PrivateKey* key;  // written 0600, never overwritten
    std::string what;
  };
  // ca.key goes last: until it exists, the directory holds no CA and `init`
  // may be re-run after a failure.
  const Output outputs[] = {
      {"ca.crt", ca->certificate().ToPem(), nullptr, "root CA certificate"},
      {"trust-bundle.pem", bundle.ToPem(), nullptr, "trust bundle: give it to every node"},
      {"hub.key", "", &hub_pair->key, "hub private key"},
      {"hub.crt", hub_pair->cert.ToPem(), nullptr, "hub certificate (" + args.hub_id + ")"},
      {"operator.key", "", &op_pair->key, "operator private key"},
      {"operator.crt", op_pair->cert.ToPem(), nullptr,
       "operator certificate (" + args.operator_id + ")"},
      {"ca.key", "", &*ca_key, "root CA private key: keep it offline and backed up"},
  };
  for (const Output& out : outputs) {
    fs::path path = dir / out.file;
    absl::Status s = out.key ? WritePrivateKey(path, *out.key) : WritePublic(path, out.content);
    if (!s.ok()) return s;
    std::cout << "wrote " << std::left << std::setw(static_cast<int>(dir.string().size()) + 20)
              << path.string() << out.what << "\n";
  }
  std::cout << "ca-fingerprint: " << ca->certificate().FingerprintHex() << "\n";
  return absl::OkStatus();
}

int RunInit(const InitArgs& args) {
  if (!pki::IsCountryCode(args.country)) {
    return Fail("init", absl::InvalidArgumentError(absl::StrCat(
                            "--country \"", args.country,
                            "\" is not an ISO 3166-1 alpha-2 code (two upper-case letters)")));
  }
  fs::path dir(args.dir);
  if (absl::Status s = MakeDirectory(dir); !s.ok()) return Fail("init", s);
  absl::StatusOr<std::unique_ptr<DirLock>> lock = DirLock::Acquire(dir);
  if (!lock.ok()) return Fail("init", lock.status());
  if (fs::exists(dir / "ca.key")) {
    return Fail("init", absl::AlreadyExistsError(absl::StrCat(
                            (dir / "ca.key").string(),
                            " exists: this directory already holds a CA, and init never "
                            "replaces one (use another --dir)")));
  }
  if (absl::Status s = RunInitLocked(args, dir); !s.ok()) return Fail("init", s);
  return kExitOk;
}

// --- show -------------------------------------------------------------------

// Every "X509 CRL" PEM block of `text`, verbatim.
std::vector<std::string> CrlBlocks(const std::string& text) {
  static constexpr std::string_view kBegin = "-----BEGIN X509 CRL-----";
  static constexpr std::string_view kEnd = "-----END X509 CRL-----";
  std::vector<std::string> blocks;
  for (size_t at = text.find(kBegin); at != std::string::npos; at = text.find(kBegin, at)) {
    size_t end = text.find(kEnd, at);
    if (end == std::string::npos) {
      blocks.push_back(text.substr(at));  // FromPem will say what is wrong
      break;
    }
    blocks.push_back(text.substr(at, end + kEnd.size() - at) + "\n");
    at = end + kEnd.size();
  }
  return blocks;
}

std::string FormatUtc(std::time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string CrlSummary(const RevocationList& crl) {
  std::string out = absl::StrCat("CRL issuer:      ", crl.IssuerLine(), "\n",
                                 "CRL number:      ", crl.Number(), "\n");
  struct tm next {};
  if (const ASN1_TIME* t = X509_CRL_get0_nextUpdate(crl.crl());
      t != nullptr && ASN1_TIME_to_tm(t, &next) == 1) {
    absl::StrAppend(&out, "next update:     ", FormatUtc(timegm(&next)), "\n");
  }
  std::vector<pki::RevokedEntry> entries = crl.Entries();
  absl::StrAppend(&out, "revoked:         ", entries.size(), "\n");
  for (const pki::RevokedEntry& e : entries) {
    absl::StrAppend(&out, "  ", e.serial_hex, "  since ",
                    FormatUtc(pki::Clock::to_time_t(e.revoked_at)), "\n");
  }
  return out;
}

int RunShow(const std::string& file) {
  absl::StatusOr<std::string> text = ReadText(file);
  if (!text.ok()) return Fail("show", text.status());
  std::vector<std::string> sections;
  absl::StatusOr<std::vector<Certificate>> certs = Certificate::AllFromPem(*text);
  if (certs.ok()) {
    for (const Certificate& c : *certs) sections.push_back(c.Summary());
  } else if (text->find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    return Fail("show",
                absl::InvalidArgumentError(absl::StrCat(file, ": ", certs.status().message())));
  } else if (absl::StatusOr<Certificate> der = Certificate::FromDer(AsBytes(*text)); der.ok()) {
    sections.push_back(der->Summary());
  }
  for (const std::string& block : CrlBlocks(*text)) {
    absl::StatusOr<RevocationList> crl = RevocationList::FromPem(block);
    if (!crl.ok()) {
      return Fail("show",
                  absl::InvalidArgumentError(absl::StrCat(file, ": ", crl.status().message())));
    }
    sections.push_back(CrlSummary(*crl));
  }
  if (sections.empty()) {
    return Fail("show", absl::InvalidArgumentError(absl::StrCat(
                            file,
                            " holds neither a certificate nor a CRL (expected PEM "
                            "-----BEGIN CERTIFICATE----- or -----BEGIN X509 CRL-----, or "
                            "a DER certificate)")));
  }
  for (size_t i = 0; i < sections.size(); ++i) {
    std::cout << (i ? "\n" : "") << sections[i];
  }
  return kExitOk;
}

// --- issue ------------------------------------------------------------------

struct IssueArgs {
  std::string dir;
  std::string id;
  std::string role;
  std::string country;
  std::string organization;
  std::string out_key;
  std::string out_cert;
  int days = kDefaultLeafDays;
};

absl::StatusOr<CertificateAuthority> LoadCa(const fs::path& dir) {
  absl::StatusOr<std::string> key_pem = ReadText(dir / "ca.key");
  if (!key_pem.ok()) {
    return absl::NotFoundError(
        absl::StrCat(std::string(key_pem.status().message()),
                     " (is this a CA directory? create one with `beibu pki init --dir DIR`)"));
  }
  absl::StatusOr<std::string> cert_pem = ReadText(dir / "ca.crt");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::FromPem(*key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat((dir / "ca.key").string(), ": ", key.status().message()));
  }
  absl::StatusOr<Certificate> cert = Certificate::FromPem(*cert_pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat((dir / "ca.crt").string(), ": ", cert.status().message()));
  }
  return CertificateAuthority::Load(*std::move(key), *std::move(cert));
}

int RunIssue(const IssueArgs& args) {
  absl::StatusOr<pki::Role> role = RoleFromName(args.role);
  if (!role.ok()) return Fail("issue", role.status());
  if (fs::exists(args.out_key)) {
    return Fail("issue",
                absl::AlreadyExistsError(absl::StrCat(
                    args.out_key, " already exists; refusing to overwrite a private key")));
  }
  absl::StatusOr<CertificateAuthority> ca = LoadCa(args.dir);
  if (!ca.ok()) return Fail("issue", ca.status());
  pki::Identity identity = MakeIdentity(args.id, *role, args.country, args.organization);
  absl::StatusOr<KeyAndCert> pair = NewIdentity(*ca, identity, args.days);
  if (!pair.ok()) return Fail("issue", pair.status());
  if (absl::Status s = WritePrivateKey(args.out_key, pair->key); !s.ok()) return Fail("issue", s);
  std::cout << "wrote " << args.out_key << "  private key (mode 0600)\n";
  if (absl::Status s = WritePublic(args.out_cert, pair->cert.ToPem()); !s.ok()) {
    return Fail("issue", s);
  }
  std::cout << "wrote " << args.out_cert << "  certificate\n\n" << pair->cert.Summary();
  return kExitOk;
}

}  // namespace

void AddPkiOfflineCommands(CLI::App& pki, int* exit_code) {
  auto init_args = std::make_shared<InitArgs>();
  CLI::App* init = pki.add_subcommand(
      "init", "Create a root CA, the hub's and an operator's identities, and the trust bundle");
  init->add_option("--dir", init_args->dir, "Directory for the CA files (created, mode 0700)")
      ->required();
  init->add_option("--name", init_args->name, "Root CA common name")->capture_default_str();
  init->add_option("--country", init_args->country, "ISO 3166 alpha-2 country of the hub")
      ->capture_default_str();
  init->add_option("--hub-id", init_args->hub_id, "Node id of the hub")->capture_default_str();
  init->add_option("--operator-id", init_args->operator_id, "Id of the first operator")
      ->capture_default_str();
  init->add_option("--days", init_args->days, "Validity of the root CA in days")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  init->callback([init_args, exit_code] { *exit_code = RunInit(*init_args); });

  auto show_file = std::make_shared<std::string>();
  CLI::App* show =
      pki.add_subcommand("show", "Describe the certificates and CRLs in a PEM (or DER) file");
  show->add_option("file", *show_file, "Certificate, chain, CRL or trust bundle")
      ->required()
      ->check(CLI::ExistingFile);
  show->callback([show_file, exit_code] { *exit_code = RunShow(*show_file); });

  auto issue_args = std::make_shared<IssueArgs>();
  CLI::App* issue = pki.add_subcommand(
      "issue", "Issue a certificate with the CA in --dir, without a running hub");
  issue->add_option("--dir", issue_args->dir, "CA directory made by `beibu pki init`")
      ->required()
      ->check(CLI::ExistingDirectory);
  issue->add_option("--id", issue_args->id, "Subject id (CN), e.g. edge-vn")->required();
  issue
      ->add_option("--role", issue_args->role,
                   "hub, edge, enterprise, officer, regulator or operator")
      ->required();
  issue->add_option("--country", issue_args->country, "ISO 3166 alpha-2 jurisdiction, e.g. VN")
      ->required();
  issue->add_option("--org", issue_args->organization, "Organization (O), optional");
  issue->add_option("--out-key", issue_args->out_key, "Where to write the new private key")
      ->required();
  issue->add_option("--out-cert", issue_args->out_cert, "Where to write the certificate")
      ->required();
  issue->add_option("--days", issue_args->days, "Validity in days")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  issue->callback([issue_args, exit_code] { *exit_code = RunIssue(*issue_args); });
}

}  // namespace beibu::cli
