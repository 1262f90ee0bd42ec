#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A workload entry's `workload:` key becomes `dojosim run --workload`: its points run and report
# their figures beside a program's.
source "$(dirname "$0")/lib.sh"
out=$work/out
"$bin" sweep "$specs/workload.yaml" --dry-run | grep -q -- "--workload matmul:M=64,N=64,K=64" \
  || fail "the dry run shows no --workload"
expect_status 0 "$bin" sweep "$specs/workload.yaml" -o "$out" -j 2 > /dev/null
[ "$(rows "$out/results.csv")" -eq 4 ] || fail "results.csv has $(rows "$out/results.csv") rows, expected 4"
[ "$(column "$out/results.csv" status | sort -u)" = ok ] || fail "not every point is ok"
for flops in $(grep ',mm,' "$out/results.csv" | cut -d, -f6); do
  awk -v f="$flops" 'BEGIN { exit !(f > 0) }' || fail "the matmul points report $flops FLOP/s"
done
grep -q '"workload":"mm".*"checks.exact_mismatches":0' "$out/results.jsonl" || fail "no report figures in the record"
echo "ok"
