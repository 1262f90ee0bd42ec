#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Simulation speed of the hardware model: simulated node-cycles and instructions per host
# second, and peak memory, on tiny, d1 and tile, for a compute-bound kernel (peak_mma.s) and a
# communication-bound one (ring_push.s). A benchmark: it prints, it never fails on a number.
# usage: scripts/bench-machine.sh   (builds build/ first)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release dojosim >/dev/null
printf '%-6s %-10s %7s %9s %12s %8s %16s %14s %9s\n' config kernel nodes cycles instructions seconds \
  node-cycles/s ns/node-cycle "max RSS"
for cfg in tiny d1 tile; do
  for kernel in peak_mma ring_push; do
    out=$(mktemp) tim=$(mktemp)
    /usr/bin/time -f '%e %M' -o "$tim" build/tools/dojosim run --config "configs/$cfg.yaml" \
      --program "kernels/asm/$kernel.s" >"$out"
    nodes=$(grep -oE '[0-9]+ nodes' "$out" | cut -d' ' -f1)
    cycles=$(grep -oE '^cycles [0-9]+' "$out" | cut -d' ' -f2)
    instr=$(grep -oE 'instructions [0-9]+' "$out" | cut -d' ' -f2)
    read -r secs rss <"$tim"
    awk -v c="$cfg" -v k="$kernel" -v n="$nodes" -v cy="$cycles" -v i="$instr" -v s="$secs" -v r="$rss" \
      'BEGIN { nc = n * cy; s = (s > 0 ? s : 0.005);
               printf "%-6s %-10s %7d %9d %12d %8.2f %16.3g %14.1f %6.0f MB\n", c, k, n, cy, i, s, nc / s, 1e9 * s / nc, r / 1024 }'
    rm -f "$out" "$tim"
  done
done
