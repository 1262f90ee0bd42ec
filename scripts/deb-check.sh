#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian package, checks its Depends against the shared libraries dojosim loads,
# installs it with apt-get, and uses it as a user would (docs/install.md): tests/install/app
# built against /usr with find_package(dojosim) (a matmul checked against the reference, a C
# kernel run by /usr/bin/dojosim exec), and `dojosim run --config d1` by preset name.
# It needs root (or sudo) and changes the system: it installs the package and the packages it
# depends on, and removes the package at the end unless --keep is given. Not a CTest for that
# reason. usage: scripts/deb-check.sh [--keep] [BUILD_DIR (default build)]
set -euo pipefail
keep=0
if [ "${1:-}" = "--keep" ]; then keep=1; shift; fi
cd "$(dirname "$0")/.."
src=$PWD
build=$(cd "${1:-build}" && pwd)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
tmp=$(mktemp -d /tmp/dojosim-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb-check: $*"; exit 1; }
step() { echo "== $*"; }

step "build and package ($build)"
cmake --build "$build" -j2 --target dojosim >/dev/null
rm -f "$build"/package/dojosim_*.deb
(cd "$build" && cpack -G DEB >"$tmp/cpack.log") || { cat "$tmp/cpack.log"; exit 1; }
deb=$(ls "$build"/package/dojosim_*.deb)
echo "$deb"
dpkg-deb -f "$deb" Package Version Architecture Depends Recommends Installed-Size

step "Depends covers every shared library /usr/bin/dojosim loads"
dpkg-deb -x "$deb" "$tmp/root"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in $(ldd "$tmp/root/usr/bin/dojosim" | awk '$3 ~ /^\// { print $3 }'); do
  # usrmerge: ldd may say /lib/..., dpkg knows one of /lib/... and /usr/lib/...
  pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || true)
  pkg=${pkg%%:*}
  [ -n "$pkg" ] || fail "no Debian package owns $lib"
  printf '  %-55s %s\n' "$lib" "$pkg"
  [[ ", $depends," == *", $pkg"[,\ ]* ]] || fail "$lib comes from $pkg, which Depends lacks"
done

step "apt-get install $deb"
$sudo apt-get install -y -qq "$deb" >"$tmp/apt.log" || { cat "$tmp/apt.log"; exit 1; }
dpkg -s dojosim | grep -E '^(Status|Version):'
[ "$(command -v dojosim)" = /usr/bin/dojosim ] || fail "dojosim is not /usr/bin/dojosim"

cp -r "$src/tests/install/app" "$tmp/app"
cd "$tmp"
step "find_package(dojosim) against /usr: build tests/install/app"
cmake -S app -B app/build -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" \
  || { cat "$tmp/configure.log"; exit 1; }
grep -E "C kernels:" "$tmp/configure.log" || true
cmake --build app/build -j2 >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
app/build/matmul_check | tee matmul.out
grep -q "0 of 1920 elements differ from the reference" matmul.out || fail "matmul_check"
dojosim exec app/build/sum.elf | tee exec.out
grep -q "sum 1..100 = 5050" exec.out || fail "sum.elf"

step "dojosim run --config d1 by preset name"
dojosim run --config d1 --workload matmul:M=64,N=64,K=64 | tee run.out
grep -q "on /usr/share/dojosim/configs/d1.yaml (18x20 mesh)" run.out || fail "not the installed d1"
grep -q "bit-exact against the reference .*: ok" run.out || fail "dojosim run"

if [ "$keep" -eq 0 ]; then
  step "apt-get remove dojosim (--keep leaves it installed)"
  $sudo apt-get remove -y -qq dojosim >/dev/null
fi
echo "deb-check: ok"
