#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Speed-up of one simulation on several host threads (sim.host_threads) over one, same build,
# same run: for a compute-bound kernel (peak_mma.s), a communication-bound one (ring_push.s)
# and a matmul, on d1 and tile. Each figure is the best of 2 runs; the cycles must agree
# (results do not depend on the thread count: docs/parallel.md). A benchmark: it prints, it
# never fails on a number. usage: bench/host_threads.sh [THREADS...]   (default: 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release dojosim >/dev/null
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(1 2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s/li      t0, 200/li      t0, 800/" kernels/asm/peak_mma.s >"$work/peak_mma.s"
sed "s/.equ ROUNDS, 50/.equ ROUNDS, 1000/" kernels/asm/ring_push.s >"$work/ring_push.s"
cases=(
  "d1 peak_mma|--config configs/d1.yaml --program $work/peak_mma.s"
  "d1 ring_push|--config configs/d1.yaml --program $work/ring_push.s"
  "d1 matmul 2048^3|--config configs/d1.yaml --workload matmul:M=2048,N=2048,K=2048,check=off"
  "tile peak_mma|--config configs/tile.yaml --program kernels/asm/peak_mma.s"
  "tile ring_push|--config configs/tile.yaml --program kernels/asm/ring_push.s"
)
run() {  # threads args... -> "seconds cycles"
  local t=$1
  shift
  /usr/bin/time -f '%e' -o "$work/time" build/tools/dojosim run "$@" --set "sim.host_threads=$t" \
    >"$work/out"
  echo "$(cat "$work/time") $(grep -oE '^cycles [0-9]+' "$work/out" | cut -d' ' -f2)"
}
printf '%-18s' case
for t in "${counts[@]}"; do printf ' %12s' "$t thread(s)"; done
printf ' %10s %s\n' speed-up cycles
for c in "${cases[@]}"; do
  name=${c%%|*}
  read -r -a args <<<"${c#*|}"
  printf '%-18s' "$name"
  first="" cycles="" same=yes best=""
  for t in "${counts[@]}"; do
    read -r a ca < <(run "$t" "${args[@]}")
    read -r b cb < <(run "$t" "${args[@]}")
    best=$(awk -v a="$a" -v b="$b" 'BEGIN { print (a < b ? a : b) }')
    [ -z "$first" ] && first=$best
    [ -z "$cycles" ] && cycles=$ca
    [ "$ca" = "$cycles" ] && [ "$cb" = "$cycles" ] || same=no
    printf ' %10.2f s' "$best"
  done
  awk -v f="$first" -v l="$best" -v c="$cycles" -v s="$same" \
    'BEGIN { printf " %9.2fx %s%s\n", f / l, c, s == "yes" ? " (same at every count)" : " DIFFER" }'
done
