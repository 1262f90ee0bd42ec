#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks, or rewrites, the figures that Markdown files quote from runs.

usage: scripts/quoted.py [--build DIR] [--update] [--slow] FILE...

A quoted block is a fenced block or a table right after a marker line naming the command
that prints it (paths as in the text; a word starting `build/` is the build tree):

    <!-- output: build/tools/dojosim exec examples/01-first-kernel/saxpy.s --stats -->
    <!-- output(slow): ... -->            run only with --slow (a run too long for CTest)
    <!-- output: same -->                 the command of the marker before it (one run)

Every line of the block must match a line of the command's output, in order: words exactly,
`...` anything, numbers exactly (`~N` for a host time: within a factor of 10). A paragraph that
repeats quoted figures ends with `<!-- figures: 154 295 -->`: each must appear in that
paragraph and among the figures of the file's quoted blocks. A fence without a language
needs a marker, or `<!-- unchecked: why -->`. The commands run in the repository root; their
exit status must be 0.

--update rewrites the quoted numbers (and the figures comments and their paragraphs) to what
the commands print now; host times (`~N`) change only when outside their tolerance.
examples/README.md ("Quoted output") is the author's guide; scripts/update-quoted.sh runs this
over every file with markers.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM = r"[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?"
TOKEN = re.compile(r"(\.\.\.)|(~?)(" + NUM + r")|(\s+)|([^\s\d.~+-]+|[\s\S])")
MARKER = re.compile(r"^\s*<!-- output(\(slow\))?: (.*) -->$")
FIGURES = re.compile(r"^\s*<!-- figures: (.*) -->$")
UNCHECKED = re.compile(r"^\s*<!-- unchecked: .* -->$")
HOST_FACTOR = 10.0


def norm(number):
    return number.replace(",", "")


def fmt_like(old, new):
    """new, with thousands separators if old had them."""
    if "," in old and "," not in new and re.fullmatch(r"[-+]?\d+(\.\d+)?", new):
        sign = new[0] if new[0] in "+-" else ""
        body = new.lstrip("+-")
        whole, _, frac = body.partition(".")
        return sign + f"{int(whole):,}" + ("." + frac if frac else "")
    return new


def parse_line(line):
    """A quoted line as a regex with one group per number, and its numbers (text, is_host)."""
    pattern, numbers = "", []
    for m in TOKEN.finditer(line.rstrip()):
        dots, tilde, num, space, other = m.groups()
        if dots:
            pattern += ".*?"
        elif num is not None:
            pattern += "(" + NUM + ")"
            numbers.append((num, tilde == "~", m.start(3), m.end(3)))
        elif space:
            pattern += r"\s+"
        else:
            pattern += re.escape(m.group(0))
    return re.compile(r"\s*" + pattern + r"\s*"), numbers


def numbers_of(line):
    return [m.group(3) for m in TOKEN.finditer(line) if m.group(3) is not None]


class Block:
    def __init__(self, path, marker_line, command, slow, first, lines):
        self.path, self.marker_line, self.command, self.slow = path, marker_line, command, slow
        self.first, self.lines = first, lines  # index of the first quoted line; their texts


def parse(path, text):
    lines = text.split("\n")
    blocks, figures, problems = [], [], []
    i = 0
    in_fence = False  # or the backticks that opened the fence
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line)
        if m and not in_fence and m.group(2) == "same":
            if not blocks:
                problems.append(f"{path}:{i + 1}: `output: same` needs an earlier output marker")
                m = None
            else:
                m = MARKER.match(f"<!-- output{m.group(1) or ''}: {blocks[-1].command} -->")
        if m and not in_fence:
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and lines[j].startswith("```"):
                k = j + 1
                while k < len(lines) and not lines[k].startswith("```"):
                    k += 1
                blocks.append(Block(path, i + 1, m.group(2), bool(m.group(1)), j + 1, lines[j + 1:k]))
                i = k + 1
                continue
            if j < len(lines) and lines[j].startswith("|"):
                k = j
                while k < len(lines) and lines[k].startswith("|"):
                    k += 1
                blocks.append(Block(path, i + 1, m.group(2), bool(m.group(1)), j, lines[j:k]))
                i = k
                continue
            problems.append(f"{path}:{i + 1}: an output marker must be followed by a fenced block or a table")
        elif line.startswith("```"):
            ticks = len(line) - len(line.lstrip("`"))
            if not in_fence:
                in_fence = "`" * ticks
                if line.strip() == in_fence:
                    prev = i - 1
                    while prev >= 0 and not lines[prev].strip():
                        prev -= 1
                    if prev < 0 or not UNCHECKED.match(lines[prev]):
                        problems.append(f"{path}:{i + 1}: a fence without a language quotes output: put "
                                        "<!-- output: COMMAND --> (or <!-- unchecked: why -->) before it")
            elif line.strip() == "`" * ticks and ticks >= len(in_fence):
                in_fence = False
        elif not in_fence:
            f = FIGURES.match(line)
            if f:
                start = i
                while start > 0 and lines[start - 1].strip():
                    start -= 1
                figures.append((i, start, f.group(1).split()))
        i += 1
    return lines, blocks, figures, problems


def run(command, build):
    cmd = re.sub(r"(?<![\w/.-])build/", build.rstrip("/") + "/", command)
    p = subprocess.run(["sh", "-c", cmd], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return p.returncode, p.stdout.split("\n"), cmd


def host_ok(quoted, printed):
    q, p = float(norm(quoted)), float(norm(printed))
    return q / HOST_FACTOR <= p <= q * HOST_FACTOR


def check_block(block, output, lines, update, changes):
    """Problems of one block; with update, rewrites lines[] and records old -> new figures."""
    problems, pos = [], 0
    for n, quoted in enumerate(block.lines):
        where = f"{block.path}:{block.first + n + 1}"
        if not quoted.strip() or quoted.strip() == "..." or re.fullmatch(r"\|[-| :]+\|?", quoted.strip()):
            continue
        shape, numbers = parse_line(quoted)
        # The first line of that shape with the same figures, else the first of that shape.
        found = None
        for idx in range(pos, len(output)):
            m = shape.fullmatch(output[idx])
            if m and found is None:
                found = (idx, m)
            if m and all(host_ok(q, p) if host else norm(q) == norm(p)
                         for (q, host, _, _), p in zip(numbers, m.groups())):
                found = (idx, m)
                break
        if not found:
            problems.append(f"{where}: no line of the output of `{block.command}` reads like\n    {quoted}")
            continue
        pos = found[0] + 1
        printed = found[1].groups()
        line_problems = []
        new_line = quoted
        for (q, host, start, end), p in reversed(list(zip(numbers, printed))):
            same = host_ok(q, p) if host else norm(q) == norm(p)
            if same:
                continue
            line_problems.insert(0, f"{where}: quoted {q}, printed {p}"
                            + (" (a host time, allowed a factor of 10)" if host else "")
                            + f"\n    quoted:  {quoted.strip()}\n    printed: {output[found[0]].strip()}")
            new = fmt_like(q, p)
            new_line = new_line[:start] + new + new_line[end:]
            if not host:
                changes.setdefault(norm(q).lstrip("+-"), set()).add(new.lstrip("+-"))
        problems += line_problems
        if update and new_line != quoted:
            exact_copy = "..." not in quoted and "~" not in quoted
            lines[block.first + n] = output[found[0]].rstrip() if exact_copy else new_line
    return problems


def check_file(real, build, update, slow, cache):
    path = os.path.relpath(os.path.abspath(real), ROOT)
    with open(real) as f:
        text = f.read()
    lines, blocks, figures, problems = parse(path, text)
    changes = {}
    quoted_figures = set()
    for block in blocks:
        for q in block.lines:
            quoted_figures.update(norm(n).lstrip("+-") for n in numbers_of(q))
        if block.slow and not slow:
            continue
        key = block.command
        if key not in cache:
            cache[key] = run(block.command, build)
        status, output, cmd = cache[key]
        if status != 0:
            problems.append(f"{path}:{block.marker_line}: `{cmd}` exited with status {status}:\n"
                            + "\n".join(output[-20:]))
            continue
        problems += check_block(block, output, lines, update, changes)
    for line_no, start, figs in figures:
        para = " ".join(lines[start:line_no])
        para_figures = {norm(n).lstrip("+-") for n in numbers_of(para)}
        for fig in figs:
            if norm(fig).lstrip("+-") not in para_figures:
                problems.append(f"{path}:{line_no + 1}: figure {fig} is not in the paragraph above")
            key = norm(fig).lstrip("+-")
            if key not in quoted_figures and key not in changes:
                problems.append(f"{path}:{line_no + 1}: figure {fig} is not printed in any quoted "
                                "block of this file")
            elif key in changes:
                news = changes[key]
                problems.append(f"{path}:{line_no + 1}: figure {fig} in the text, printed {' or '.join(sorted(news))}")
                if update and len(news) == 1:
                    new = next(iter(news))
                    for k in range(start, line_no + 1):
                        lines[k] = re.sub(r"(?<![\w.,])" + re.escape(fig) + r"(?![\w]|[.,]\d)",
                                          fmt_like(fig, new), lines[k])
                elif update:
                    problems.append(f"{path}:{line_no + 1}: figure {fig} became several figures: edit by hand")
    if update:
        new_text = "\n".join(lines)
        if new_text != text:
            with open(real, "w") as f:
                f.write(new_text)
            print(f"updated {path}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build tree (default: build)")
    ap.add_argument("--update", action="store_true", help="rewrite the quoted figures to the printed ones")
    ap.add_argument("--slow", action="store_true", help="also run the output(slow) markers")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    cache, problems = {}, []
    for path in args.files:
        if not os.path.exists(path):
            problems.append(f"{path}: no such file")
            continue
        problems += check_file(path, build, args.update, args.slow, cache)
    for p in problems:
        print(p, file=sys.stderr)
    if problems and not args.update:
        print(f"{len(problems)} quoted figure(s) differ from the runs; after checking that the new figures "
              "are right, run scripts/update-quoted.sh", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
