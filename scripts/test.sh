#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs dependencies, builds and runs every test. usage: scripts/test.sh [--sanitize]
# With --sanitize the same tests run under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
kind=release dir=build
if [ "${1:-}" = "--sanitize" ]; then kind=sanitize dir=build-sanitize; fi
scripts/build.sh "$kind"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
