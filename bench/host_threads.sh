#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Speed-up of one simulation on several host threads (sim.host_threads) over one, same build,
# same run: a compute-bound kernel (peak_mma.s), a communication-bound one (ring_push.s) and
# matmuls, on d1 and tile, each with the nodes' quanta as they are and aligned
# (sim.quantum_aligned, docs/parallel.md). Each time is the best of REPS runs (default 2); the
# cycles must agree at every thread count (results do not depend on it).
#
# Then a model of larger hosts from the host profiles (--host-profile): at one thread the
# time in rounds large enough to share (P) and the rest of the run (S = T1 - P); at two, the
# shared rounds' time P2, whence their efficiency e = P / (2 P2) (imbalance between the
# threads' slices, hand-over, caches). At n threads: T1 / (S + P / (n e)), an upper bound:
# waking more threads costs more per round than waking one. A benchmark: it prints, it never
# fails on a number.
# usage: bench/host_threads.sh [THREADS...]   (default: 1 2; the model needs 1 and 2)
#        CASES=REGEX bench/host_threads.sh    (only the cases whose name matches)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release dojosim >/dev/null
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(1 2)
reps=${REPS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s/li      t0, 200/li      t0, 800/" kernels/asm/peak_mma.s >"$work/peak_mma.s"
sed "s/.equ ROUNDS, 50/.equ ROUNDS, 1000/" kernels/asm/ring_push.s >"$work/ring_push.s"
aligned="--set sim.quantum_aligned=true"
cases=(
  "d1 peak_mma|--config configs/d1.yaml --program $work/peak_mma.s"
  "d1 ring_push|--config configs/d1.yaml --program $work/ring_push.s"
  "d1 matmul 4096^3|--config configs/d1.yaml --workload matmul:M=4096,N=4096,K=4096,check=off"
  "d1 matmul 4096^3 aligned|--config configs/d1.yaml --workload matmul:M=4096,N=4096,K=4096,check=off $aligned"
  "tile peak_mma|--config configs/tile.yaml --program kernels/asm/peak_mma.s"
  "tile ring_push|--config configs/tile.yaml --program kernels/asm/ring_push.s"
  "tile matmul 4096x4096x512|--config configs/tile.yaml --workload matmul:M=4096,N=4096,K=512,check=off"
  "tile matmul 4096x4096x512 aligned|--config configs/tile.yaml --workload matmul:M=4096,N=4096,K=512,check=off $aligned"
)
run() {  # threads args... -> "seconds cycles" (the host profile in $work/profile.THREADS)
  local t=$1
  shift
  /usr/bin/time -f '%e' -o "$work/time" build/tools/dojosim run "$@" --set "sim.host_threads=$t" \
    --host-profile >"$work/out" 2>"$work/profile.$t"
  echo "$(cat "$work/time") $(grep -oE '^(graph: )?cycles [0-9]+' "$work/out" | grep -oE '[0-9]+$')"
}
shared() {  # profile file -> "seconds rounds" of the rounds large enough to share
  awk '/activations, rounds of/ { for (i = 1; i <= NF; ++i) if ($i == "s") { s = $(i - 1) }
                                  for (i = 1; i <= NF; ++i) if ($i == "rounds,") { r = $(i - 1) }
                                  print s, r }' "$1"
}
printf '%-34s' case
for t in "${counts[@]}"; do printf ' %12s' "$t thread(s)"; done
printf ' %9s %8s %6s %15s  %s\n' speed-up shared eff "model 16/64/128" cycles
for c in "${cases[@]}"; do
  name=${c%%|*}
  [[ -n "${CASES:-}" && ! "$name" =~ $CASES ]] && continue
  read -r -a args <<<"${c#*|}"
  printf '%-34s' "$name"
  first="" cycles="" same=yes best=""
  declare -A best_of=() shared_s=() shared_r=()
  for t in "${counts[@]}"; do
    best=""
    for ((i = 0; i < reps; ++i)); do
      read -r s cy < <(run "$t" "${args[@]}")
      [ -z "$cycles" ] && cycles=$cy
      [ "$cy" = "$cycles" ] || same=no
      if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
        best=$s
        read -r shared_s[$t] shared_r[$t] < <(shared "$work/profile.$t")
      fi
    done
    best_of[$t]=$best
    [ -z "$first" ] && first=$best
    printf ' %10.2f s' "$best"
  done
  model="-"
  share="-"
  eff="-"
  if [ -n "${best_of[1]:-}" ]; then
    share=$(awk -v p="${shared_s[1]}" -v t="${best_of[1]}" 'BEGIN { printf "%.0f%%", 100 * p / t }')
  fi
  if [ -n "${best_of[1]:-}" ] && [ -n "${best_of[2]:-}" ] && [ "${shared_r[1]}" != 0 ]; then
    read -r eff model < <(awk -v t="${best_of[1]}" -v p="${shared_s[1]}" -v p2="${shared_s[2]}" 'BEGIN {
        e = p2 > 0 ? p / (2 * p2) : 1; if (e > 1) e = 1
        s = t - p; out = ""
        split("16 64 128", ns, " ")
        for (k = 1; k <= 3; ++k) { n = ns[k]; out = out sprintf("%s%.1fx", k > 1 ? "/" : "", t / (s + p / (n * e))) }
        printf "%.2f %s\n", e, out }')
  fi
  awk -v f="$first" -v l="$best" -v c="$cycles" -v s="$same" -v sh="$share" -v e="$eff" -v m="$model" \
    'BEGIN { printf " %8.2fx %8s %6s %15s  %s%s\n", f / l, sh, e, m, c, s == "yes" ? " (same at every count)" : " DIFFER" }'
done
