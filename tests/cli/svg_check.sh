#!/bin/sh
# SPDX-License-Identifier: MIT
# usage: svg_check.sh DOJOSIM CONFIG PROGRAM OUTDIR — runs with --svg, then checks that each
# plot is well-formed XML and counts the heat map's cells and the link map's links.
set -e
"$1" run --config "$2" --program "$3" --svg "$4" >/dev/null
for f in utilisation links roofline; do
  xmllint --noout "$4/$f.svg"
  echo "$f well-formed"
done
echo "cells $(grep -c 'class="node"' "$4/utilisation.svg") links $(grep -c 'class="link"' "$4/links.svg")"
# The roofline's y ticks: at decades, in TFLOP/s (0.001, 0.01, ..., not 3.6e14 or 4.5e13).
echo "roofline y ticks $(grep -o 'class="ytick"[^>]*>[^<]*<' "$4/roofline.svg" | sed 's/.*>\(.*\)</\1/' | tr '\n' ' ')"
