// The kFast candidate finder (internal to the detector).
//
// The RE2 engine finds, per type, the leftmost match of the type's pattern
// from a moving position and then accepts or rejects it (detector.cc). This
// file reproduces exactly the same sequence of candidates without regexes:
//  - MatchAt() is a hand-written anchored matcher per type that returns the
//    end of the match RE2 would prefer at that start (leftmost-first: first
//    alternative, greedy repeats), or 0;
//  - ScanTextFast() walks the text once, cutting it into maximal [0-9A-Za-z]
//    runs, and offers each run start to the types whose shape it can fit
//    (length, digit prefix, following separator). A start inside a run is
//    glued and would be rejected, and a rejection at a run start only skips
//    that run, so those starts need not be tried. Starts that are not
//    alphanumeric ('+' of "+86", ':' of IPv6, the local part before '@') are
//    tried exactly as the RE2 loop would, rejections included.
// The differential tests and the scan fuzz target check the equivalence.
#pragma once

#include <cstddef>
#include <string_view>

namespace beibu::policy::internal {

// Indices into the detector's type table (detector.cc keeps the same order).
enum TypeId : int {
  kCnResidentId = 0,
  kCnUscc,
  kSgNricFin,
  kThNationalId,
  kBankCard,
  kCnMobile,
  kMyMykad,
  kVnCccd,
  kIdNik,
  kEmail,
  kIpAddress,
  kPassport,
  kHealthIcd10,
  kNumTypes
};

// Receives candidates in the order the RE2 loop would see them, per type.
// Returns true when the candidate became a finding (the type's scan then
// resumes at its end), false when rejected (resumes after the run).
class CandidateSink {
 public:
  virtual ~CandidateSink() = default;
  virtual bool Offer(int type, size_t start, size_t end) = 0;
  // Called after each line (at every '\n' and at the end of the text).
  virtual void LineEnd() = 0;
};

// End of the preferred match of `type`'s pattern at `start` in `line`, or 0.
size_t MatchAt(int type, std::string_view line, size_t start);

// Offers every candidate of every type in `text`, in one pass.
void ScanTextFast(std::string_view text, CandidateSink& sink);

inline bool IsAlnumByte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace beibu::policy::internal
