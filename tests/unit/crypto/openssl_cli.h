// Differential-testing helpers: run the `openssl` CLI and parse what it prints.
#pragma once

#include <string>
#include <vector>

#include "beibu/crypto/bytes.h"

namespace beibu::testing {

// Runs `openssl args...` with `stdin_data`; returns its stdout. Records a test
// failure (with openssl's stderr) unless it exits 0, so callers can simply
// compare the result.
std::string Openssl(const std::vector<std::string>& args, const std::string& stdin_data = "");

// Decodes the hex that `openssl kdf` ("1C:D9:...") and `openssl mac`
// ("08B9...") print, ignoring colons and the trailing newline.
Bytes FromOpensslHex(const std::string& text);

// A length in [0, max], drawn from the CSPRNG: differential tests run on
// fresh random inputs each time and print them when they fail.
size_t RandomLength(size_t max);

// The first whitespace-separated word of `openssl dgst -r` output: the digest.
std::string FirstWord(const std::string& text);

}  // namespace beibu::testing
