#include "beibu/policy/detector.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "beibu/policy/validators.h"
#include "csv_fields.h"
#include "token_scanner.h"

namespace beibu::policy {
namespace {

using internal::CandidateSink;

struct TypeSpec {
  const char* type;
  const char* pattern;  // candidate pattern (kRe2); token_scanner.cc mirrors it
  bool (*validate)(std::string_view);
  double base_score;
  std::vector<std::string_view> context;  // lower-case ASCII or UTF-8 words
  bool strip_separators;                  // drop ' ' and '-' before validating
  bool context_required;                  // PASSPORT, HEALTH_ICD10
};

bool AlwaysValid(std::string_view) { return true; }

// Order matters for tie-breaking between overlapping findings of equal score,
// and must match internal::TypeId (token_scanner.h).
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
       R"((?:\+86[ -]?)?1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4}))",
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
       R"([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)",
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
      // Last in tie-break order and scored below every other type even with
      // its (required) context, 0.35 + 0.15 = 0.5 < 0.55: an ICD-shaped code
      // overlapping another type's finding (the "1234" of "E11.1234 5678 ...")
      // always loses, so adding this type never changes an existing finding.
      // Context words: "diagnos" covers diagnosis/diagnose/diagnostic/diagnosa;
      // "icd" (3 bytes) matches inside text, where it occurs in no common word,
      // and as a whole word in column names ("icd_code"; "icd10" is listed for
      // "icd10_code"). "dx" is too short to trust inside text ("SDXC E64"), so
      // text only accepts the quoted JSON key "dx" and kColumnOnlyHealthWords
      // adds the bare word for CSV columns.
      {"HEALTH_ICD10",
       R"([A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)",
       IsValidHealthIcd10,
       0.35,
       {"diagnos", "icd", "icd10", "\"dx\"", "disease", "诊断", "疾病", "病历", "chẩn đoán", "bệnh",
        "การวินิจฉัย", "โรค", "penyakit"},
       false,
       true},
  };
  return *kTypes;
}

constexpr size_t kContextWindow = kContextWindowBytes;
constexpr size_t kPassportWindow = 48;
constexpr double kContextBoost = 0.15;

using internal::IsAlnumByte;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// First bytes of the context words, raw (either case), as a bit per type:
// the search below compares words only at window bytes that can start one of
// the type's words, instead of running one substring search per word (this
// check runs for every validated candidate, up to twice).
const uint16_t* ContextFirstBytes() {
  static const auto* kFirst = [] {
    auto* first = new uint16_t[256]();
    const auto& types = TypeSpecs();
    for (size_t i = 0; i < types.size(); ++i) {
      for (std::string_view w : types[i].context) {
        const auto b = static_cast<uint8_t>(w[0]);
        first[b] |= static_cast<uint16_t>(1u << i);
        if (b >= 'a' && b <= 'z') first[b - 'a' + 'A'] |= static_cast<uint16_t>(1u << i);
      }
    }
    return first;
  }();
  return kFirst;
}

// True if one of type `ti`'s words occurs, ASCII case-insensitively, within
// the `window` bytes before `pos`, stopping at a newline (so a CSV/JSON
// line's own field names count but not other lines'). Same result as
// lower-casing the window and searching it for each word, without the copy.
// Walks backwards so that the first newline ends the search.
bool HasContext(std::string_view text, size_t pos, size_t window, int ti) {
  static_assert(internal::kNumTypes <= 16, "ContextFirstBytes holds 16 types");
  const uint16_t* first = ContextFirstBytes();
  const uint16_t bit = static_cast<uint16_t>(1u << ti);
  const std::vector<std::string_view>& words = TypeSpecs()[static_cast<size_t>(ti)].context;
  const size_t from = pos > window ? pos - window : 0;
  for (size_t i = pos; i > from;) {
    --i;
    const auto raw = static_cast<uint8_t>(text[i]);
    if (!(first[raw] & bit)) {
      if (raw == '\n') return false;  // words never contain a newline
      continue;
    }
    const char b = Lower(text[i]);
    for (std::string_view w : words) {
      if (w[0] != b || w.size() > pos - i) continue;
      size_t k = 1;
      while (k < w.size() && Lower(text[i + k]) == w[k]) ++k;
      if (k == w.size()) return true;
    }
  }
  return false;
}

// Column names: '_', '-' and '.' count as spaces, so "passport_no",
// "mobile-phone" and "id.card" read like the context words. Words of four
// bytes or more match anywhere ("useremail"); shorter ASCII words ("ip",
// "tel", "fin", "pan", "nik") must be a whole word, or "zip", "hotel",
// "finance" and "company" would count.
std::string NormalizeName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    c = Lower(c);
    if (c == '_' || c == '-' || c == '.') c = ' ';
  }
  return out;
}

bool NameHasWord(const std::string& name, std::string_view raw_word) {
  const std::string word = NormalizeName(raw_word);
  if (word.empty()) return false;
  for (size_t at = name.find(word); at != std::string::npos; at = name.find(word, at + 1)) {
    if (word.size() >= 4) return true;
    const bool left = at == 0 || !IsAlnumByte(name[at - 1]);
    const size_t end = at + word.size();
    const bool right = end >= name.size() || !IsAlnumByte(name[end]);
    if (left && right) return true;
  }
  return false;
}

// Column-name-only context for HEALTH_ICD10 (see its TypeSpec): "dx",
// "primary_dx", "dx-code" are diagnosis columns; as a whole word only.
constexpr std::string_view kColumnOnlyHealthWords[] = {"dx"};

// Bit i set: column `name` is context for type i.
uint32_t ColumnMask(std::string_view name) {
  const std::string norm = NormalizeName(name);
  uint32_t mask = 0;
  const auto& types = TypeSpecs();
  for (size_t i = 0; i < types.size(); ++i) {
    for (std::string_view w : types[i].context) {
      if (NameHasWord(norm, w)) {
        mask |= 1u << i;
        break;
      }
    }
  }
  for (std::string_view w : kColumnOnlyHealthWords) {
    if (NameHasWord(norm, w)) mask |= 1u << internal::kHealthIcd10;
  }
  return mask;
}

// The fields of the CSV record being scanned and their columns' context bits.
// The record is split into fields only when a candidate passed its validator
// and needs its column: most records of real traffic have none.
struct Columns {
  size_t origin = 0;                             // offset of the record in the scanned text
  std::string_view record;                       // the record, split on first use
  const std::vector<uint32_t>* masks = nullptr;  // per header column

  void Reset(std::string_view rec, size_t at) {
    record = rec;
    origin = at;
    split = false;
  }

  // Context bits of the column holding text offset `pos`.
  uint32_t MaskAt(size_t pos) const {
    if (masks == nullptr || pos < origin) return 0;
    if (!split) {
      fields = internal::SplitCsvRecord(record);
      split = true;
    }
    const size_t rel = pos - origin;
    auto it = std::upper_bound(fields.begin(), fields.end(), rel,
                               [](size_t v, const internal::CsvField& f) { return v < f.start; });
    if (it == fields.begin()) return 0;
    --it;
    const size_t index = static_cast<size_t>(it - fields.begin());
    if (rel >= it->end || index >= masks->size()) return 0;
    return (*masks)[index];
  }

 private:
  mutable bool split = false;
  mutable std::vector<internal::CsvField> fields;
};

// Step 3-5 of detector.h for one candidate, shared by both engines so that
// they differ only in how candidates are found.
class Collector : public CandidateSink {
 public:
  std::string_view line;  // the line (kRe2) or whole text (kFast) being scanned
  size_t base = 0;        // its offset in the scanned text
  const Columns* columns = nullptr;
  // A finding before it is kept: the type name is only materialized for the
  // findings that survive overlap resolution.
  struct Hit {
    int type;
    size_t start, end;
    double score;
  };
  // This line's hits in the order offered. Both vectors are per-thread
  // scratch reused by every Scan call, so a call allocates only its result.
  std::vector<Hit>& hits = Scratch().hits;
  std::vector<size_t>& order = Scratch().order;  // scratch for ResolveLine

  // One huge line (a 256 MB single-line file) must not pin its scratch on a
  // worker thread for ever: give back anything beyond what normal lines need.
  ~Collector() {
    constexpr size_t kKeep = 1 << 14;
    if (hits.capacity() > kKeep) std::vector<Hit>().swap(hits);
    if (order.capacity() > kKeep) std::vector<size_t>().swap(order);
  }
  std::vector<Finding> out;  // resolved, start order

  Collector() {
    hits.clear();
    order.clear();
  }

  bool Offer(int ti, size_t s, size_t e) override {
    const TypeSpec& t = TypeSpecs()[static_cast<size_t>(ti)];
    if (e <= s || e > line.size()) return false;
    if (s > 0 && IsAlnumByte(line[s - 1])) return false;
    if (e < line.size() && IsAlnumByte(line[e])) return false;
    // "+8613800138000" is a phone number written with its country code; the
    // digits after a '+' are never an identity-card or card number (a valid
    // Thai checksum there is chance, one in ten).
    if (ti != internal::kCnMobile && s > 0 && line[s - 1] == '+') return false;
    if (ti == internal::kIpAddress) {
      // "1.2.3.4.5" (a version string) is glued by its dots; "a:b::c:" too.
      const auto glued = [&](char c) { return c == '.' || c == ':'; };
      if (s > 1 && glued(line[s - 1]) && IsAlnumByte(line[s - 2])) return false;
      if (e + 1 < line.size() && glued(line[e]) && IsAlnumByte(line[e + 1])) return false;
    }
    std::string_view cand = line.substr(s, e - s);
    char buf[32];  // the longest candidate with separators is 23 bytes
    if (t.strip_separators && cand.size() <= sizeof(buf)) {
      size_t n = 0;
      for (char ch : cand) {
        if (ch != ' ' && ch != '-') buf[n++] = ch;
      }
      cand = std::string_view(buf, n);
      if (ti == internal::kCnMobile && n == 14 && cand.substr(0, 3) == "+86") cand.remove_prefix(3);
    }
    if (!t.validate(cand)) return false;
    const bool column =
        columns != nullptr && (columns->MaskAt(base + s) >> static_cast<unsigned>(ti)) & 1u;
    // A word within the passport window is also within the wider one.
    bool context = column;
    if (t.context_required && !column) {
      if (!HasContext(line, s, kPassportWindow, ti)) return false;
      context = true;
    }
    if (!context) context = HasContext(line, s, kContextWindow, ti);
    const double score = context ? std::min(1.0, t.base_score + kContextBoost) : t.base_score;
    hits.push_back({ti, base + s, base + e, score});
    return true;
  }

  // Resolves the line just scanned and appends its findings to `out`.
  void LineEnd() override;

 private:
  struct ScratchSpace {
    std::vector<Hit> hits;
    std::vector<size_t> order;
  };
  static ScratchSpace& Scratch() {
    thread_local ScratchSpace s;
    return s;
  }
};

// Step 6 for the findings of one line (findings on different lines never
// overlap, so resolving line by line equals resolving the whole text): best
// score first, then type order, then offer order (a type's candidates are
// offered in start order); keep what does not overlap; append to `out` in
// start order. (A line is also allowed to be any run of lines.)
void ResolveLine(Collector& c, std::vector<Finding>& out) {
  std::vector<Collector::Hit>& all = c.hits;
  const auto emit = [&](const Collector::Hit& h) {
    out.push_back({Detector::Types()[static_cast<size_t>(h.type)], h.start, h.end, h.score});
  };
  if (out.capacity() == 0) out.reserve(std::max<size_t>(all.size(), 4));
  if (all.size() == 1) {
    emit(all[0]);
    all.clear();
    return;
  }
  // A strict total order (indices break ties), so any sort gives the order.
  const auto before = [&](size_t a, size_t b) {
    if (all[a].score != all[b].score) return all[a].score > all[b].score;
    if (all[a].type != all[b].type) return all[a].type < all[b].type;
    return a < b;
  };
  if (all.size() <= 16) {
    // Few findings (the usual line): insertion sort and linear overlap
    // checks on the stack, no allocation.
    size_t sorted[16];
    for (size_t i = 0; i < all.size(); ++i) {
      size_t k = i;
      for (; k > 0 && before(i, sorted[k - 1]); --k) sorted[k] = sorted[k - 1];
      sorted[k] = i;
    }
    size_t kept[16];
    size_t n = 0;
    for (size_t j = 0; j < all.size(); ++j) {
      const size_t i = sorted[j];
      bool overlaps = false;
      for (size_t k = 0; k < n && !overlaps; ++k)
        overlaps = all[i].start < all[kept[k]].end && all[kept[k]].start < all[i].end;
      if (!overlaps) kept[n++] = i;
    }
    std::sort(kept, kept + n, [&](size_t a, size_t b) { return all[a].start < all[b].start; });
    for (size_t k = 0; k < n; ++k) emit(all[kept[k]]);
    all.clear();
    return;
  }
  std::vector<size_t>& order = c.order;
  order.resize(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), before);
  std::map<size_t, size_t> kept;  // start -> index in `all`
  for (size_t i : order) {
    const Collector::Hit& f = all[i];
    auto it = kept.lower_bound(f.start);
    if (it != kept.end() && all[it->second].start < f.end) continue;
    if (it != kept.begin() && all[std::prev(it)->second].end > f.start) continue;
    kept.emplace(f.start, i);
  }
  for (const auto& [start, i] : kept) emit(all[i]);
  all.clear();
}

}  // namespace

void Collector::LineEnd() {
  if (!hits.empty()) ResolveLine(*this, out);
}

struct Detector::Impl {
  static RE2::Options Opts() {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(64 << 20);
    return o;
  }
  explicit Impl(Engine e) : engine(e), set(Opts(), RE2::UNANCHORED) {
    if (engine != Engine::kRe2) return;
    for (const TypeSpec& t : TypeSpecs()) {
      const std::string p = t.pattern;
      if (set.Add(re2::StringPiece(p.data(), p.size()), nullptr) < 0) std::abort();
      res.push_back(std::make_unique<RE2>(re2::StringPiece(p.data(), p.size()), Opts()));
      if (!res.back()->ok()) std::abort();
    }
    if (!set.Compile()) std::abort();
  }

  // The reference engine on one line: RE2::Set says which types occur, then
  // each type's RE2 is looped with RE2::Match(startpos).
  void ScanLineRe2(std::string_view line, CandidateSink& sink) const {
    const re2::StringPiece sp(line.data(), line.size());
    std::vector<int> hits;
    if (!set.Match(sp, &hits)) return;
    std::sort(hits.begin(), hits.end());
    for (int idx : hits) {
      const RE2& re = *res[static_cast<size_t>(idx)];
      size_t pos = 0;
      re2::StringPiece m;
      while (pos < line.size() && re.Match(sp, pos, line.size(), RE2::UNANCHORED, &m, 1)) {
        const size_t s = static_cast<size_t>(m.data() - line.data());
        const size_t e = s + m.size();
        if (!m.empty() && sink.Offer(idx, s, e)) {
          pos = e;
        } else {
          // Every candidate starting inside this alphanumeric run is glued to
          // its start, so resume after the run.
          size_t next = s + 1;
          while (next < line.size() && IsAlnumByte(line[next])) ++next;
          pos = std::max(next, s + 1);
        }
      }
    }
  }

  // Scans `text` line by line: no candidate spans a newline and context stops
  // at one, so this equals a whole-text scan, and keeps RE2's work per call
  // small (a single RE2::Match over megabytes was the 0.27 MB/s case).
  void ScanText(std::string_view text, size_t base, const Columns* columns, Collector& c) const {
    c.columns = columns;
    if (engine == Engine::kFast) {
      // One pass over the whole text; the scanner reports line ends.
      c.line = text;
      c.base = base;
      internal::ScanTextFast(text, c);
    } else {
      // Line by line: no candidate spans a newline and context stops at one,
      // so this equals a whole-text scan, and keeps RE2's work per call small
      // (one RE2::Match loop over megabytes was the 0.27 MB/s case).
      size_t start = 0;
      while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) nl = text.size();
        if (nl > start) {
          c.line = text.substr(start, nl - start);
          c.base = base + start;
          ScanLineRe2(c.line, c);
          c.LineEnd();
        }
        start = nl + 1;
      }
    }
    c.columns = nullptr;
  }

  Engine engine;
  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> res;
};

Detector::Detector(Engine engine) : impl_(std::make_unique<Impl>(engine)) {}
Detector::~Detector() = default;

std::vector<Finding> Detector::Scan(std::string_view text) const {
  Collector c;
  impl_->ScanText(text, 0, nullptr, c);
  return std::move(c.out);
}

namespace {

std::vector<uint32_t> HeaderMasks(const std::vector<std::string>& header) {
  std::vector<uint32_t> masks;
  masks.reserve(header.size());
  for (const std::string& name : header) masks.push_back(ColumnMask(name));
  return masks;
}

}  // namespace

std::vector<Finding> Detector::Scan(std::string_view text, Format format) const {
  if (format == Format::kAuto) format = SniffFormat(text);
  if (format != Format::kCsv) return Scan(text);  // JSON keys sit in the window
  Collector c;
  // The header is scanned as plain text: a header holding an identifier is
  // most likely a data row of a header-less file, and must not leak.
  const size_t header_end = internal::CsvRecordEnd(text, 0);
  const std::string_view header_record = text.substr(0, header_end);
  impl_->ScanText(header_record, 0, nullptr, c);
  const std::vector<uint32_t> masks = HeaderMasks(internal::CsvHeader(header_record));
  Columns cols;
  cols.masks = &masks;
  for (size_t start = header_end + 1; start < text.size();) {
    const size_t end = internal::CsvRecordEnd(text, start);
    const std::string_view record = text.substr(start, end - start);
    cols.Reset(record, start);
    impl_->ScanText(record, start, &cols, c);
    start = end + 1;
  }
  return std::move(c.out);
}

std::vector<Finding> Detector::ScanCsvRecord(std::string_view record,
                                             const std::vector<std::string>& header) const {
  // Callers stream records of one file with the same header: analysing the
  // column names once per header instead of once per record halves the cost
  // of masking a CSV file.
  thread_local std::vector<std::string> cached_header;
  thread_local std::vector<uint32_t> cached_masks;
  if (cached_header != header || cached_masks.size() != header.size()) {
    cached_masks = HeaderMasks(header);
    cached_header = header;
  }
  const std::vector<uint32_t>& masks = cached_masks;
  Columns cols;
  cols.masks = &masks;
  cols.Reset(record, 0);
  Collector c;
  impl_->ScanText(record, 0, &cols, c);
  return std::move(c.out);
}

const std::vector<std::string>& Detector::Types() {
  static const auto* kNames = [] {
    auto* v = new std::vector<std::string>();
    for (const TypeSpec& t : TypeSpecs()) v->push_back(t.type);
    return v;
  }();
  return *kNames;
}

Format SniffFormat(std::string_view text) {
  size_t i = 0;
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
    ++i;
  if (i < text.size() && (text[i] == '{' || text[i] == '[')) return Format::kJsonLines;
  // A header is a line of names: looking at its first 64 KiB is enough, and
  // keeps a hostile multi-megabyte first line from being split in full.
  std::string_view first = text.substr(0, text.find('\n'));
  first = first.substr(0, internal::kMaxCsvHeaderBytes);
  if (first.find(',') == std::string_view::npos || first.find('@') != std::string_view::npos)
    return Format::kText;
  for (const internal::CsvField& f : internal::SplitCsvRecord(first)) {
    const std::string v = internal::CsvValue(first.substr(f.start, f.end - f.start));
    size_t b = 0, e = v.size();
    while (b < e && (v[b] == ' ' || v[b] == '\t')) ++b;
    while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t')) --e;
    if (b == e) continue;
    bool digits = true;
    for (size_t k = b; k < e; ++k) digits = digits && v[k] >= '0' && v[k] <= '9';
    if (digits) return Format::kText;
  }
  return Format::kCsv;
}

}  // namespace beibu::policy
