# SPDX-License-Identifier: MIT
# Helpers for the sweep tests (sourced). Each test script is called as
#   script.sh DOJOSIM SPEC_DIR WORK_DIR
# and starts from an empty WORK_DIR.
set -euo pipefail
bin=$1
specs=$2
work=$3
rm -rf "$work"
mkdir -p "$work"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Runs the command; fails unless it exits with status $1.
expect_status() {
  local want=$1
  shift
  local got=0
  "$@" || got=$?
  [ "$got" -eq "$want" ] || fail "exit status $got, expected $want: $*"
}

# Data rows of a CSV (the header excluded).
rows() { tail -n +2 "$1" | wc -l; }

# The CSV without its wall_seconds column, which differs from run to run. (The rows compared
# here have no commas inside quotes.)
without_wall() {
  awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_seconds") w = i }
                    { $w = ""; print }' "$1"
}

# The records of a results.jsonl, wall time removed, sorted: equal for equal results.
records() { sed 's/"wall_seconds":[0-9.e+-]*,//' "$1" | sort; }

# Column $2 (by header name) of the CSV $1, one value per row.
column() {
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }' "$1"
}
