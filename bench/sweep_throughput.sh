#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sweep throughput: the same 16-point sweep (sweep_throughput.yaml, D1-die points of 0.2 to
# 0.8 s) with -j 1 and with -j N (default: the number of cores), in points per minute, the best
# of REPS runs each (default 3, alternating, so a burst of other work on the machine hits both),
# and their ratio. A benchmark: it prints and never fails on a number.
#   usage: bench/sweep_throughput.sh [DOJOSIM] [N]      (default DOJOSIM: build/tools/dojosim)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/tools/dojosim}
jobs=${2:-$(nproc)}
reps=${REPS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rate() {  # points per minute of one fresh sweep with -j $1
  rm -rf "$work/out"
  local start end
  start=$(date +%s.%N)
  "$bin" sweep "$here/sweep_throughput.yaml" -o "$work/out" -j "$1" > /dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v n="$(tail -n +2 "$work/out/results.csv" | wc -l)" \
    'BEGIN { printf "%.1f", n / (e - s) * 60 }'
}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
one=0
many=0
for _ in $(seq "$reps"); do
  one=$(best "$one" "$(rate 1)")
  many=$(best "$many" "$(rate "$jobs")")
done
ratio=$(awk -v a="$one" -v b="$many" 'BEGIN { printf "%.2f", b / a }')
echo "sweep throughput: 16 points on a D1 die, $(nproc) cores, best of $reps"
echo "  -j 1: $one points/minute"
echo "  -j $jobs: $many points/minute"
echo "  ratio: $ratio"
echo "{\"j1_points_per_minute\": $one, \"j${jobs}_points_per_minute\": $many, \"ratio\": $ratio}"
