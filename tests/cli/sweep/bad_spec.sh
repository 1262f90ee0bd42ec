#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bad_spec.sh DOJOSIM SPEC_DIR WORK_DIR SPEC TEXT...: `dojosim sweep SPEC` exits 2 with exactly
# one line on stderr, "dojosim sweep: ...", containing every TEXT (file, line, key, problem).
source "$(dirname "$0")/lib.sh"
spec=$4
shift 4
expect_status 2 "$bin" sweep "$specs/$spec" -o "$work/out" > "$work/stdout.txt" 2> "$work/stderr.txt"
[ "$(wc -l < "$work/stderr.txt")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$work/stderr.txt")"
grep -q "^dojosim sweep: " "$work/stderr.txt" || fail "no 'dojosim sweep:' prefix: $(cat "$work/stderr.txt")"
for text in "$@"; do
  grep -qF -- "$text" "$work/stderr.txt" || fail "expected '$text' in: $(cat "$work/stderr.txt")"
done
echo "ok: $(cat "$work/stderr.txt")"
