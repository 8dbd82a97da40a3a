// `beibu crypto ...`: SM3 digests, SM2 signatures and SM2 keys. Everything
// is interoperable with the openssl CLI: keys are PEM (PKCS#8 /
// SubjectPublicKeyInfo), signatures are DER over SM3(Z_ID || file) exactly as
// `openssl dgst -sm3 -sigopt distid:1234567812345678` makes them.
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "beibu/crypto/crypto.h"
#include "commands.h"

namespace beibu::cli {
namespace {

using crypto::Sm2PrivateKey;
using crypto::Sm2PublicKey;

// Signing and verifying hold the whole file in memory (the SM2 API is
// one-shot); beyond this size we refuse rather than exhaust memory.
constexpr size_t kMaxSignedSize = size_t{1} << 30;
constexpr size_t kReadChunk = size_t{1} << 20;

// --- Errors and exit codes ---------------------------------------------------

std::string ErrnoText(int err) { return std::strerror(err); }

// Maps a status to the documented exit codes: UNAUTHENTICATED is a check that
// failed, the user-input codes are usage errors, the rest runtime failures.

// A status for a failed open(2) of an input file the user named.
absl::Status OpenError(const std::string& what, const std::string& path, int err) {
  std::string msg = absl::StrCat("cannot open ", what, " '", path, "': ", ErrnoText(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InvalidArgumentError(msg);
}

// --- File input and output ---------------------------------------------------

// An open file descriptor, closed on scope exit unless it is stdin.
class InputFile {
 public:
  // `path` "-" means standard input.
  static absl::StatusOr<InputFile> Open(const std::string& what, const std::string& path) {
    if (path == "-") return InputFile(STDIN_FILENO, "standard input");
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return OpenError(what, path, errno);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", path, "' is a directory; give a file"));
    }
    return InputFile(fd, path);
  }

  InputFile(InputFile&& o) noexcept : fd_(o.fd_), name_(std::move(o.name_)) { o.fd_ = -1; }
  InputFile& operator=(InputFile&&) = delete;
  ~InputFile() {
    if (fd_ > STDIN_FILENO) close(fd_);
  }

  // Reads up to `n` bytes, retrying on EINTR; 0 at end of file.
  absl::StatusOr<size_t> Read(char* buf, size_t n) {
    for (;;) {
      ssize_t r = read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) {
        return absl::DataLossError(absl::StrCat("error reading '", name_, "': ", ErrnoText(errno)));
      }
    }
  }

  // Size of a regular file, or -1 for pipes and terminals.
  off_t RegularFileSize() const {
    struct stat st;
    return fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
  }

  const std::string& name() const { return name_; }

 private:
  InputFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_;
  std::string name_;
};

absl::Status TooLarge(const std::string& name, size_t limit) {
  std::string size = limit >= (size_t{1} << 20) ? absl::StrCat(limit >> 20, " MiB")
                                                 : absl::StrCat(limit >> 10, " KiB");
  if (limit < kMaxSignedSize) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", name, "' is larger than ", size, ": not a key, certificate or signature"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("'", name, "' is larger than ", size,
                   ", the most this command holds in memory; sign its SM3 digest instead "
                   "(`beibu crypto sm3 FILE > FILE.sm3`, then sign FILE.sm3)"));
}

// The whole content of `path` ("-" = stdin), refusing more than `limit` bytes.
absl::StatusOr<std::string> ReadWhole(const std::string& what, const std::string& path,
                                      size_t limit) {
  absl::StatusOr<InputFile> in = InputFile::Open(what, path);
  if (!in.ok()) return in.status();
  // Regular files are checked up front so a huge file fails fast.
  off_t size = in->RegularFileSize();
  if (size > 0 && static_cast<size_t>(size) > limit) return TooLarge(in->name(), limit);
  std::string data;
  // Room for the final empty read too, so a large file is never copied.
  if (size > 0) data.reserve(static_cast<size_t>(size) + kReadChunk);
  for (;;) {
    size_t old = data.size();
    data.resize(old + kReadChunk);
    absl::StatusOr<size_t> n = in->Read(data.data() + old, kReadChunk);
    if (!n.ok()) return n.status();
    data.resize(old + *n);
    if (*n == 0) return data;
    if (data.size() > limit) return TooLarge(in->name(), limit);
  }
}

// Writes all of `data` to `fd`, retrying on EINTR and short writes.
absl::Status WriteAll(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t w = write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      return absl::InternalError(absl::StrCat("cannot write ", name, ": ", ErrnoText(errno)));
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  return absl::OkStatus();
}

// Creates `path` with `mode` and writes `data`. Refuses to replace an existing
// file unless `force`; a replaced file is unlinked first so the new one gets
// `mode` even if the old one was more permissive.
absl::Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode, bool force) {
  if (force && unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot replace '", path, "': ", ErrnoText(errno)));
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST) {
    return absl::AlreadyExistsError(
        absl::StrCat("'", path, "' already exists; choose another path or pass --force"));
  }
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create '", path, "': ", ErrnoText(errno)));
  }
  absl::Status s = WriteAll(fd, data, "'" + path + "'");
  // fsync so that a key reported as written survives a crash.
  if (s.ok() && fsync(fd) != 0) {
    s = absl::InternalError(absl::StrCat("cannot sync '", path, "': ", ErrnoText(errno)));
  }
  if (close(fd) != 0 && s.ok()) {
    s = absl::InternalError(absl::StrCat("cannot write '", path, "': ", ErrnoText(errno)));
  }
  if (!s.ok()) unlink(path.c_str());
  return s;
}

// --- Keys and certificates ---------------------------------------------------

// Prefixes a parse error with the file it came from, keeping its code.
absl::Status InFile(const std::string& path, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(path, ": ", std::string(s.message())));
}

// Key and certificate files are small; anything bigger is not one.
constexpr size_t kMaxKeyFileSize = size_t{1} << 20;

absl::StatusOr<Sm2PrivateKey> LoadPrivateKey(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadWhole("private key", path, kMaxKeyFileSize);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<Sm2PrivateKey> key = Sm2PrivateKey::FromPem(*pem);
  if (!key.ok()) return InFile(path, key.status());
  return key;
}

absl::StatusOr<Sm2PublicKey> LoadPublicKey(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadWhole("public key", path, kMaxKeyFileSize);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<Sm2PublicKey> key = Sm2PublicKey::FromPem(*pem);
  if (!key.ok()) return InFile(path, key.status());
  return key;
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// Parses a PEM certificate, or a DER one as a fallback.
X509Ptr ParseCertificate(const std::string& data) {
  BIO* bio = BIO_new_mem_buf(data.data(), static_cast<int>(data.size()));
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!cert) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    cert.reset(d2i_X509(nullptr, &p, static_cast<long>(data.size())));
  }
  crypto::DrainOpenSslErrors();
  return cert;
}

// The subject public key of an X.509 certificate. The certificate itself is
// not validated here: that is `beibu pki` (or `openssl verify`)'s job.
absl::StatusOr<Sm2PublicKey> LoadCertificateKey(const std::string& path) {
  absl::StatusOr<std::string> data = ReadWhole("certificate", path, kMaxKeyFileSize);
  if (!data.ok()) return data.status();
  X509Ptr cert = ParseCertificate(*data);
  if (!cert) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not an X.509 certificate (expected PEM -----BEGIN CERTIFICATE----- or DER)"));
  }
  absl::StatusOr<Sm2PublicKey> key = Sm2PublicKey::FromEvp(X509_get0_pubkey(cert.get()));
  if (!key.ok()) return InFile(path, key.status());
  return key;
}

// --- Commands ----------------------------------------------------------------

absl::Status RunSm3(const std::string& path) {
  absl::StatusOr<InputFile> in = InputFile::Open("file", path);
  if (!in.ok()) return in.status();
  crypto::Sm3 sm3;
  std::string buf(kReadChunk, '\0');
  for (;;) {
    absl::StatusOr<size_t> n = in->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    sm3.Update(AsBytes(std::string_view(buf.data(), *n)));
  }
  return WriteAll(STDOUT_FILENO, HexEncode(sm3.Final()) + "\n", "standard output");
}

struct SignOptions {
  std::string key;
  std::string id{crypto::kDefaultSm2Id};
  std::string file;
};

absl::Status RunSign(const SignOptions& o) {
  if (isatty(STDOUT_FILENO)) {
    return absl::InvalidArgumentError(
        "the signature is binary DER; redirect standard output to a file (> FILE.sig)");
  }
  absl::StatusOr<Sm2PrivateKey> key = LoadPrivateKey(o.key);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> msg = ReadWhole("file", o.file, kMaxSignedSize);
  if (!msg.ok()) return msg.status();
  absl::StatusOr<Bytes> sig = key->Sign(AsBytes(*msg), o.id);
  if (!sig.ok()) return sig.status();
  return WriteAll(STDOUT_FILENO, AsChars(*sig), "standard output");
}

struct VerifyOptions {
  std::string pub;
  std::string cert;
  std::string sig;
  std::string id{crypto::kDefaultSm2Id};
  std::string file;
};

absl::Status RunVerify(const VerifyOptions& o) {
  if (o.sig == "-" && o.file == "-") {
    return absl::InvalidArgumentError("--sig and FILE cannot both be standard input");
  }
  absl::StatusOr<Sm2PublicKey> key =
      o.cert.empty() ? LoadPublicKey(o.pub) : LoadCertificateKey(o.cert);
  if (!key.ok()) return key.status();
  // A DER SM2 signature is at most 72 bytes; leave room for mistakes to be
  // reported as "not a signature" rather than "too large".
  absl::StatusOr<std::string> sig = ReadWhole("signature", o.sig, 4096);
  if (!sig.ok()) return sig.status();
  absl::StatusOr<std::string> msg = ReadWhole("file", o.file, kMaxSignedSize);
  if (!msg.ok()) return msg.status();
  absl::Status s = key->Verify(AsBytes(*msg), AsBytes(*sig), o.id);
  if (s.ok()) return WriteAll(STDOUT_FILENO, "valid\n", "standard output");
  // Whatever is wrong with the signature itself, the answer is "not valid"
  // (exit 1); usage errors (exit 2) are reserved for the key and arguments.
  if (s.code() == absl::StatusCode::kInvalidArgument) {
    return absl::UnauthenticatedError(absl::StrCat(
        "invalid: '", o.sig, "' is not a DER SM2 signature (", std::string(s.message()), ")"));
  }
  if (s.code() == absl::StatusCode::kUnauthenticated) {
    return absl::UnauthenticatedError(absl::StrCat(
        "invalid: the signature does not match '", o.file, "' under this key and ID '", o.id,
        "' (file or signature modified, wrong key, or signer used another --id)"));
  }
  return s;
}

struct KeygenOptions {
  std::string out;
  std::string pub;
  bool force = false;
};

absl::Status RunKeygen(const KeygenOptions& o) {
  if (o.out == o.pub) {
    return absl::InvalidArgumentError("--out and --pub must be different files");
  }
  // Check both targets before writing either, so a refusal leaves no half-made pair.
  for (const std::string& path : {o.out, o.pub}) {
    struct stat st;
    if (!o.force && !path.empty() && stat(path.c_str(), &st) == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("'", path, "' already exists; choose another path or pass --force"));
    }
  }
  absl::StatusOr<Sm2PrivateKey> key = Sm2PrivateKey::Generate();
  if (!key.ok()) return key.status();
  if (absl::Status s = WriteNewFile(o.out, key->ToPem(), 0600, o.force); !s.ok()) return s;
  if (o.pub.empty()) return absl::OkStatus();
  return WriteNewFile(o.pub, key->PublicKey().ToPem(), 0644, o.force);
}

// --- Command-line wiring -----------------------------------------------------

constexpr char kIdHelp[] =
    "SM2 distinguishing ID (signer and verifier must use the same one; "
    "openssl: -sigopt distid:ID)";

void AddSm3(CLI::App& crypto, int* exit_code) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = crypto.add_subcommand(
      "sm3", "Print the SM3 digest of FILE as lowercase hex (same as `openssl dgst -sm3 -r`)");
  cmd->add_option("FILE", *path, "File to hash; - for standard input")->required();
  cmd->callback([path, exit_code] { FinishCommand("crypto sm3", RunSm3(*path), exit_code); });
}

void AddSign(CLI::App& crypto, int* exit_code) {
  auto o = std::make_shared<SignOptions>();
  CLI::App* cmd = crypto.add_subcommand(
      "sign", "Sign FILE with an SM2 key (SM3 digest); write the DER signature to standard output");
  cmd->add_option("--key", o->key, "SM2 private key, unencrypted PEM (from `beibu crypto keygen`)")
      ->required();
  cmd->add_option("--id", o->id, kIdHelp)->capture_default_str();
  cmd->add_option("FILE", o->file, "File to sign (at most 1 GiB); - for standard input")
      ->required();
  cmd->footer(
      "Example: beibu crypto sign --key key.pem report.pdf > report.pdf.sig\n"
      "openssl equivalent: openssl dgst -sm3 -sign key.pem -sigopt distid:1234567812345678 FILE");
  cmd->callback([o, exit_code] { FinishCommand("crypto sign", RunSign(*o), exit_code); });
}

void AddVerify(CLI::App& crypto, int* exit_code) {
  auto o = std::make_shared<VerifyOptions>();
  CLI::App* cmd = crypto.add_subcommand(
      "verify", "Check an SM2 signature over FILE; print \"valid\" and exit 0 if it holds");
  CLI::Option_group* signer = cmd->add_option_group("signer", "The signer's public key");
  signer->add_option("--pub", o->pub, "SM2 public key, PEM");
  signer->add_option("--cert", o->cert,
                     "X.509 certificate (PEM or DER) holding the SM2 public key; "
                     "the certificate itself is not validated");
  signer->require_option(1);
  cmd->add_option("--sig", o->sig, "DER signature file (as `beibu crypto sign` writes)")
      ->required();
  cmd->add_option("--id", o->id, kIdHelp)->capture_default_str();
  cmd->add_option("FILE", o->file, "The signed file; - for standard input")->required();
  cmd->footer(
      "Exit status: 0 valid; 1 invalid (reason on stderr); 2 bad arguments, "
      "unreadable or malformed key/certificate; 3 I/O failure.");
  cmd->callback([o, exit_code] { FinishCommand("crypto verify", RunVerify(*o), exit_code); });
}

void AddKeygen(CLI::App& crypto, int* exit_code) {
  auto o = std::make_shared<KeygenOptions>();
  CLI::App* cmd = crypto.add_subcommand("keygen", "Generate an SM2 key pair as PEM files");
  cmd->add_option("--out", o->out, "Private key file to create (PKCS#8 PEM, mode 0600)")
      ->required();
  cmd->add_option("--pub", o->pub, "Also write the public key (PEM) to this file");
  cmd->add_flag("--force", o->force, "Replace existing files");
  cmd->callback([o, exit_code] { FinishCommand("crypto keygen", RunKeygen(*o), exit_code); });
}

}  // namespace

void AddCryptoCommands(CLI::App& app, int* exit_code) {
  CLI::App* crypto = app.add_subcommand(
      "crypto", "SM3 digests, SM2 signatures and keys (interoperable with the openssl CLI)");
  crypto->require_subcommand(1);
  crypto->footer(
      "Signatures are DER SM2-with-SM3 under distinguishing ID 1234567812345678 unless --id "
      "is given.\nExit status: 0 ok, 1 check failed, 2 bad arguments or input, 3 I/O failure.");
  AddSm3(*crypto, exit_code);
  AddSign(*crypto, exit_code);
  AddVerify(*crypto, exit_code);
  AddKeygen(*crypto, exit_code);
}

}  // namespace beibu::cli
