#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Failing points are recorded with their status and error line and the others still finish;
# the sweep exits 1. A value out of range fails its points only.
source "$(dirname "$0")/lib.sh"
out=$work/out
expect_status 1 "$bin" sweep "$specs/failing.yaml" -o "$out" -j 2 > "$work/stdout.txt"
[ "$(rows "$out/results.csv")" -eq 8 ] || fail "results.csv has $(rows "$out/results.csv") rows, expected 8"
status_of() { grep "^[0-9a-f]*,$1,$2," "$out/results.csv" | cut -d, -f4; }
[ "$(status_of ring 64)" = ok ] || fail "ring at 64 B/cycle: $(status_of ring 64)"
[ "$(status_of exit7 64)" = program-failed ] || fail "exit7 at 64 B/cycle: $(status_of exit7 64)"
[ "$(status_of trap 64)" = trap ] || fail "trap at 64 B/cycle: $(status_of trap 64)"
[ "$(status_of deadlock 64)" = hung ] || fail "deadlock at 64 B/cycle: $(status_of deadlock 64)"
for w in ring exit7 trap deadlock; do
  [ "$(status_of $w 0)" = input-error ] || fail "$w at 0 B/cycle: $(status_of $w 0)"
done
grep -q 'input-error,2,.*noc.link_bytes_per_cycle = 0: must be in' "$out/results.csv" || fail "no config error text"
grep -q 'program-failed,1,.*dojosim run: node (0,0) thread 0 exited with code 7' "$out/results.csv" \
  || fail "no exit code text: $(grep exit7 "$out/results.csv")"
grep -q 'trap,3,.*misaligned load at pc 0x4' "$out/results.csv" || fail "no trap text"
grep -q 'hung,4,.*deadlock: every live thread is waiting' "$out/results.csv" || fail "no deadlock headline"
grep -q '"status":"trap","exit_code":3,"error":"dojosim run: node (0,0) thread 0: misaligned' "$out/results.jsonl" \
  || fail "the trap record lacks its error"
grep -q "1 ok, 7 failed" "$work/stdout.txt" || fail "summary: $(cat "$work/stdout.txt")"
# Failed points are results too: a rerun does not run them again.
expect_status 1 "$bin" sweep "$specs/failing.yaml" -o "$out" > "$work/again.txt"
grep -q "0 run now" "$work/again.txt" || fail "failed points ran again"
echo "ok"
