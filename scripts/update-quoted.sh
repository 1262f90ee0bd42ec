#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rewrites every figure that the tutorials and docs quote from runs to what the runs print now,
# after a change that moves cycles. usage: scripts/update-quoted.sh [--slow] [build dir]
# --slow also reruns the quoted runs too long for CTest (minutes; ResNet-50, 4096^3, ...).
# The files are those with an output marker (examples/README.md, "Quoted output"); the sweep
# plot that tutorial 05 shows is copied to docs/images/ as well. Review `git diff` after it.
set -euo pipefail
cd "$(dirname "$0")/.."
slow=()
if [ "${1:-}" = "--slow" ]; then slow=(--slow); shift; fi
build=${1:-build}
out=$build/examples/05-sweep-out
rm -rf "$out"
"$build/tools/dojosim" sweep examples/05-sweep/noc_mapping.yaml -o "$out" -j 2 >/dev/null
cp "$out/summary.svg" docs/images/sweep_noc_mapping.svg
mapfile -t files < <(grep -l '^<!-- output' examples/*/README.md docs/*.md bench/README.md)
python3 scripts/quoted.py --update "${slow[@]}" --build "$build" "${files[@]}"
python3 scripts/quoted.py "${slow[@]}" --build "$build" "${files[@]}"
