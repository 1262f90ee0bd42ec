#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The simulator against the host's own BLAS, in the same run on the same machine: host seconds
# of a bf16 matmul on D1 (values on, and timing only), the same for an older build if
# DOJOSIM_OLD is given, and numpy's sgemm on Debian's OpenBLAS (libopenblas0-pthread, one
# thread) for the same FLOP; the simulator's rate is printed as a fraction of the BLAS rate.
# Then the interpreter's mma-loop and scalar-loop rates (bench_interp), old beside new.
# Host seconds are CPU seconds (user + system) of the one process: on a shared machine they
# compare two builds fairly where wall-clock seconds do not. An old build without timing-only
# mode (before issue 15) prints - for it.
# usage: bench/host_blas.sh [SIZE...]   (default 1024 2048: SIZE^3 matmuls)
#   DOJOSIM=path/to/dojosim (default build/tools/dojosim), DOJOSIM_OLD=path/to/old/dojosim,
#   BENCH_INTERP=path/to/bench_interp (default beside DOJOSIM), BENCH_INTERP_OLD=...
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${DOJOSIM:-build/tools/dojosim}
old=${DOJOSIM_OLD:-}
interp=${BENCH_INTERP:-$(dirname "$bin")/../bench/bench_interp}
interp_old=${BENCH_INTERP_OLD:-}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1024 2048)

seconds() {  # CPU seconds (user + system) of one command, its output discarded
  local times
  times=$(mktemp)
  /usr/bin/time -o "$times" -f '%U %S' "$@" >/dev/null
  python3 -c "u, s = open('$times').read().split()[-2:]; print(f'{float(u) + float(s):.2f}')"
  rm -f "$times"
}
has_values() {  # BINARY: whether it has timing-only mode (--values)
  "$1" run --help 2>&1 | grep -q -- '--values'
}
sim() {  # BINARY SIZE VALUES (a build without --values runs with values, as it always did)
  local values=(--values "$3")
  has_values "$1" || values=()
  seconds "$1" run --config configs/d1.yaml "${values[@]}" \
    --workload "matmul:M=$2,N=$2,K=$2,dtype=bf16,check=off"
}

speedup() {  # OLD NEW: OLD / NEW, or - without an old build
  if [ "$1" = - ]; then echo -; else python3 -c "print(f'{$1 / $2:.2f}')"; fi
}

# numpy's sgemm, one thread, best of 3 after a warm-up; prints CPU seconds and the BLAS library.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
blas() {
  /usr/bin/python3 - "$1" <<'EOF'
import sys, time
import numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(1)
a = rng.random((n, n), dtype=np.float32)
b = rng.random((n, n), dtype=np.float32)
a @ b
best = min((lambda t: (a @ b, time.process_time() - t)[1])(time.process_time()) for _ in range(3))
lib = next((l.split()[-1] for l in open("/proc/self/maps") if "libblas" in l or "libopenblas" in l), "?")
print(f"{best:.4f} {lib}")
EOF
}

echo "bf16 matmul on configs/d1.yaml (check=off), host CPU seconds; BLAS: numpy sgemm, 1 thread"
printf '%-6s %10s %10s %10s %10s %10s %12s %12s %12s %12s\n' size sim_on sim_off old_on old_off \
  blas "blas/sim_on" "blas/sim_off" "old_on/on" "old_on/off"
for n in "${sizes[@]}"; do
  on=$(sim "$bin" "$n" on)
  off=$(sim "$bin" "$n" off)
  old_on=- old_off=-
  if [ -n "$old" ]; then
    old_on=$(sim "$old" "$n" on)
    if has_values "$old"; then old_off=$(sim "$old" "$n" off); fi
  fi
  read -r blas_s lib < <(blas "$n")
  printf '%-6s %10s %10s %10s %10s %10s %12s %12s %12s %12s\n' "$n" "$on" "$off" "$old_on" \
    "$old_off" "$blas_s" "$(python3 -c "print(f'{$blas_s / $on:.4f}')")" \
    "$(python3 -c "print(f'{$blas_s / $off:.4f}')")" "$(speedup "$old_on" "$on")" \
    "$(speedup "$old_on" "$off")"
done
echo "BLAS library: $lib"

echo
echo "interpreter rates (bench_interp, MIPS, best of 3)"
for b in "$interp" $interp_old; do
  echo "$b:"
  "$b" --only _loop_ | grep -E '^(scalar|mma)_loop '
done
