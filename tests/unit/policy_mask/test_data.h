// Generators of valid identifiers for the masking tests, written from the
// published check-digit rules (independent of the detector's validators).
#pragma once

#include <random>
#include <string>

namespace beibu::policy::testing {

std::string MakeMobile(std::mt19937_64& rng);             // CN mobile, 11 digits
std::string MakeResidentId(std::mt19937_64& rng);         // CN resident ID, GB 11643
std::string MakeBankCard(std::mt19937_64& rng);           // 16 digits, Luhn
std::string MakeEmail(std::mt19937_64& rng);              // local@domain.tld
std::string MakeFiller(std::mt19937_64& rng, int words);  // words incl. UTF-8 names

}  // namespace beibu::policy::testing
