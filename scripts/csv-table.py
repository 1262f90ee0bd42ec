#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints a Markdown table from a CSV file (a sweep's results.csv), for quoted tables.

usage: scripts/csv-table.py pivot CSV ROW COLUMN VALUE [ROW_TITLE]
       scripts/csv-table.py rows CSV 'HEADER' 'ROW FORMAT'

pivot: one row per value of ROW, one column per value of COLUMN (both in file order), cells
VALUE, or VALUE:SPEC with a format spec (utilisation_pct:.1f). rows: one line per CSV row,
FORMAT has fields {EXPRESSION:SPEC}, EXPRESSION in Python over the columns (a name's
non-word characters read as _, so noc.routing is noc_routing), SPEC a format spec, e.g.
'| {workload} | {cycles:,} | {(estimate_cycles - cycles) / cycles * 100:+.1f}% |'. Integers print with thousands separators in pivot; numeric
columns are converted to int or float before formatting. The HEADER of rows is printed as is,
followed by a separator line. See examples/README.md ("Quoted output").
"""
import csv
import re
import sys


def number(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def cell(value, spec=""):
    v = number(value)
    if spec and not isinstance(v, str):
        return format(v, spec)
    return f"{v:,}" if isinstance(v, int) else str(v)


def main(argv):
    if len(argv) >= 5 and argv[0] == "pivot":
        _, path, row, col, value = argv[:5]
        title = argv[5] if len(argv) > 5 else row
        with open(path) as f:
            data = list(csv.DictReader(f))
        rows = list(dict.fromkeys(r[row] for r in data))
        cols = list(dict.fromkeys(r[col] for r in data))
        value, _, spec = value.partition(":")
        cells = {(r[row], r[col]): r[value] for r in data}
        print("| " + " | ".join([title] + cols) + " |")
        print("|" + "---|" * (len(cols) + 1))
        for r in rows:
            print("| " + " | ".join([r] + [cell(cells.get((r, c), ""), spec) for c in cols]) + " |")
        return 0
    if len(argv) == 4 and argv[0] == "rows":
        _, path, header, fmt = argv
        with open(path) as f:
            data = list(csv.DictReader(f))
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
        for r in data:
            names = {re.sub(r"\W", "_", k): number(v) for k, v in r.items()}
            print(re.sub(r"\{([^{}:]+)(?::([^{}]*))?\}",
                         lambda m: format(eval(m.group(1), {}, names), m.group(2) or ""), fmt))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
