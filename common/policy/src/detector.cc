#include "beibu/policy/detector.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>

#include "beibu/policy/validators.h"

namespace beibu::policy {
namespace {

struct TypeSpec {
  const char* type;
  const char* pattern;  // candidate pattern; group 0 is the candidate
  bool (*validate)(std::string_view);
  double base_score;
  std::vector<std::string_view> context;  // lower-case ASCII or UTF-8 words
  bool strip_separators;                  // drop ' ' and '-' before validating
  bool context_required;                  // PASSPORT
};

bool AlwaysValid(std::string_view) { return true; }

// Order matters for tie-breaking between overlapping findings of equal score.
const std::vector<TypeSpec>& TypeSpecs() {
  static const auto* kTypes = new std::vector<TypeSpec>{
      {"CN_RESIDENT_ID",
       R"(\d{17}[\dXx])",
       IsValidCnResidentId,
       0.85,
       {"身份证", "证件号", "id card", "id_card", "idcard", "id no", "id_no", "resident id",
        "公民身份"},
       false,
       false},
      {"CN_USCC",
       R"([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})",
       IsValidCnUscc,
       0.85,
       {"统一社会信用代码", "信用代码", "uscc", "credit code", "credit_code"},
       false,
       false},
      {"SG_NRIC_FIN",
       R"([STFGM]\d{7}[A-Z])",
       IsValidSgNricFin,
       0.85,
       {"nric", "fin"},
       false,
       false},
      {"TH_NATIONAL_ID",
       R"(\d{13}|\d-\d{4}-\d{5}-\d{2}-\d)",
       IsValidThNationalId,
       0.85,
       {"thai id", "national id", "national_id", "บัตรประชาชน", "เลขประจำตัวประชาชน"},
       true,
       false},
      {"BANK_CARD",
       R"(\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{16,19})",
       IsValidBankCard,
       0.8,
       {"card", "银行卡", "卡号", "account", "账号", "pan"},
       true,
       false},
      {"CN_MOBILE",
       R"((?:\+86[ -]?)?1[3-9]\d{9})",
       IsValidCnMobile,
       0.6,
       {"手机", "电话", "mobile", "phone", "tel", "联系方式"},
       true,
       false},
      {"MY_MYKAD",
       R"(\d{6}-\d{2}-\d{4}|\d{12})",
       IsValidMyMykad,
       0.6,
       {"mykad", "ic no", "ic_no", "nric", "kad pengenalan", "no. k/p"},
       true,
       false},
      {"VN_CCCD",
       R"(\d{12})",
       IsValidVnCccd,
       0.55,
       {"cccd", "căn cước", "can cuoc", "cmnd", "citizen id"},
       false,
       false},
      {"ID_NIK", R"(\d{16})", IsValidIdNik, 0.55, {"nik", "ktp", "kependudukan"}, false, false},
      {"EMAIL",
       R"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)",
       IsValidEmail,
       0.9,
       {"email", "e-mail", "mail", "邮箱"},
       false,
       false},
      {"IP_ADDRESS",
       R"(\d{1,3}(?:\.\d{1,3}){3}|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){0,6}:?(?::[0-9A-Fa-f]{1,4}){1,7}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|::)",
       IsValidIpAddress,
       0.7,
       {"ip", "address", "addr", "host"},
       false,
       false},
      {"PASSPORT",
       R"([A-Z]{1,2}\d{6,8})",
       AlwaysValid,
       0.7,
       {"passport", "护照", "paspor", "hộ chiếu", "passeport", "pasaporte", "หนังสือเดินทาง"},
       false,
       true},
  };
  return *kTypes;
}

constexpr size_t kContextWindow = 48;
constexpr size_t kPassportWindow = 32;
constexpr double kContextBoost = 0.15;

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// True if one of `words` occurs in the `window` bytes before `pos` (stopping at
// a newline, so a CSV/JSON line's own field names count but not other lines).
bool HasContext(std::string_view text, size_t pos, size_t window,
                const std::vector<std::string_view>& words) {
  size_t from = pos > window ? pos - window : 0;
  const size_t nl = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  if (nl != std::string_view::npos && nl < pos && nl + 1 > from) from = nl + 1;
  std::string lower(text.substr(from, pos - from));
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (std::string_view w : words) {
    if (lower.find(w) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

struct Detector::Impl {
  static RE2::Options Opts() {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(64 << 20);
    return o;
  }
  Impl() : set(Opts(), RE2::UNANCHORED) {
    for (const TypeSpec& t : TypeSpecs()) {
      const std::string p = t.pattern;
      if (set.Add(re2::StringPiece(p.data(), p.size()), nullptr) < 0) std::abort();
      res.push_back(std::make_unique<RE2>(re2::StringPiece(p.data(), p.size()), Opts()));
      if (!res.back()->ok()) std::abort();
    }
    if (!set.Compile()) std::abort();
  }
  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> res;
};

Detector::Detector(Engine) : impl_(std::make_unique<Impl>()) {}
Detector::~Detector() = default;

std::vector<Finding> Detector::Scan(std::string_view text) const {
  const re2::StringPiece sp(text.data(), text.size());
  std::vector<int> hits;
  std::vector<Finding> found;
  if (!impl_->set.Match(sp, &hits)) return found;
  std::sort(hits.begin(), hits.end());
  const auto& types = TypeSpecs();
  for (int idx : hits) {
    const TypeSpec& t = types[static_cast<size_t>(idx)];
    const RE2& re = *impl_->res[static_cast<size_t>(idx)];
    size_t pos = 0;
    re2::StringPiece m;
    while (pos < text.size() && re.Match(sp, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
      const size_t s = static_cast<size_t>(m.data() - text.data());
      const size_t e = s + m.size();
      bool ok = m.size() > 0;
      if (ok && s > 0 && IsAlnum(text[s - 1])) ok = false;
      if (ok && e < text.size() && IsAlnum(text[e])) ok = false;
      if (ok && std::string_view(t.type) == "IP_ADDRESS") {
        // "1.2.3.4.5" (a version string) is glued by its dots; "a:b::c:" too.
        const auto glued = [&](char c) { return c == '.' || c == ':'; };
        if (s > 1 && glued(text[s - 1]) && IsAlnum(text[s - 2])) ok = false;
        if (e + 1 < text.size() && glued(text[e]) && IsAlnum(text[e + 1])) ok = false;
      }
      if (ok) {
        std::string cand(text.substr(s, e - s));
        if (t.strip_separators) {
          std::erase_if(cand, [](char c) { return c == ' ' || c == '-'; });
          if (std::string_view(t.type) == "CN_MOBILE" && cand.size() == 14 &&
              cand.rfind("+86", 0) == 0)
            cand.erase(0, 3);
        }
        if (!t.validate(cand)) ok = false;
      }
      if (ok && t.context_required && !HasContext(text, s, kPassportWindow, t.context)) ok = false;
      if (ok) {
        double score = t.base_score;
        if (HasContext(text, s, kContextWindow, t.context))
          score = std::min(1.0, score + kContextBoost);
        found.push_back({t.type, s, e, score});
        pos = e;
      } else {
        // Every candidate starting inside this alphanumeric run is glued to its
        // start, so resume after the run.
        size_t next = s + 1;
        while (next < text.size() && IsAlnum(text[next])) ++next;
        pos = std::max(next, s + 1);
      }
    }
  }
  // Resolve overlaps: best score first, then type order; keep non-overlapping.
  std::vector<size_t> order(found.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::map<std::string_view, size_t> rank;
  for (size_t i = 0; i < types.size(); ++i) rank[types[i].type] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (found[a].score != found[b].score) return found[a].score > found[b].score;
    return rank[found[a].type] < rank[found[b].type];
  });
  std::vector<Finding> out;
  for (size_t i : order) {
    const Finding& f = found[i];
    bool overlaps = false;
    for (const Finding& k : out) overlaps = overlaps || (f.start < k.end && k.start < f.end);
    if (!overlaps) out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const Finding& a, const Finding& b) { return a.start < b.start; });
  return out;
}

// Interim (issue 4 in progress): structured formats scan as text.
std::vector<Finding> Detector::Scan(std::string_view text, Format) const { return Scan(text); }
std::vector<Finding> Detector::ScanCsvRecord(std::string_view record,
                                             const std::vector<std::string>&) const {
  return Scan(record);
}
const std::vector<std::string>& Detector::Types() {
  static const auto* kNames = [] {
    auto* v = new std::vector<std::string>();
    for (const TypeSpec& t : TypeSpecs()) v->push_back(t.type);
    return v;
  }();
  return *kNames;
}
Format SniffFormat(std::string_view) { return Format::kText; }

}  // namespace beibu::policy
