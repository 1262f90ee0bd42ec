#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# summary.svg is well-formed XML with one series path per line value, a legend entry for each,
# axis labels and ticks; --plot/--x/--lines override the spec's plot: and redraw on resume.
source "$(dirname "$0")/lib.sh"
well_formed() {
  if command -v xmllint > /dev/null; then
    xmllint --noout "$1"
  elif command -v python3 > /dev/null; then
    python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$1"
  else
    echo "neither xmllint (libxml2-utils) nor python3 is installed" >&2
    exit 77
  fi
}
out=$work/out
expect_status 0 "$bin" sweep "$specs/plot.yaml" -o "$out" -j 2 > /dev/null
svg=$out/summary.svg
well_formed "$svg" || fail "summary.svg is not well-formed XML"
[ "$(grep -c 'class="series"' "$svg")" -eq 2 ] || fail "expected 2 series paths, got $(grep -c 'class="series"' "$svg")"
for text in '>noc.routing=xy<' '>noc.routing=yx<' '>cycles_max<' '>noc.link_bytes_per_cycle (log scale)<' '>16<' '>256<'; do
  grep -qF "$text" "$svg" || fail "summary.svg lacks $text"
done
# Every series has a point at each of the 5 link widths.
grep 'class="series"' "$svg" | while read -r line; do
  [ "$(echo "$line" | grep -o '[ML][0-9.]*,[0-9.]*' | wc -l)" -eq 5 ] || fail "a series without 5 points: $line"
done

# Flags override the spec; nothing reruns, the plot is redrawn.
expect_status 0 "$bin" sweep "$specs/plot.yaml" -o "$out" --plot mesh_link_bytes --x noc.routing \
  --lines noc.link_bytes_per_cycle > "$work/again.txt"
grep -q "0 run now" "$work/again.txt" || fail "points ran again"
well_formed "$svg" || fail "the redrawn summary.svg is not well-formed XML"
[ "$(grep -c 'class="series"' "$svg")" -eq 5 ] || fail "expected 5 series paths after --lines noc.link_bytes_per_cycle"
grep -qF '>mesh_link_bytes against noc.routing<' "$svg" || fail "the redrawn plot has the wrong title"

expect_status 2 "$bin" sweep "$specs/plot.yaml" -o "$out" --plot cycles_max 2> "$work/err.txt"
grep -q -- "--plot needs --x AXIS" "$work/err.txt" || fail "--plot without --x: $(cat "$work/err.txt")"
expect_status 2 "$bin" sweep "$specs/plot.yaml" -o "$out" --plot cycles_max --x noc.nope 2> "$work/err.txt"
grep -q "not an axis of this sweep" "$work/err.txt" || fail "--x not an axis: $(cat "$work/err.txt")"
echo "ok"
