#!/usr/bin/env bash
# Installs Beibu's build and test dependencies from Debian 12 packages.
# Safe to run any number of times: apt-get skips what is already installed.
set -euo pipefail

packages=(
  cmake ninja-build g++ clang ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libspdlog-dev libssl-dev openssl
  libgtest-dev libbenchmark-dev libre2-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
