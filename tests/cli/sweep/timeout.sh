#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A point running past the timeout (the spec's timeout:, or --timeout) is stopped and recorded
# with status timeout, and the others finish. Without --keep-json no json/ folder appears and no
# point's JSON is left behind, also of the stopped point.
source "$(dirname "$0")/lib.sh"
out=$work/out
start=$(date +%s)
expect_status 1 "$bin" sweep "$specs/timeout.yaml" -o "$out" -j 2 > /dev/null
[ $(( $(date +%s) - start )) -lt 30 ] || fail "the timeout did not stop the spinning point"
status_of() { grep "^[0-9a-f]*,$1," "$out/results.csv" | cut -d, -f3; }
[ "$(status_of ring)" = ok ] || fail "ring: $(status_of ring)"
[ "$(status_of spin)" = timeout ] || fail "spin: $(status_of spin)"
grep -q 'timeout,137,.*stopped after 2 s, the point.s timeout' "$out/results.csv" || fail "no timeout text: $(cat "$out/results.csv")"
[ ! -e "$out/json" ] || fail "a json/ folder appeared without --keep-json"
ls "$out"/logs/*.json > /dev/null 2>&1 && fail "a point's JSON was left behind: $(ls "$out/logs")"
# --timeout overrides the spec; --keep-json keeps the finished point's statistics.
expect_status 1 "$bin" sweep "$specs/timeout.yaml" -o "$work/flag" --timeout 1 --keep-json > /dev/null
grep -q 'stopped after 1 s' "$work/flag/results.csv" || fail "--timeout was not used"
[ "$(ls "$work/flag/json" | wc -l)" -eq 1 ] || fail "json/ holds $(ls "$work/flag/json")"
expect_status 2 "$bin" sweep "$specs/timeout.yaml" -o "$work/bad" --timeout 0
echo "ok"
