// Pure validators for the identifier types the detector recognizes.
// Each takes the candidate text with separators already removed by the
// recognizer (digits/letters only; EMAIL and IP_ADDRESS take the literal
// address). No I/O; CN_RESIDENT_ID reads the system clock for "not in the
// future", VN_CCCD for "birth year not in the future".
#pragma once

#include <string_view>

namespace beibu::policy {

// GB 11643-1999: 17 digits + check (digit or X/x); weights 7 9 10 5 8 4 2 1 6 3
// 7 9 10 5 8 4 2, sum mod 11 indexes "10X98765432"; first digit non-zero;
// birth date YYYYMMDD valid, year >= 1900, not after today.
bool IsValidCnResidentId(std::string_view candidate);
// GB 32100-2015: 18 chars from "0123456789ABCDEFGHJKLMNPQRTUWXY"; weights
// 3^i mod 31; check = (31 - sum mod 31) mod 31 mapped to the alphabet;
// characters 3-8 (administrative division) are digits.
bool IsValidCnUscc(std::string_view candidate);
// 16-19 digits, first digit non-zero, Luhn.
bool IsValidBankCard(std::string_view candidate);
// 11 digits: 1[3-9] + 9 digits (the recognizer strips an optional +86).
bool IsValidCnMobile(std::string_view candidate);
// [STFGM] + 7 digits + letter; weights 2 7 6 5 4 3 2, +4 for T/G, +3 for M,
// r = sum mod 11; S/T "JZIHGFEDCBA"[r], F/G "XWUTRQPNMLK"[r],
// M "KLJNPQRTUWX"[10 - r] (GovTech/opengovsg M-series rule).
bool IsValidSgNricFin(std::string_view candidate);
// 13 digits, first digit 1-8; check = (11 - sum(d_i * (14 - i)) mod 11) mod 10.
bool IsValidThNationalId(std::string_view candidate);
// 12 digits YYMMDD PB ####: date valid in 19YY or 20YY, PB in the JPN
// birthplace table (see validators.cc).
bool IsValidMyMykad(std::string_view candidate);
// 16 digits PP RR SS DD MM YY XXXX: province 11-94, month 01-12, day 01-31
// (women: +40, so 41-71) and within the month (Feb 29 allowed), serial != 0000.
bool IsValidIdNik(std::string_view candidate);
// 12 digits PPP G YY SSSSSS: PPP a province code of Circular 07/2016/TT-BCA
// (001-096, listed in validators.cc), G the century/gender digit (0/1 1900s,
// 2/3 2000s, 4/5 2100s, ...), resulting birth year not after this year.
bool IsValidVnCccd(std::string_view candidate);
// local@domain: local 1-64 chars of [A-Za-z0-9._%+-], no leading/trailing or
// double dot; domain <= 253, labels 1-63 [A-Za-z0-9-] not starting/ending
// with '-', TLD alphabetic >= 2.
bool IsValidEmail(std::string_view candidate);
// IPv4 dotted quad 0-255 without leading zeros, or IPv6 accepted by inet_pton
// with at least two groups ("::" and "::1" are not findings).
bool IsValidIpAddress(std::string_view candidate);
// ICD-10 / ICD-10-CM diagnosis code, STRUCTURE ONLY (no code table: a
// well-formed code that no edition assigns, such as "Q99.9X", passes):
// a letter A-Z except U, a digit, a digit or letter (ICD-10-CM's "C4A",
// "M1A"), then optionally '.' and 1-4 digits or letters (3-7 characters
// without the dot). Upper case only; the dot-less long form ("E119") is not
// accepted. Letter U (WHO's provisional/emergency block, e.g. U07.1) is
// excluded, as ICD-10-CM's code structure does.
bool IsValidHealthIcd10(std::string_view candidate);

}  // namespace beibu::policy
