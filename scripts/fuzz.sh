#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (build-fuzz/) and runs each for SECONDS.
# usage: scripts/fuzz.sh SECONDS [target...]     (default: every target in fuzz/)
# Each target starts from fuzz/corpus/<target>/ plus the seeds derived at build time
# (build-fuzz/fuzz/seeds/<target>/), copied into build-fuzz/fuzz-work/<target>/corpus/, which
# keeps growing across runs; fuzz/corpus/ is never written. Exits non-zero if any target found a
# crash, a leak, a timeout or ran out of memory, and prints how to reproduce each finding.
# FUZZ_KEEP_GOING=1 runs libFuzzer's fork mode, which goes on past findings and collects them all
# (for a long exploratory run; CI stops at the first).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [target...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(fuzz_assembler fuzz_disasm fuzz_elf fuzz_exec); fi

scripts/setup.sh
scripts/build.sh fuzz "${targets[@]}" fuzz_seeds
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz/$t
  work=build-fuzz/fuzz-work/$t
  mkdir -p "$work/corpus" "$work/artifacts"
  for seeds in fuzz/corpus/$t build-fuzz/fuzz/seeds/$t; do
    if [ -d "$seeds" ]; then cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true; fi
  done
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")
  if [ "$t" = fuzz_assembler ] && [ -f build-fuzz/fuzz/seeds/fuzz_assembler.dict ]; then
    args+=(-dict=build-fuzz/fuzz/seeds/fuzz_assembler.dict)
  fi
  if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    args+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  fi
  echo "== $t: ${seconds}s, corpus $work/corpus ($(ls "$work/corpus" | wc -l) inputs)"
  touch "$work/started"
  status=0
  "$bin" "${args[@]}" "$work/corpus" >"$work/log" 2>&1 || status=$?
  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE|^#[0-9]+: cov' "$work/log" | tail -2 || true
  found=$(find "$work/artifacts" -type f -newer "$work/started" | sort)
  if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    failed+=("$t")
    echo "!! $t failed (exit $status); log: $work/log"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|fuzz_[a-z]+: )' "$work/log" | head -5 || true
    for a in $found; do echo "   reproduce: $bin $a"; done
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in ${failed[*]}"
  exit 1
fi
echo "fuzz: no findings in ${targets[*]} (${seconds}s each)"
