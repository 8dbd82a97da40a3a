#include "progress.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace beibu::cli {

std::string FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrFormat("%u B", bytes);
  double v = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

std::string RenderProgressBar(uint64_t done, uint64_t total, double elapsed_seconds, int width) {
  std::string rate = elapsed_seconds > 0
                         ? FormatBytes(static_cast<uint64_t>(done / elapsed_seconds)) + "/s"
                         : std::string("-");
  if (total == 0) return absl::StrFormat("%s  %s", FormatBytes(done), rate);
  done = std::min(done, total);
  int filled = static_cast<int>(static_cast<double>(done) / total * width);
  int percent = static_cast<int>(done * 100 / total);
  return absl::StrFormat("[%s%s] %3d%%  %s / %s  %s", std::string(filled, '#'),
                         std::string(width - filled, '.'), percent, FormatBytes(done),
                         FormatBytes(total), rate);
}

}  // namespace beibu::cli
