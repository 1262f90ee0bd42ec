#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Weak scaling of the matmul mapping from one D1 die to the 25-die tile: the same C block and K
# per node on both (d1: 4096 x 4096 x 4096 over 342 nodes; tile: 20480 x 20480 x 4096 over
# 8,550), and the ratio of achieved FLOP/s (ideal: 25). A benchmark: it prints; the tile run
# takes about half an hour and 10 GB on a 2-core machine.
# usage: bench/matmul_scaling.sh [MAPPING]
set -euo pipefail
cd "$(dirname "$0")/.."
mapping=${1:-summa}
scripts/build.sh release dojosim >/dev/null
run() {  # config M N K -> prints "flop_per_s utilisation_pct cycles"
  local json
  json=$(mktemp)
  /usr/bin/time -f "  host: %e s, %M KB max RSS" build/tools/dojosim run --config "configs/$1.yaml" \
    --workload "matmul:M=$2,N=$3,K=$4,dtype=bf16,mapping=$mapping,check=off" --json "$json" >&2
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['report']; print(r['flop_per_s'], r['utilisation_pct'], r['cycles'])" "$json"
  rm -f "$json"
}
read -r d1_flops d1_pct d1_cycles < <(run d1 4096 4096 4096)
read -r tile_flops tile_pct tile_cycles < <(run tile 20480 20480 4096)
awk -v a="$d1_flops" -v ap="$d1_pct" -v ac="$d1_cycles" -v b="$tile_flops" -v bp="$tile_pct" -v bc="$tile_cycles" \
  'BEGIN { printf "d1:   %.4g FLOP/s (%.1f%% of peak), %d cycles\ntile: %.4g FLOP/s (%.1f%% of peak), %d cycles\nweak scaling d1 -> tile: %.1fx of 25x\n", a, ap, ac, b, bp, bc, b / a }'
