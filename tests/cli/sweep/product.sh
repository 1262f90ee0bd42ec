#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A 2 x 2 product sweep gives 4 rows in both outputs; the axis values reach the runs (wider
# links, fewer cycles); a second run with the same -o resumes and runs nothing.
source "$(dirname "$0")/lib.sh"
out=$work/out
expect_status 0 "$bin" sweep "$specs/product.yaml" -o "$out" -j 2 > "$work/first.txt"
[ "$(rows "$out/results.csv")" -eq 4 ] || fail "results.csv has $(rows "$out/results.csv") rows, expected 4"
[ "$(wc -l < "$out/results.jsonl")" -eq 4 ] || fail "results.jsonl does not have 4 lines"
head -1 "$out/results.csv" | grep -qx 'id,workload,noc.link_bytes_per_cycle,noc.routing,status,exit_code,cycles_max,instructions,mesh_link_bytes,wall_seconds,error' \
  || fail "unexpected header: $(head -1 "$out/results.csv")"
[ "$(column "$out/results.csv" status | sort -u)" = ok ] || fail "not every point is ok"
[ "$(column "$out/results.csv" id | sort -u | wc -l)" -eq 4 ] || fail "ids are not distinct"
# Canonical order: first axis slowest.
[ "$(column "$out/results.csv" noc.link_bytes_per_cycle | tr '\n' ' ')" = "32 32 64 64 " ] || fail "rows out of order"
narrow=$(grep ',32,xy,' "$out/results.csv" | cut -d, -f7)
wide=$(grep ',64,xy,' "$out/results.csv" | cut -d, -f7)
[ "$narrow" -gt "$wide" ] || fail "32 B/cycle links took $narrow cycles, 64 B/cycle $wide: the axis did not reach the run"
ls "$out/logs/"*.out > /dev/null || fail "no per-point logs"
[ -z "$(ls "$out/json")" ] || fail "json/ should be empty without --keep-json"

cp "$out/results.csv" "$work/before.csv"
expect_status 0 "$bin" sweep "$specs/product.yaml" -o "$out" -j 2 > "$work/second.txt"
grep -q "0 run now.*4 done before" "$work/second.txt" || fail "resume ran points again: $(cat "$work/second.txt")"
[ "$(wc -l < "$out/results.jsonl")" -eq 4 ] || fail "resume duplicated records"
cmp -s "$out/results.csv" "$work/before.csv" || fail "resume changed results.csv"

# --dry-run lists the points and their commands and runs nothing.
"$bin" sweep "$specs/product.yaml" --dry-run > "$work/dry.txt"
grep -q "^4 of 4 points" "$work/dry.txt" || fail "dry run: $(cat "$work/dry.txt")"
grep -q -- "--set noc.routing=yx" "$work/dry.txt" || fail "dry run shows no command"
echo "ok"
