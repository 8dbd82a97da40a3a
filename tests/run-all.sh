#!/usr/bin/env bash
# The test command: installs what is missing, builds, fuzzes each parser of
# untrusted bytes for a bounded time, then runs every unit and end-to-end
# test (the demo included) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
bash tests/run-fuzz.sh
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 600
