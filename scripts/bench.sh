#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Measures the interpreter's speed against qemu-riscv64 (bench/README.md).
# usage: scripts/bench.sh [bench_interp options, e.g. --reps 5 or --only scalar]
# Builds a Release tree in build-bench/ (not build/: the benchmark must not wait on, or
# disturb, a tree built with other flags) and prints a table and one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j "${JOBS:-$(nproc)}" --target bench_interp bench_noc_traffic
build-bench/bench/bench_interp "$@"
echo
build-bench/bench/bench_noc_traffic
