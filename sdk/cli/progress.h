// The progress line `beibu send-file` draws on a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace beibu::cli {

// "1.5 KiB", "12.0 MiB", "512 B".
std::string FormatBytes(uint64_t bytes);
// "[##########..........]  50%  12.0 MiB / 24.0 MiB  3.0 MiB/s" — `width`
// cells of bar; total 0 (unknown size) shows the bytes and rate only.
std::string RenderProgressBar(uint64_t done, uint64_t total, double elapsed_seconds,
                              int width = 30);

}  // namespace beibu::cli
