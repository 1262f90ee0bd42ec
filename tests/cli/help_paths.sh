#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every input file a --help text names (programs, configs, specs, workload files) exists in the
# repository: a user copies the examples first. Paths under build/ are what the build makes
# (C kernels); paths under DIR/ or OUT/, after a shell '>', a sweep's results.* and .json/.bin/.svg
# names are outputs.
set -euo pipefail
bin=$1
root=$2
status=0
for verb in run exec asm disasm doc config "config show" "config doc" sweep "sweep merge"; do
  # shellcheck disable=SC2086
  for path in $("$bin" $verb --help | sed -E 's/> *[^ ]+//g' | grep -oE '[A-Za-z0-9_./-]+\.(s|c|S|yaml|csv|elf)\b' | sort -u); do
    case $path in build/*|DIR/*|OUT/*|results.*) continue ;; esac
    if [ ! -e "$root/$path" ]; then
      echo "dojosim $verb --help names $path, which does not exist"
      status=1
    fi
  done
done
[ $status -eq 0 ] && echo "every path exists"
exit $status
