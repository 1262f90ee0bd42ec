#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures and builds dojosim. usage: scripts/build.sh [release|sanitize|fuzz] [target...]
# Build directories: build/ (release, warnings as errors), build-sanitize/ (ASan + UBSan),
# build-fuzz/ (clang, libFuzzer targets).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done
jobs=${JOBS:-$(nproc)}
case "$kind" in
  release)  dir=build;          flags=(-DCMAKE_BUILD_TYPE=Release -DDOJOSIM_WERROR=ON) ;;
  sanitize) dir=build-sanitize; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOJOSIM_WERROR=ON -DDOJOSIM_SANITIZE=ON) ;;
  fuzz)     dir=build-fuzz;     flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOJOSIM_FUZZ=ON
                                       -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang) ;;
  *) echo "usage: scripts/build.sh [release|sanitize|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs" "${targets[@]}"
