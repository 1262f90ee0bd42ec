#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs everything dojosim needs from Debian 12 packages. Idempotent: does nothing when all
# packages are present. Run as root, or as a user with sudo.
set -euo pipefail

packages=(
  cmake make g++ pkg-config git                    # build
  libsystemc-dev                                    # hardware model (SystemC 2.3.4)
  libboost-dev libboost-program-options-dev         # CLI, statistics bounds, containers
  libfmt-dev catch2 libyaml-cpp-dev nlohmann-json3-dev
  libhwy-dev                                        # Google Highway: vector/matrix lanes on host SIMD (isa/lanes.h)
  gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf picolibc-riscv64-unknown-elf  # C kernels
  qemu-user-static                                  # reference for the differential tests
  clang libclang-rt-14-dev                          # libFuzzer and sanitizer runtimes
  clang-format                                      # scripts/format-check.sh: the style, on changed lines
  libxml2-utils                                     # xmllint: tests check the SVG plots are well-formed XML
  python3                                           # scripts/quoted.py: quoted run output in texts is checked
  pybind11-dev python3-dev python3-numpy python3-pytest  # the Python package (python/) and its tests
  python3-yaml python3-torch python3-torchvision python3-onnx  # capture and ONNX import (python/dojosim)
  libopenblas0-pthread                              # bench/host_blas.sh: numpy's sgemm on OpenBLAS, the reference
  slurm-wlm munge                                   # tests/cli/sweep/slurm_real.sh: a single-node Slurm cluster
  libopenmpi-dev openmpi-bin                        # MPI ranks: one run over several processes (docs/parallel.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
