#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Slurm for real (docs/slurm.md): a single-node cluster on this machine (munged, slurmctld and
# slurmd from Debian's slurm-wlm and munge, with a config written here), `sbatch --array=0-2`
# of scripts/slurm-sweep.sbatch, the merge as a dependent job, and the merged results equal to
# one unsharded run; then `srun --mpi=pmix -n 2` of one simulation over 2 MPI ranks, with the
# results of one process (when dojosim has MPI ranks). Where the daemons cannot start (no packages, no root, a sandbox that
# forbids them) it says why and exits 77: CTest reports the test as skipped, not passed.
source "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../../.." && pwd)
spec=$specs/shard.yaml

skip() {
  echo "SKIP: real Slurm: $*"
  exit 77
}
for tool in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$tool" > /dev/null || skip "$tool not found (scripts/setup.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" -eq 0 ] || skip "the daemons need root here (run the suite as root, as CI does)"

# Everything lives in the work folder: config, state, sockets, logs; ports away from the defaults.
run=$work/slurm
mkdir -p "$run/state" "$run/spool" "$run/log" "$run/munge"
chmod 700 "$run/munge"
dd if=/dev/urandom of="$run/munge/key" bs=1024 count=1 status=none
chmod 400 "$run/munge/key"
host=$(hostname -s)
cpus=$(nproc)
port=$((17000 + RANDOM % 2000))
cat > "$run/slurm.conf" <<CONF
ClusterName=dojosim-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$run/munge/socket
CredType=cred/munge
StateSaveLocation=$run/state
SlurmdSpoolDir=$run/spool
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$run/log/slurmctld.log
SlurmdLogFile=$run/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$run/slurm.conf

cleanup() {
  for pid in slurmd slurmctld munged; do
    [ -f "$run/$pid.pid" ] && kill "$(cat "$run/$pid.pid")" 2> /dev/null || true
  done
}
trap cleanup EXIT
munged --force --key-file="$run/munge/key" --socket="$run/munge/socket" \
  --pid-file="$run/munged.pid" --log-file="$run/log/munged.log" --seed-file="$run/munge/seed" \
  2> "$run/log/munged.err" || skip "munged did not start: $(tail -n 1 "$run/log/munged.err")"
slurmctld -c -f "$SLURM_CONF" 2> "$run/log/slurmctld.err" ||
  skip "slurmctld did not start: $(tail -n 1 "$run/log/slurmctld.err")"
slurmd -f "$SLURM_CONF" 2> "$run/log/slurmd.err" ||
  skip "slurmd did not start: $(tail -n 1 "$run/log/slurmd.err")"
for _ in $(seq 60); do
  state=$(sinfo -h -N -o %t 2> /dev/null | head -n 1 || true)
  [ "$state" = "idle" ] && break
  sleep 0.5
done
[ "$state" = "idle" ] || skip "the node did not come up (state '${state:-none}'): $(tail -n 2 "$run/log/slurmd.log" 2> /dev/null | tr '\n' ' ')"
echo "slurm: slurmctld and slurmd up, node $host idle with $cpus CPUs"

# The sweep as docs/slurm.md submits it: three shards, then the merge after all of them.
cd "$work"
jid=$(DOJOSIM="$bin" sbatch --parsable --array=0-2 --cpus-per-task=1 --mem-per-cpu=0 \
  --time=10 --output="$work/slurm-%A_%a.out" "$root/scripts/slurm-sweep.sbatch" "$spec" "$work/out")
merge=$(sbatch --parsable --dependency=afterany:"$jid" --output="$work/merge.out" \
  --wrap "'$bin' sweep merge '$work/out/all' '$work/out'/shard-*")
for _ in $(seq 240); do
  [ -z "$(squeue -h -j "$jid,$merge" 2> /dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -j "$jid,$merge")" ] || fail "jobs still queued after 120 s: $(squeue -h)"
for task in 0 1 2; do
  [ -f "$work/out/shard-$task/results.jsonl" ] ||
    fail "array task $task wrote no results: $(cat "$work"/slurm-"$jid"_$task.out 2> /dev/null)"
done
[ -f "$work/out/all/results.csv" ] || fail "the merge job wrote no results: $(cat "$work/merge.out")"
echo "slurm: array job $jid ran 3 shards, job $merge merged them"
expect_status 0 "$bin" sweep "$spec" -o "$work/reference" > /dev/null
diff <(without_wall "$work/reference/results.csv") <(without_wall "$work/out/all/results.csv") > /dev/null ||
  fail "merged shards differ from one unsharded run"
echo "ok: merged results equal one unsharded run"

# One simulation over 2 MPI ranks started by srun (docs/slurm.md, docs/parallel.md "MPI ranks"):
# the report and statistics of one process.
if ldd "$bin" | grep libmpi > /dev/null; then  # not -q: ldd must not see a broken pipe
  program=$root/tests/cli/data/ranks_mix.s
  expect_status 0 "$bin" run --config "$root/configs/tiny.yaml" --program "$program" \
    --json "$work/one.json" > "$work/one.out"
  # OpenMPI's own allocations are not ours to check under AddressSanitizer.
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    srun --mpi=pmix -n 2 --mem-per-cpu=0 --time=5 "$bin" run --config "$root/configs/tiny.yaml" \
    --program "$program" --json "$work/srun.json" > "$work/srun.out" 2> "$work/srun.err" ||
    fail "srun --mpi=pmix -n 2 failed: $(tail -n 3 "$work/srun.err" | tr '\n' ' ')"
  cmp -s "$work/one.out" "$work/srun.out" && cmp -s "$work/one.json" "$work/srun.json" ||
    fail "srun -n 2 gave other results than one process"
  echo "ok: srun -n 2 (2 MPI ranks) gives one process's report and statistics"
else
  echo "slurm: this dojosim was built without MPI ranks: srun -n 2 not run"
fi
