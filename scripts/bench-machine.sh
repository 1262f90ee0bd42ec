#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Simulation speed of the hardware model on tiny, d1 and tile: simulated node-cycles per host
# second, host ns per node-cycle and peak memory, for a compute-bound kernel (peak_mma.s) and a
# communication-bound one (ring_push.s with 4 KiB messages, link-bound; and with 64 B
# messages, latency-bound). Each figure is the steady state: the difference between a run of L
# and of 4L loops (best of 2 each) over the difference in node-cycles, so elaboration, loading,
# first touches of memory and the final report cancel out. Beside each ring_push row is its
# reference, measured in the same run: bench_payload_reference making only the copies of the
# messages, in the machine's order, over as many nodes (bench/README.md).
# A benchmark: it prints, it never fails on a number.
# usage: scripts/bench-machine.sh   (builds build/ first; DOJOSIM=path/to/dojosim measures
#        another build, say an older commit's, against the same reference; DOJOSIM_SET=KEY=VALUE
#        adds one --set, e.g. DOJOSIM_SET=sim.host_threads=1 to compare one host thread with a
#        build that had no others)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release dojosim bench_payload_reference >/dev/null
dojosim=${DOJOSIM:-build/tools/dojosim}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One run: prints "seconds max-RSS-MB nodes cycles instructions".
timed() {
  /usr/bin/time -f '%e %M' -o "$work/time" "$dojosim" run "$@" ${DOJOSIM_SET:+--set "$DOJOSIM_SET"} \
    >"$work/out"
  local nodes cycles instr
  nodes=$(grep -oE '[0-9]+ nodes' "$work/out" | head -1 | cut -d' ' -f1)
  cycles=$(grep -oE '^cycles [0-9]+' "$work/out" | cut -d' ' -f2)
  instr=$(grep -oE 'instructions [0-9]+' "$work/out" | head -1 | cut -d' ' -f2)
  awk -v n="$nodes" -v c="$cycles" -v i="$instr" '{ printf "%s %.0f %s %s %s\n", $1, $2 / 1024, n, c, i }' "$work/time"
}
# The faster of two runs.
best_of_2() {
  local a b
  a=$(timed "$@")
  b=$(timed "$@")
  if awk -v a="${a%% *}" -v b="${b%% *}" 'BEGIN { exit !(b < a) }'; then echo "$b"; else echo "$a"; fi
}
# kernels/asm/<kernel>.s with its loop count (and message size) set.
program() {  # kernel loops bytes out
  case "$1" in
    peak_mma) sed "s/li      t0, 200/li      t0, $2/" kernels/asm/peak_mma.s >"$4" ;;
    ring_push*) sed -e "s/.equ ROUNDS, 50/.equ ROUNDS, $2/" -e "s/.equ BYTES, 4096/.equ BYTES, $3/" \
                  kernels/asm/ring_push.s >"$4" ;;
  esac
}

# Loop counts of the short run; the long run does 4x. Sized so that the difference is tens of
# millions of node-cycles everywhere.
declare -A loops=([tiny.peak_mma]=4000 [d1.peak_mma]=200 [tile.peak_mma]=30
                  [tiny.ring_push]=10000 [d1.ring_push]=500 [tile.ring_push]=50
                  [tiny.ring_push_64B]=40000 [d1.ring_push_64B]=2000 [tile.ring_push_64B]=300)
declare -A bytes=([peak_mma]=0 [ring_push]=4096 [ring_push_64B]=64)
printf '%-5s %-14s %6s %9s %14s %14s %9s %7s %8s %8s %8s\n' config kernel nodes cycles node-cycles/s \
  instructions/s "run ns" "x tiny" "max RSS" "ref ns" "run/ref"
declare -A tiny_ns
for cfg in tiny d1 tile; do
  for kernel in peak_mma ring_push ring_push_64B; do
    n=${loops[$cfg.$kernel]}
    program "$kernel" "$n" "${bytes[$kernel]}" "$work/short.s"
    program "$kernel" $((4 * n)) "${bytes[$kernel]}" "$work/long.s"
    read -r s1 _ nodes c1 i1 < <(best_of_2 --config "configs/$cfg.yaml" --program "$work/short.s")
    read -r s2 rss _ c2 i2 < <(best_of_2 --config "configs/$cfg.yaml" --program "$work/long.s")
    ref="-"
    if [[ $kernel == ring_push* ]]; then
      # The copies of 4n rounds over these nodes; a batch is the nodes served per cycle.
      per_round=$((c2 / (4 * n)))
      batch=$(( (nodes + per_round - 1) / per_round ))
      ref=$(build/bench/bench_payload_reference "$nodes" "${bytes[$kernel]}" $((4 * n)) "$batch" |
              awk -v r="$per_round" '{ printf "%.2f", $2 / r }')
    fi
    ns=$(awk -v n="$nodes" -v c1="$c1" -v c2="$c2" -v s1="$s1" -v s2="$s2" \
           'BEGIN { run = (s2 - s1 > 0.001 ? s2 - s1 : 0.001); printf "%.2f", 1e9 * run / (n * (c2 - c1)) }')
    [[ $cfg == tiny ]] && tiny_ns[$kernel]=$ns
    awk -v c="$cfg" -v k="$kernel" -v n="$nodes" -v c1="$c1" -v c2="$c2" -v s1="$s1" -v s2="$s2" \
        -v i1="$i1" -v i2="$i2" -v ns="$ns" -v tiny="${tiny_ns[$kernel]}" -v r="$rss" -v ref="$ref" \
      'BEGIN { run = (s2 - s1 > 0.001 ? s2 - s1 : 0.001);
               printf "%-5s %-14s %6d %9d %14.3g %14.3g %9.1f %7.2f %5d MB %8s %8s\n", c, k, n, c2,
                      n * (c2 - c1) / run, (i2 - i1) / run, ns, ns / tiny, r,
                      ref, ref == "-" ? "-" : sprintf("%.1f", ns / ref) }'
  done
done
