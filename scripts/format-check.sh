#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the C and C++ sources against .clang-format: no line of any tracked source is longer
# than the column limit, and every line changed since BASE (default: the parent of HEAD) is
# formatted as clang-format would. Only changed lines are held to the full style, so a change
# need not reformat the files it touches. usage: scripts/format-check.sh [BASE]
# Exit 0: clean; 1: a finding (printed, with the fix); 77: not a git checkout (skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "format-check: not a git checkout, nothing to compare with: skipped"
  exit 77
fi
limit=$(sed -n 's/^ColumnLimit: *//p' .clang-format)
mapfile -t sources < <(git ls-files '*.c' '*.cpp' '*.h')
status=0
long=$(awk -v limit="$limit" 'length($0) > limit { printf "%s:%d: %d columns (limit %d)\n", FILENAME, FNR, length($0), limit }' "${sources[@]}")
if [ -n "$long" ]; then
  printf '%s\n' "$long"
  echo "format-check: lines over the column limit; fix: clang-format -i --lines=N:N FILE"
  status=1
fi
base=${1:-HEAD~1}
if git rev-parse --verify -q "$base^{commit}" >/dev/null; then
  # Changed lines of the commits after BASE and of the working tree.
  diff=$(git clang-format --quiet --diff --extensions c,cpp,h "$base" -- "${sources[@]}" || true)
  if [ -n "$diff" ] && [ "$diff" != "no modified files to format" ]; then
    printf '%s\n' "$diff"
    echo "format-check: lines changed since $base are not formatted; fix: git clang-format $base"
    status=1
  fi
else
  echo "format-check: $base is not a commit here (a shallow clone?): changed lines not checked"
fi
[ "$status" -eq 0 ] && echo "format-check: clean (column limit $limit; lines changed since $base)"
exit "$status"
