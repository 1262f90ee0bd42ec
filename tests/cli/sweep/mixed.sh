#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A sweep mixing programs and workloads: `cycles` is filled for both kinds, a figure only
# programs have is an empty cell for a workload (not a stop), results.csv has a row per record,
# and a bad --plot flag is blamed on the flag, not on the spec file.
source "$(dirname "$0")/lib.sh"
out=$work/out
expect_status 0 "$bin" sweep "$specs/mixed.yaml" -o "$out" -j 2 > /dev/null
[ "$(rows "$out/results.csv")" -eq 4 ] || fail "results.csv has $(rows "$out/results.csv") rows, expected 4"
[ "$(wc -l < "$out/results.jsonl")" -eq 4 ] || fail "results.jsonl has not 4 records"
for c in $(column "$out/results.csv" cycles); do
  [ "$c" -gt 0 ] 2>/dev/null || fail "a point has cycles '$c'"
done
paste -d' ' <(column "$out/results.csv" workload) <(column "$out/results.csv" energy_j) \
  <(column "$out/results.csv" class_push) > "$work/energy.txt"
while read -r w e p; do
  case $w in
    mm) [ -z "$e$p" ] || fail "a workload point has energy '$e' and pushes '$p'" ;;
    ring) awk -v e="$e" -v p="$p" 'BEGIN { exit !(e > 0 && p > 0) }' || fail "a program point has energy '$e', pushes '$p'" ;;
  esac
done < "$work/energy.txt"
# The default metrics are the run report's names.
expect_status 0 "$bin" sweep "$specs/workload.yaml" -o "$work/default" > /dev/null
head -1 "$work/default/results.csv" | grep -q ',status,exit_code,seconds,flop_per_s,' || fail "header: $(head -1 "$work/default/results.csv")"
# A typo in --plot: the flag is to blame.
expect_status 2 "$bin" sweep "$specs/mixed.yaml" -o "$work/plot" --plot cyclez --x noc.link_bytes_per_cycle 2> "$work/err.txt"
grep -q '^dojosim sweep: --plot: cyclez is not a figure of workload' "$work/err.txt" || fail "plot blame: $(cat "$work/err.txt")"
grep -q 'mixed.yaml' "$work/err.txt" && fail "the spec file is blamed: $(cat "$work/err.txt")"
echo "ok"
