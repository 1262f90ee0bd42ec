#!/bin/sh
# SPDX-License-Identifier: MIT
# usage: loss_scale_same_bits.sh DOJOSIM CONFIG GRAPH WORKDIR
# Runs the graph's training step with loss scale 1 and 1024 and compares every saved output
# file byte for byte; prints how many are the same, fails on the first that differs.
set -e
bin=$1 config=$2 graph=$3 work=$4
for s in 1 1024; do
  rm -rf "$work/ls$s"
  "$bin" run --config "$config" --workload "$graph" --optimizer sgd:lr=0.1 --loss-scale "$s" \
    --save "$work/ls$s" > /dev/null
done
n=0
for f in $(cd "$work/ls1" && find . -name '*.npy' | sort); do
  cmp "$work/ls1/$f" "$work/ls1024/$f"
  n=$((n + 1))
done
echo "same files: $n"
