#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the generated parts of the docs: docs/isa.md from the instruction table,
# docs/config.md and the figures of docs/hardware.md from the parameter table, the op reference
# of docs/graphs.md from runtime/graph/ops.def, the algorithm table of docs/collectives.md from
# runtime/collectives/algorithms.def.
# usage: scripts/gen-docs.sh [path/to/dojosim]   (default build/tools/dojosim)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/tools/dojosim}
# splice WHAT FILE: the output of `dojosim doc WHAT` between FILE's markers for it.
splice() {
  local begin="<!-- BEGIN GENERATED: dojosim doc $1 -->" end='<!-- END GENERATED -->' tmp
  tmp=$(mktemp)
  "$bin" doc "$1" > "$tmp"
  awk -v b="$begin" -v e="$end" -v f="$tmp" '
    $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }' "$2" > "$2.new"
  mv "$2.new" "$2"
  rm -f "$tmp"
}
splice isa docs/isa.md
splice graph-ops docs/graphs.md
splice collectives docs/collectives.md
"$bin" config doc keys --update docs/config.md
"$bin" config doc figures --update docs/hardware.md
