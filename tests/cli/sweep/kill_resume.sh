#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A sweep killed with -9 (with its children) in the middle, plus a torn last line as a kill in
# the middle of a write would leave, then run again with the same -o: the results equal those
# of an uninterrupted run, with no point lost or duplicated.
source "$(dirname "$0")/lib.sh"
spec=$specs/kill.yaml
expect_status 0 "$bin" sweep "$spec" -o "$work/reference" -j 2 > /dev/null

out=$work/killed
set -m  # job control: the background sweep gets its own process group, to kill it whole
"$bin" sweep "$spec" -o "$out" -j 2 > "$work/killed.txt" 2>&1 &
pid=$!
set +m
for _ in $(seq 1 1000); do
  [ -f "$out/results.jsonl" ] && [ "$(wc -l < "$out/results.jsonl")" -ge 2 ] && break
  sleep 0.01
done
kill -9 -- "-$pid"
wait "$pid" 2> /dev/null || true
done_before=$(wc -l < "$out/results.jsonl")
[ "$done_before" -ge 2 ] || fail "no point finished before the kill"
[ "$done_before" -lt 12 ] || fail "the sweep finished before it was killed; make its points heavier"
printf '{"id":"0123456789ab","index":3,"workl' >> "$out/results.jsonl"  # a torn write

expect_status 0 "$bin" sweep "$spec" -o "$out" -j 2 > "$work/resumed.txt" 2> "$work/resumed.err"
grep -q "cut off a torn last line" "$work/resumed.err" || fail "the torn line was not reported: $(cat "$work/resumed.err")"
grep -q "$done_before done before" "$work/resumed.txt" || fail "resume did not skip the $done_before finished points: $(cat "$work/resumed.txt")"
[ "$(wc -l < "$out/results.jsonl")" -eq 12 ] || fail "results.jsonl has $(wc -l < "$out/results.jsonl") lines, expected 12"
dups=$(grep -o '"id":"[0-9a-f]*"' "$out/results.jsonl" | sort | uniq -d)
[ -z "$dups" ] || fail "duplicated points: $dups"
diff <(records "$work/reference/results.jsonl") <(records "$out/results.jsonl") > "$work/jsonl.diff" \
  || fail "records differ from the uninterrupted run: $(head -5 "$work/jsonl.diff")"
diff <(without_wall "$work/reference/results.csv") <(without_wall "$out/results.csv") > "$work/csv.diff" \
  || fail "results.csv differs from the uninterrupted run: $(head -5 "$work/csv.diff")"
echo "ok: killed after $done_before of 12 points, resumed"
