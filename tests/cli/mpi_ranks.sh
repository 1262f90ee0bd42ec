#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MPI ranks (docs/parallel.md, "MPI ranks"): `mpirun -np N dojosim run --program ...` gives the
# report, the exit status and the statistics (--json) of one process, byte for byte, for
# programs that cross between ranks every way (pushes, pulls from SRAM and host memory,
# barriers, output: tests/cli/data/ranks_mix.s), a deadlock, a trap and the cycle limit.
# Usage: mpi_ranks.sh DOJOSIM SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
mkdir -p "$work"
command -v mpirun > /dev/null || {
  echo "SKIP: mpirun not found (scripts/setup.sh installs openmpi-bin)"
  exit 77
}
# Root in CI; shared memory without ptrace (containers); more ranks than cores; OpenMPI's own
# allocations are not ours to check under AddressSanitizer.
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none
  --mca btl_vader_single_copy_mechanism none -x "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0")

# Where mpirun itself cannot start two processes (a sandbox without shared memory), say why.
"${mpi[@]}" -np 2 true > "$work/launch.log" 2>&1 || {
  echo "SKIP: mpirun cannot start 2 processes here: $(tail -n 3 "$work/launch.log" | tr '\n' ' ')"
  exit 77
}

failed=0
same() {  # NAME RANKS CONFIG PROGRAM [ARGS...]
  local name=$1 n=$2 config=$3 program=$4
  shift 4
  local one=$work/$name.one two=$work/$name.np$n status_one=0 status_two=0
  "$bin" run --config "$src/configs/$config" --program "$src/$program" --json "$one.json" "$@" \
    > "$one.out" 2> "$one.err" || status_one=$?
  "${mpi[@]}" -np "$n" "$bin" run --config "$src/configs/$config" --program "$src/$program" \
    --json "$two.json" "$@" > "$two.out" 2> "$two.err" || status_two=$?
  local why=""
  [ "$status_one" = "$status_two" ] || why="exit status $status_one alone, $status_two over ranks"
  cmp -s "$one.out" "$two.out" || why="$why; the report differs"
  cmp -s "$one.json" "$two.json" || why="$why; the statistics differ"
  if [ -s "$one.err" ]; then
    grep -qF "$(head -1 "$one.err")" "$two.err" || why="$why; the error line differs"
  fi
  if [ -n "$why" ]; then
    echo "FAIL $name over $n ranks: ${why#; }"
    diff "$one.out" "$two.out" | head -5 || true
    head -5 "$two.err"
    failed=1
  else
    echo "ok   $name over $n ranks (exit status $status_one)"
  fi
}

same mix 2 tiny.yaml tests/cli/data/ranks_mix.s
same mix 3 tiny.yaml tests/cli/data/ranks_mix.s
same mix-2-host-threads 2 tiny.yaml tests/cli/data/ranks_mix.s --set sim.host_threads=2
same mix-values-off 2 tiny.yaml tests/cli/data/ranks_mix.s --values off
same mix-4-threads 2 tiny.yaml tests/cli/data/ranks_mix.s --threads 4
same mix-dma-queue-1 2 tiny.yaml tests/cli/data/ranks_mix.s --set node.dma.queue_depth=1
same ring-push 2 tiny.yaml kernels/asm/ring_push.s
same poll-pairs 3 tiny.yaml kernels/asm/poll_pairs.s
same peak-mma 2 d1.yaml kernels/asm/peak_mma.s
same ring-push-d1 2 d1.yaml kernels/asm/ring_push.s
same deadlock 2 tiny.yaml tests/cli/data/deadlock.s
same trap 2 tiny.yaml tests/cli/data/trap.s
same cycle-limit 2 tiny.yaml tests/cli/data/spin.s --set sim.max_cycles=5000
# What ranks do not split yet is refused with one line and status 2.
refused() {  # NAME EXPECTED ARGS...
  local name=$1 expected=$2 status=0
  shift 2
  "${mpi[@]}" -np 2 "$bin" "$@" > "$work/$name.out" 2> "$work/$name.err" || status=$?
  if [ "$status" = 2 ] && grep -qF "$expected" "$work/$name.err"; then
    echo "ok   $name refused"
  else
    echo "FAIL $name: exit status $status, expected 2 and '$expected'"
    head -3 "$work/$name.err"
    failed=1
  fi
}
refused workload "only a --program run is split over ranks yet" run --config "$src/configs/tiny.yaml" \
  --workload matmul:M=64,N=64,K=64
refused trace "a trace is written by one process" run --config "$src/configs/tiny.yaml" \
  --program "$src/kernels/asm/dot.s" --trace "$work/t.json"
refused sweep "MPI ranks run \`dojosim run\`" sweep "$src/tests/cli/sweep/specs/product.yaml" -o "$work/s"
refused more-ranks-than-nodes "2 MPI ranks for a machine of 1 node: at most one rank per node" run --config "$src/configs/tiny.yaml" \
  --program "$src/kernels/asm/dot.s" --set die.nodes_x=1 --set die.nodes_y=1
grep -q "all good" "$work/mix.np2.out" || { echo "FAIL: ranks_mix.s did not print its line"; failed=1; }
exit $failed
