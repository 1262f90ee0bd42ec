#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the generated parts of the docs: docs/isa.md from the instruction table,
# docs/config.md and the figures of docs/hardware.md from the parameter table.
# usage: scripts/gen-docs.sh [path/to/dojosim]   (default build/tools/dojosim)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/tools/dojosim}
begin='<!-- BEGIN GENERATED: dojosim doc isa -->'
end='<!-- END GENERATED -->'
tmp=$(mktemp)
"$bin" doc isa > "$tmp"
awk -v b="$begin" -v e="$end" -v f="$tmp" '
  $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
  $0 == e { skip = 0 }
  !skip { print }' docs/isa.md > docs/isa.md.new
mv docs/isa.md.new docs/isa.md
rm -f "$tmp"
"$bin" config doc keys --update docs/config.md
"$bin" config doc figures --update docs/hardware.md
