#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for a
# bounded time (BEIBU_FUZZ_SECONDS, default 20), starting from seeds the
# targets write themselves. A crash fails the script. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BEIBU_FUZZ_SECONDS:-20}
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DBEIBU_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)"
for target in record_fuzz handshake_fuzz checkpoint_fuzz receipt_fuzz scan_fuzz policy_db_fuzz envelope_fuzz approval_fuzz; do
  corpus=build-fuzz/corpus/$target
  mkdir -p "$corpus"
  BEIBU_FUZZ_SEED_DIR=$corpus "build-fuzz/bin/$target" -runs=0 "$corpus" >/dev/null 2>&1
  echo "fuzz: $target for ${seconds}s"
  log=build-fuzz/$target.log
  # -timeout: an input that runs 10 s is a hang, reported with its input;
  # the outer timeout keeps a wedged process (e.g. leak checking a huge heap
  # after an out-of-memory) from holding CI until its limit.
  if ! timeout -s KILL $((seconds + 120)) "build-fuzz/bin/$target" -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/ "$corpus" > "$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $target FAILED; the input is in build-fuzz/ (crash-*, timeout-*, oom-*)" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/  /'
done
echo "fuzz: no crashes"
