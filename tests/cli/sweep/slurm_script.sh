#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/slurm-sweep.sbatch run as Slurm would run two array tasks (--array=0-1), then the
# merge step of docs/slurm.md: the merged results equal one unsharded run.
source "$(dirname "$0")/lib.sh"
script=$(dirname "$0")/../../../scripts/slurm-sweep.sbatch
spec=$specs/shard.yaml
for task in 0 1; do
  expect_status 0 env DOJOSIM="$bin" SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_COUNT=2 \
    SLURM_ARRAY_TASK_MIN=0 SLURM_CPUS_PER_TASK=2 bash "$script" "$spec" "$work/out" > /dev/null
done
[ "$(wc -l < "$work/out/shard-0/results.jsonl")" -eq 6 ] || fail "shard 0 does not have 6 points"
expect_status 0 "$bin" sweep merge "$work/out/all" "$work/out"/shard-* > /dev/null
expect_status 0 "$bin" sweep "$spec" -o "$work/reference" > /dev/null
diff <(without_wall "$work/reference/results.csv") <(without_wall "$work/out/all/results.csv") > /dev/null \
  || fail "merged shards differ from one unsharded run"
echo "ok"
