#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A collective at sizes 4 KiB .. 256 MiB (x4 per row), nccl-tests style: the algorithm the
# estimate picks, time, algbw, busbw, the bound's busbw and the share of it reached, and the
# host's seconds and peak memory per run. Timing only (--values off: the same cycles,
# docs/timing.md). Sizes that do not fit the SRAM print the reason and go on.
# usage: bench/collectives.sh [CONFIG] [OP] [ALGO] [SIZES...]
#   (defaults: configs/d1.yaml allreduce auto; DOJOSIM=path/to/dojosim picks a build)
#   bench/collectives.sh configs/d1.yaml allreduce 2d 64MiB
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${DOJOSIM:-build/tools/dojosim}
config=${1:-configs/d1.yaml}
op=${2:-allreduce}
algo=${3:-auto}
shift $(( $# < 3 ? $# : 3 ))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(4KiB 16KiB 64KiB 256KiB 1MiB 4MiB 16MiB 64MiB 256MiB)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# $op on $config, algo=$algo, bf16, group all, --values off"
printf '%10s %-16s %9s %10s %10s %10s %11s %8s %8s %9s\n' size algo cycles time_us algbw_GB/s \
  busbw_GB/s bound_GB/s %bound host_s host_MB
for size in "${sizes[@]}"; do
  if ! /usr/bin/time -f '%e %M' -o "$tmp/time" "$bin" run --config "$config" --values off \
      --workload "$op:bytes=$size,dtype=bf16,algo=$algo" --json "$tmp/run.json" \
      >"$tmp/out" 2>"$tmp/err"; then
    printf '%10s %s\n' "$size" "$(grep -v '^Command' "$tmp/err" | head -1)"
    continue
  fi
  read -r secs kb <"$tmp/time"
  python3 - "$tmp/run.json" "$size" "$secs" "$kb" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r, w = j["report"], j["workload"]
print(f'{sys.argv[2]:>10} {w["algorithm"]:<16} {r["cycles"]:>9} {r["seconds"] * 1e6:>10.3f} '
      f'{r["algbw_gb_per_s"]:>10.2f} {r["busbw_gb_per_s"]:>10.2f} {r["bound_busbw_gb_per_s"]:>11.2f} '
      f'{r["percent_of_bound"]:>8.1f} {float(sys.argv[3]):>8.1f} {int(sys.argv[4]) / 1024:>9.0f}')
PY
done
