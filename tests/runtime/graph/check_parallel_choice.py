# SPDX-License-Identifier: MIT
"""Reads `dojosim run --parallel auto --json FILE`'s table of placements: exactly one is chosen,
the one with the most samples/s, out of at least MIN candidates. Prints it."""
import json
import sys

candidates = json.load(open(sys.argv[1]))["parallel_choice"]
best = max(candidates, key=lambda c: c["samples_per_s"])
chosen = [c for c in candidates if c["chosen"]]
assert chosen == [best], (chosen, best)
assert len(candidates) >= int(sys.argv[2]), candidates
print("chosen: R {} T {}".format(best["data_parallel"], best["tensor_parallel"]))
