#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the build tree into a temporary prefix and uses it from outside the source tree, as a
# user would (docs/install.md):
#   1. tests/install/app, configured with find_package(dojosim): a matmul through the runtime
#      API, checked against the reference; a C kernel built with the installed SDK, run with the
#      installed `dojosim exec`;
#   2. the same program built with pkg-config (dojosim.pc);
#   3. `dojosim run --config d1 --workload ...` by preset name, from the installed data;
#   4. a name found nowhere: the installed dojosim says where it looked (not in the source tree).
# usage: install_check.sh BUILD_DIR C_KERNELS(ON|OFF). Any failed step fails the test.
set -euo pipefail
build=$(cd "$1" && pwd)
c_kernels=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/dojosim-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "== $*"; }
expect() {  # expect REGEX FILE: fail unless a line of FILE matches
  grep -Eq -- "$1" "$2" || { echo "install-check: '$1' not in the output above"; exit 1; }
}

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
for f in bin/dojosim lib/cmake/dojosim/dojosimConfig.cmake lib/pkgconfig/dojosim.pc \
         include/dojosim/runtime/mesh/mesh_matmul.h include/dojosim/hw/config/params.def \
         share/dojosim/configs/d1.yaml share/dojosim/workloads/resnet50.csv \
         share/dojosim/kernels/include/dojo.h share/dojosim/kernels/runtime/dojo.ld \
         share/doc/dojosim/README.md; do
  [ -f "$prefix/$f" ] || { echo "install-check: $prefix/$f was not installed"; exit 1; }
done

cp -r "$src/tests/install/app" "$tmp/app"
cd "$tmp"  # outside the source and build trees from here on
kernels=ON
[ "$c_kernels" = ON ] || kernels=OFF  # without the RISC-V toolchain the kernel is not built
step "find_package(dojosim): configure and build tests/install/app"
cmake -S app -B app/build -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DDOJOSIM_C_KERNELS=$kernels >"$tmp/configure.log" \
  || { cat "$tmp/configure.log"; exit 1; }
cmake --build app/build -j2 >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
app/build/matmul_check | tee "$tmp/matmul.out"
expect "on 4x4 nodes: [0-9]+ cycles; 0 of 1920 elements differ from the reference" "$tmp/matmul.out"

if [ "$kernels" = ON ]; then
  step "a C kernel built with the installed SDK, run by the installed dojosim exec"
  "$prefix/bin/dojosim" exec app/build/sum.elf | tee "$tmp/exec.out"
  expect "^\[0,0 t0\] sum 1\.\.100 = 5050 on node \(0,0\)$" "$tmp/exec.out"
fi

step "pkg-config: the same program built with c++ \$(pkg-config --cflags --libs dojosim)"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046  # pkg-config's words are separate flags
c++ -std=c++17 -O1 -DTINY_CONFIG="\"$prefix/share/dojosim/configs/tiny.yaml\"" \
    app/matmul_check.cpp $(pkg-config --cflags --libs dojosim) -o matmul_check_pc
./matmul_check_pc | tee "$tmp/matmul_pc.out"
expect "0 of 1920 elements differ from the reference" "$tmp/matmul_pc.out"

step "dojosim run --config d1 by preset name, from $prefix/share/dojosim"
"$prefix/bin/dojosim" run --config d1 --workload matmul:M=64,N=64,K=64 | tee "$tmp/run.out"
expect "on $prefix/share/dojosim/configs/d1\.yaml \(18x20 mesh\)" "$tmp/run.out"
expect "bit-exact against the reference .*: ok \(0 of 4096 elements differ\)" "$tmp/run.out"

step "a name found nowhere: where the installed dojosim looked"
status=0
"$prefix/bin/dojosim" config show --config nosuch 2>"$tmp/err.out" || status=$?
cat "$tmp/err.out"
[ "$status" -eq 2 ] || { echo "install-check: exit status $status, expected 2"; exit 1; }
expect "^dojosim config show: --config nosuch: no such file; looked in nosuch, $prefix/share/dojosim/configs/nosuch\.yaml \(see" "$tmp/err.out"
echo "install-check: ok"
