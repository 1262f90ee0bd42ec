#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host seconds of one workload with values on and off (timing only, docs/timing.md), measured
# in the same run on the same machine; the cycles of both must agree.
# usage: bench/values_off.sh [WORKLOAD] [CONFIG]   (DOJOSIM=path/to/dojosim to pick a build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${DOJOSIM:-build/tools/dojosim}
workload=${1:-matmul:M=2048,N=2048,K=2048}
config=${2:-configs/d1.yaml}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A secs cycles
for values in on off; do
  start=$(date +%s.%N)
  "$bin" run --config "$config" --workload "$workload" --values "$values" --json "$tmp/$values.json" \
    >/dev/null
  end=$(date +%s.%N)
  secs[$values]=$(python3 -c "print(f'{$end - $start:.2f}')")
  cycles[$values]=$(python3 -c "import json; print(json.load(open('$tmp/$values.json'))['report']['cycles'])")
done
[ "${cycles[on]}" = "${cycles[off]}" ] || { echo "cycles differ: ${cycles[on]} vs ${cycles[off]}" >&2; exit 1; }
echo "workload $workload on $config: ${cycles[on]} cycles"
echo "values on : ${secs[on]} s"
echo "values off: ${secs[off]} s"
python3 -c "print(f'speed-up: {${secs[on]} / ${secs[off]}:.2f}x')"
