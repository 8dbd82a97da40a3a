#include "openssl_cli.h"

#include <gtest/gtest.h>

#include "beibu/crypto/random.h"
#include "subprocess.h"

namespace beibu::testing {

std::string Openssl(const std::vector<std::string>& args, const std::string& stdin_data) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = Run(argv, stdin_data);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += a + " ";
    ADD_FAILURE() << cmd << "exited " << r.exit_code << ": " << r.err;
  }
  return r.out;
}

Bytes FromOpensslHex(const std::string& text) {
  std::string hex;
  for (char c : text) {
    if (c != ':' && c != '\n' && c != '\r') hex += c;
  }
  absl::StatusOr<Bytes> bytes = HexDecode(hex);
  if (!bytes.ok()) {
    ADD_FAILURE() << "openssl printed non-hex output: " << text;
    return {};
  }
  return *bytes;
}

size_t RandomLength(size_t max) {
  Bytes r = crypto::RandomBytes(4);
  uint32_t v = uint32_t{r[0]} << 24 | uint32_t{r[1]} << 16 | uint32_t{r[2]} << 8 | r[3];
  return v % (max + 1);
}

std::string FirstWord(const std::string& text) {
  return text.substr(0, text.find_first_of(" \t\n"));
}

}  // namespace beibu::testing
