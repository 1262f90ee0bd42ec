#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One run over MPI ranks (docs/parallel.md, "MPI ranks") against the same run in one process,
# same build, same machine: wall time, each rank's CPU time and peak memory, and whether the
# report and statistics (--json) are identical (they must be). A compute-bound kernel
# (peak_mma.s, 800 loops), a communication-bound one (ring_push.s, 1000 rounds on d1, 50 on
# tile) and a tile matmul. A benchmark: it prints, it never fails on a number.
# usage: bench/mpi_ranks.sh [RANKS...]      (default: 2)
#        CASES=REGEX bench/mpi_ranks.sh     (only the cases whose name matches)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release dojosim >/dev/null
command -v mpirun >/dev/null || { echo "mpirun not found: scripts/setup.sh installs openmpi-bin"; exit 1; }
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s/li      t0, 200/li      t0, 800/" kernels/asm/peak_mma.s >"$work/peak_mma.s"
sed "s/.equ ROUNDS, 50/.equ ROUNDS, 1000/" kernels/asm/ring_push.s >"$work/ring_push.s"
cases=(
  "d1 peak_mma|--config configs/d1.yaml --program $work/peak_mma.s"
  "d1 ring_push|--config configs/d1.yaml --program $work/ring_push.s"
  "tile peak_mma|--config configs/tile.yaml --program kernels/asm/peak_mma.s"
  "tile ring_push|--config configs/tile.yaml --program kernels/asm/ring_push.s"
  "tile matmul 4096x4096x512|--config configs/tile.yaml --workload matmul:M=4096,N=4096,K=512,check=off"
)
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none)
timed='/usr/bin/time -f "%e %U %S %M" -o '"$work"'/time.$OMPI_COMM_WORLD_RANK'
printf '%-26s %6s %9s %22s %11s  %s\n' case ranks wall "CPU s per rank" "MB per rank" result
for c in "${cases[@]}"; do
  name=${c%%|*}
  [[ -n "${CASES:-}" && ! "$name" =~ $CASES ]] && continue
  args=${c#*|}
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.one" build/tools/dojosim run $args \
    --json "$work/one.json" >"$work/one.out"
  read -r wall user sys rss <"$work/time.one"
  printf '%-26s %6s %7.2f s %22s %11s  %s\n' "$name" 1 "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" $((rss / 1024)) \
    "$(grep -oE '^cycles [0-9]+' "$work/one.out" || head -3 "$work/one.out" | grep -oE 'cycles [0-9]+' | head -1)"
  for n in "${counts[@]}"; do
    rm -f "$work"/time.[0-9]*
    start=$(date +%s.%N)
    "${mpi[@]}" -np "$n" sh -c "$timed build/tools/dojosim run $args --json $work/ranks.json" \
      >"$work/ranks.out"
    wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    cpu="" mem=""
    for ((r = 0; r < n; ++r)); do
      read -r _ user sys rss <"$work/time.$r"
      cpu="$cpu${cpu:+/}$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
      mem="$mem${mem:+/}$((rss / 1024))"
    done
    same="identical"
    cmp -s "$work/one.out" "$work/ranks.out" && cmp -s "$work/one.json" "$work/ranks.json" ||
      same="DIFFER"
    printf '%-26s %6s %7.2f s %22s %11s  %s\n' "$name" "$n" "$wall" "$cpu" "$mem" "$same"
  done
done
