#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Simulation speed of the hardware model: simulated node-cycles and instructions per host
# second, and peak memory, on tiny, d1 and tile, for a compute-bound kernel (peak_mma.s) and a
# communication-bound one (ring_push.s). Each kernel's loop count is scaled per config so that
# every run simulates tens of millions of node-cycles (the kernels' own counts are sized for
# tests); "run ns" is the host time per node-cycle with the config's elaboration and load
# (measured by running an empty program on it) taken off. A benchmark: it prints, it never
# fails on a number.
# usage: scripts/bench-machine.sh   (builds build/ first)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release dojosim >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '    li a0, 0\n    li a7, 93\n    ecall\n' >"$work/exit0.s"

# host seconds and max RSS (MB) of one run; its stdout in $work/out
timed() {
  /usr/bin/time -f '%e %M' -o "$work/time" build/tools/dojosim run "$@" >"$work/out"
  awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$work/time"
}

declare -A peak_loops=([tiny]=8000 [d1]=400 [tile]=20)
declare -A ring_rounds=([tiny]=20000 [d1]=1000 [tile]=50)
printf '%-5s %-10s %6s %9s %13s %8s %8s %14s %9s %8s %8s\n' config kernel nodes cycles \
  instructions seconds elab-s node-cycles/s "run ns" "all ns" "max RSS"
for cfg in tiny d1 tile; do
  read -r elab _ < <(timed --config "configs/$cfg.yaml" --program "$work/exit0.s")
  sed "s/li      t0, 200/li      t0, ${peak_loops[$cfg]}/" kernels/asm/peak_mma.s >"$work/peak_mma.s"
  sed "s/.equ ROUNDS, 50/.equ ROUNDS, ${ring_rounds[$cfg]}/" kernels/asm/ring_push.s >"$work/ring_push.s"
  for kernel in peak_mma ring_push; do
    read -r secs rss < <(timed --config "configs/$cfg.yaml" --program "$work/$kernel.s")
    nodes=$(grep -oE '[0-9]+ nodes' "$work/out" | cut -d' ' -f1)
    cycles=$(grep -oE '^cycles [0-9]+' "$work/out" | cut -d' ' -f2)
    instr=$(grep -oE 'instructions [0-9]+' "$work/out" | cut -d' ' -f2)
    awk -v c="$cfg" -v k="$kernel" -v n="$nodes" -v cy="$cycles" -v i="$instr" -v s="$secs" \
        -v e="$elab" -v r="$rss" \
      'BEGIN { nc = n * cy; run = (s - e > 0.001 ? s - e : 0.001);
               printf "%-5s %-10s %6d %9d %13d %8.2f %8.2f %14.3g %9.1f %8.1f %5d MB\n",
                      c, k, n, cy, i, s, e, nc / run, 1e9 * run / nc, 1e9 * s / nc, r }'
  done
done
