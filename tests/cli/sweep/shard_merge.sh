#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shards 0/3, 1/3 and 2/3 (chosen by --shard and by Slurm's array variables) run disjoint
# thirds of the points; `sweep merge` joins them into what one unsharded run gives. Merge
# reports missing points, refuses conflicting results and outputs of different sweeps.
source "$(dirname "$0")/lib.sh"
spec=$specs/shard.yaml
expect_status 0 "$bin" sweep "$spec" -o "$work/all" -j 2 > /dev/null

expect_status 0 "$bin" sweep "$spec" -o "$work/s0" --shard 0/3 > /dev/null
expect_status 0 env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 "$bin" sweep "$spec" -o "$work/s1" > /dev/null
# --array=1-3: task ids 1..3 are shards 0..2
expect_status 0 env SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3 \
  "$bin" sweep "$spec" -o "$work/s2" > /dev/null
for i in 0 1 2; do
  [ "$(wc -l < "$work/s$i/results.jsonl")" -eq 4 ] || fail "shard $i has $(wc -l < "$work/s$i/results.jsonl") points, expected 4"
  for index in $(grep -o '"index":[0-9]*' "$work/s$i/results.jsonl" | cut -d: -f2); do
    [ $((index % 3)) -eq "$i" ] || fail "shard $i ran point $index"
  done
done
# The flag wins over the environment.
expect_status 0 env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 "$bin" sweep "$spec" -o "$work/flag" --shard 2/3 > /dev/null
diff <(records "$work/s2/results.jsonl") <(records "$work/flag/results.jsonl") > /dev/null || fail "--shard did not override Slurm's variables"

expect_status 0 "$bin" sweep merge "$work/merged" "$work/s2" "$work/s0" "$work/s1" > "$work/merge.txt"
grep -q "12 of 12 points from 3 shard directories" "$work/merge.txt" || fail "merge: $(cat "$work/merge.txt")"
diff <(without_wall "$work/all/results.csv") <(without_wall "$work/merged/results.csv") > "$work/csv.diff" \
  || fail "merged results.csv differs from the unsharded run: $(head -5 "$work/csv.diff")"
diff <(records "$work/all/results.jsonl") <(records "$work/merged/results.jsonl") > /dev/null \
  || fail "merged results.jsonl differs from the unsharded run"
[ -s "$work/merged/summary.svg" ] || fail "merge wrote no summary.svg"

# A missing shard: what there is gets written, exit status 1.
expect_status 1 "$bin" sweep merge "$work/partial" "$work/s0" "$work/s1" > /dev/null 2> "$work/partial.err"
grep -q "4 points are in no shard" "$work/partial.err" || fail "missing points: $(cat "$work/partial.err")"
[ "$(rows "$work/partial/results.csv")" -eq 8 ] || fail "partial merge does not have 8 rows"
# The same shard twice is the same result twice: counted once.
expect_status 1 "$bin" sweep merge "$work/twice" "$work/s0" "$work/s0" > /dev/null 2>&1
[ "$(rows "$work/twice/results.csv")" -eq 4 ] || fail "a shard given twice was counted twice"
# Two shards that disagree about a point.
cp -r "$work/s0" "$work/s0-other"
sed -i '1s/"cycles_max":[0-9]*/"cycles_max":1/' "$work/s0-other/results.jsonl"
expect_status 2 "$bin" sweep merge "$work/bad" "$work/s0" "$work/s0-other" > /dev/null 2> "$work/conflict.err"
grep -q "conflicting results for point [0-9a-f]*: .*s0/results.jsonl (record 1) says ok, .*s0-other/results.jsonl (record 1) says ok with other statistics" \
  "$work/conflict.err" || fail "conflict: $(cat "$work/conflict.err")"
# Outputs of another sweep.
expect_status 0 "$bin" sweep "$specs/product.yaml" -o "$work/other" > /dev/null
expect_status 2 "$bin" sweep merge "$work/bad" "$work/s0" "$work/other" > /dev/null 2> "$work/other.err"
grep -q "hold different sweeps" "$work/other.err" || fail "different sweeps: $(cat "$work/other.err")"
echo "ok"
