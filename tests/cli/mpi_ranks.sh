#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MPI ranks (docs/parallel.md, "MPI ranks"): `mpirun -np N dojosim run ...` gives the report,
# the exit status and the statistics or report (--json) of one process, byte for byte, for
# programs that cross between ranks every way (pushes, pulls from SRAM and host memory,
# barriers, output: tests/cli/data/ranks_mix.s), a deadlock, a trap and the cycle limit, and
# for workloads: matmul, conv2d, a collective, graphs (a data-parallel training step).
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
  same_run "$name" "$n" --config "$src/configs/$config" --program "$src/$program" "$@"
}
same_run() {  # NAME RANKS RUN-ARGS...
  local name=$1 n=$2
  shift 2
  local one=$work/$name.one two=$work/$name.np$n status_one=0 status_two=0
  "$bin" run --json "$one.json" "$@" > "$one.out" 2> "$one.err" || status_one=$?
  "${mpi[@]}" -np "$n" "$bin" run --json "$two.json" "$@" > "$two.out" 2> "$two.err" ||
    status_two=$?
  local why=""
  [ "$status_one" = "$status_two" ] || why="exit status $status_one alone, $status_two over ranks"
  cmp -s "$one.out" "$two.out" || why="$why; the report differs"
  cmp -s "$one.json" "$two.json" || why="$why; the statistics differ"
  if [ -s "$one.err" ]; then
    grep -qF -- "$(head -1 "$one.err")" "$two.err" || why="$why; the error line differs"
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
  if [ "$status" = 2 ] && grep -qF -- "$expected" "$work/$name.err"; then
    echo "ok   $name refused"
  else
    echo "FAIL $name: exit status $status, expected 2 and '$expected'"
    head -3 "$work/$name.err"
    failed=1
  fi
}
refused workload-file "runs its layers in processes of their own" run \
  --config "$src/configs/tiny.yaml" --workload "$src/workloads/resnet50.csv"
refused trace "--trace over 2 MPI ranks: its files are written by one process" run \
  --config "$src/configs/tiny.yaml" --program "$src/kernels/asm/dot.s" --trace "$work/t.json"
refused svg "--svg over 2 MPI ranks" run --config "$src/configs/tiny.yaml" \
  --workload "$src/examples/06-graph/mlp_block.graph.yaml" --svg "$work/svg"
refused sweep "MPI ranks run \`dojosim run\`" sweep "$src/tests/cli/sweep/specs/product.yaml" -o "$work/s"
refused more-ranks-than-nodes "2 MPI ranks for a machine of 1 node: at most one rank per node" run --config "$src/configs/tiny.yaml" \
  --program "$src/kernels/asm/dot.s" --set die.nodes_x=1 --set die.nodes_y=1
# Workloads: the host reads results (and checks them bit for bit) on every rank, from the SRAM
# pages each rank's nodes wrote, shared after each run.
same_run matmul 2 --config "$src/configs/tiny.yaml" --workload matmul:M=200,N=136,K=72
same_run conv2d 3 --config "$src/configs/tiny.yaml" --workload conv2d:N=2,H=9,W=9,C=16,K=24,R=3,S=3,pad=1
same_run allreduce 2 --config "$src/configs/tiny.yaml" --workload allreduce:bytes=40000,dtype=fp32
same_run graph-train-data-parallel 2 --config "$src/configs/tiny.yaml" \
  --workload "$src/examples/07-training-step/mlp.graph.yaml" --optimizer sgd:lr=0.1,momentum=0.9 \
  --data-parallel 4
# A graph whose weight loads during the op before (runs that leave data in flight: the last
# node to finish pauses the run on every rank in the same round).
same_run graph-prefetch 2 --config "$src/configs/tiny.yaml" \
  --workload "$src/tests/runtime/graph/data/prefetch.graph.yaml"
same_run graph-conv-grads 2 --config "$src/configs/tiny.yaml" \
  --workload "$src/tests/runtime/graph/data/conv_grads.graph.yaml"

grep -q "all good" "$work/mix.np2.out" || { echo "FAIL: ranks_mix.s did not print its line"; failed=1; }
exit $failed
