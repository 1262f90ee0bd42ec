#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs dependencies, builds, and runs the main job: a bf16 matmul placed across one D1 die
# (SUMMA), with its report and its checks against the references.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
build/tools/dojosim run --config configs/d1.yaml --workload matmul:M=1024,N=1024,K=1024,dtype=bf16
