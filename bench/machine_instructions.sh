#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host instructions per simulated node-cycle of the hardware model, counted by callgrind, for
# two builds side by side: the kernels and configs of scripts/bench-machine.sh, steady state
# (a run of L and of 2L loops, the difference over the difference in node-cycles). Instruction
# counts do not depend on what else the host is doing, so two builds compare on a busy machine
# where wall time would not; they do not see cache misses or branch mispredictions, so
# bench-machine.sh on an idle machine stays the measure of speed.
# A benchmark: it prints, it never fails on a number.
# usage: OLD=path/to/old/dojosim bench/machine_instructions.sh [CONFIG...]   (default: tiny d1)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "machine_instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
new=${NEW:-build/tools/dojosim}
old=${OLD:-}
[[ -x $new ]] || { echo "machine_instructions.sh: $new is not built" >&2; exit 2; }
[[ -z $old || -x $old ]] || { echo "machine_instructions.sh: OLD=$old is not executable" >&2; exit 2; }
configs=("$@")
[[ ${#configs[@]} -gt 0 ]] || configs=(tiny d1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Loop counts of the short run (the long run does 2x): instruction counts are exact, so these
# are far smaller than bench-machine.sh's.
declare -A loops=([tiny.peak_mma]=400 [d1.peak_mma]=20 [tile.peak_mma]=2
                  [tiny.ring_push]=1000 [d1.ring_push]=50 [tile.ring_push]=4
                  [tiny.ring_push_64B]=4000 [d1.ring_push_64B]=200 [tile.ring_push_64B]=20)
declare -A bytes=([peak_mma]=0 [ring_push]=4096 [ring_push_64B]=64)
program() {  # kernel loops bytes out
  case "$1" in
    peak_mma) sed "s/li      t0, 200/li      t0, $2/" kernels/asm/peak_mma.s >"$4" ;;
    ring_push*) sed -e "s/.equ ROUNDS, 50/.equ ROUNDS, $2/" -e "s/.equ BYTES, 4096/.equ BYTES, $3/" \
                  kernels/asm/ring_push.s >"$4" ;;
  esac
}
# One run under callgrind: prints "instructions nodes cycles".
counted() {  # binary config program
  if ! valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$1" run --config "$2" \
      --program "$3" >"$work/out" 2>"$work/err"; then
    echo "machine_instructions.sh: valgrind could not run $1 (a build linking Debian's Highway" \
         "cannot be, bench/README.md, Profiling): $(grep -m1 -E 'SIGILL|unhandled|Error' "$work/err")" >&2
    exit 2
  fi
  local ir nodes cycles
  ir=$(grep -oE '^summary: [0-9]+' "$work/cg" | cut -d' ' -f2)
  nodes=$(grep -oE '[0-9]+ nodes' "$work/out" | head -1 | cut -d' ' -f1)
  cycles=$(grep -oE '^cycles [0-9]+' "$work/out" | cut -d' ' -f2)
  echo "$ir $nodes $cycles"
}
# Host instructions per node-cycle of one build, steady state.
per_node_cycle() {  # binary config kernel
  local n=${loops[$2.$3]}
  program "$3" "$n" "${bytes[$3]}" "$work/short.s"
  program "$3" $((2 * n)) "${bytes[$3]}" "$work/long.s"
  read -r i1 nodes c1 < <(counted "$1" "configs/$2.yaml" "$work/short.s")
  read -r i2 _ c2 < <(counted "$1" "configs/$2.yaml" "$work/long.s")
  awk -v n="$nodes" -v i1="$i1" -v i2="$i2" -v c1="$c1" -v c2="$c2" \
    'BEGIN { printf "%d %.2f\n", n, (i2 - i1) / (n * (c2 - c1)) }'
}

printf '%-5s %-14s %6s %12s %12s %8s\n' config kernel nodes "new instr" "old instr" "new/old"
for cfg in "${configs[@]}"; do
  for kernel in peak_mma ring_push ring_push_64B; do
    read -r nodes new_ipc < <(per_node_cycle "$new" "$cfg" "$kernel")
    old_ipc="-" ratio="-"
    if [[ -n $old ]]; then
      read -r _ old_ipc < <(per_node_cycle "$old" "$cfg" "$kernel")
      ratio=$(awk -v a="$new_ipc" -v b="$old_ipc" 'BEGIN { printf "%.3f", a / b }')
    fi
    printf '%-5s %-14s %6d %12s %12s %8s\n' "$cfg" "$kernel" "$nodes" "$new_ipc" "$old_ipc" "$ratio"
  done
done
echo "(host instructions per simulated node-cycle; callgrind; steady state of L and 2L loops)"
