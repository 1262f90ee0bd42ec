#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# combine: zip pairs the i-th values of its axes (3 points, not 9); ranges with step and times.
source "$(dirname "$0")/lib.sh"
out=$work/out
expect_status 0 "$bin" sweep "$specs/zip.yaml" -o "$out" > /dev/null
[ "$(rows "$out/results.csv")" -eq 3 ] || fail "results.csv has $(rows "$out/results.csv") rows, expected 3"
pairs=$(paste -d: <(column "$out/results.csv" noc.link_bytes_per_cycle) \
                  <(column "$out/results.csv" noc.router_latency_cycles) | tr '\n' ' ')
[ "$pairs" = "32:1 64:2 128:3 " ] || fail "zipped values are $pairs"
[ "$(column "$out/results.csv" status | sort -u)" = ok ] || fail "not every point is ok"
echo "ok"
