#!/usr/bin/env bash
# Starts a private one-node Slurm cluster for the tests: munged, slurmctld and slurmd as root, every file
# (slurm.conf, munge key, sockets, state, logs) under DIR, ports picked free so that several checkouts can test
# at once. Waits until the node is idle and a trivial job runs.
# Exit 0: up, DIR/env sets SLURM_CONF for the clients (sbatch, srun, scontrol). Exit 77: Slurm cannot start
# here; the reason is printed and kept in DIR/skipped, and every test on this cluster skips with it
# (tests/slurm/on-cluster.sh) rather than pass.
# Usage: slurm-up.sh DIR        (slurm-down.sh DIR stops it)
set -uo pipefail
dir=${1:?usage: slurm-up.sh DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip() {
  echo "slurm-up: SKIP: $*" >&2
  for log in "$dir"/log/*.log; do
    [ -s "$log" ] && { echo "--- last lines of $log:" >&2; tail -n 20 "$log" >&2; }
  done
  "$here/slurm-down.sh" "$dir" >/dev/null 2>&1
  rm -f "$dir/env"
  echo "$*" >"$dir/skipped"
  exit 77
}
# A cluster left behind by an interrupted test run in DIR is stopped first; then DIR starts empty.
if [ -d "$dir" ] && [ ! -f "$dir/.tessera-test-cluster" ] && [ -n "$(ls -A "$dir")" ]; then
  echo "slurm-up: $dir holds files that are not a test cluster's; leaving it alone" >&2
  exit 1
fi
"$here/slurm-down.sh" "$dir" >/dev/null 2>&1
rm -rf "$dir"
mkdir -p "$dir" && touch "$dir/.tessera-test-cluster" || { echo "slurm-up: cannot create $dir" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "the daemons need root (slurmd launches jobs as their user); run the tests as root"
for program in munged mungekey slurmctld slurmd sbatch srun sinfo scontrol; do
  command -v "$program" >/dev/null || skip "$program not found: install Debian's slurm-wlm and munge (tools/install-deps.sh)"
done
dir=$(cd "$dir" && pwd)
mkdir -p "$dir"/{munge,state,spool,log,run,tmp}
chmod 700 "$dir" "$dir/munge"
# A Unix socket path holds at most 107 bytes; a deep build folder gets its munge socket under /tmp instead.
socket_dir=$dir/munge
if [ ${#socket_dir} -gt 80 ]; then
  socket_dir=$(mktemp -d /tmp/tessera-munge.XXXXXX) || skip "cannot create a folder for munge's socket"
  echo "$socket_dir" >"$dir/run/socket-dir"
fi
socket=$socket_dir/munge.socket

# Two free TCP ports on the loopback interface for slurmctld and slurmd.
read -r ctld_port slurmd_port < <(/usr/bin/python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
) || skip "cannot find free TCP ports"

mungekey --create --keyfile="$dir/munge/munge.key" || skip "mungekey cannot create a key"
chmod 400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" ||
  skip "munged did not start"

# GNU nproc answers OMP_NUM_THREADS when it is set: at OMP_NUM_THREADS=1 the node had 1 CPU and every 2-task
# job waited forever for a second node (reason PartitionConfig).
cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
memory=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
cat >"$dir/slurm.conf" <<CONF
# One node on the loopback interface, written by tests/slurm/slurm-up.sh.
ClusterName=tessera$ctld_port
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (slurmd refuses the revoked
# credential of its previous start until then): 120 s by default, 8 s here.
AuthInfo=socket=$socket,cred_expire=8
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
# The PMIx plugin's per-step folders go under TmpFS, named by job id: another checkout's cluster counts job
# ids from 1 as well.
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# Containers have no usable cgroups: track job processes through /proc, bind with sched_setaffinity.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Open MPI 4.1 on Debian is built against PMIx 4; srun starts its ranks through Slurm's PMIx plugin.
MpiDefault=pmix
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
# Pending jobs (a requeued one whose wait is over, one whose dependency ended) start within a second, not at
# the next 30-60 s pass.
SchedulerParameters=sched_interval=1,bf_interval=1
# Finished jobs stay visible to scontrol for a while; the tests read their exit codes there.
MinJobAge=600
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
cat >"$dir/env" <<ENV
export SLURM_CONF=$dir/slurm.conf
ENV
export SLURM_CONF=$dir/slurm.conf

slurmctld -i || skip "slurmctld did not start"
slurmd -N localhost || skip "slurmd did not start"

# The node registers within seconds; 30 s is generous even on a loaded 2-core machine.
for _ in $(seq 60); do
  state=$(sinfo -h -N -o %t 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || skip "the node did not become idle within 30 s (state '$state')"
out=$(timeout 30 srun -n1 -t1 --mpi=none true 2>&1) || skip "a trivial srun failed: $out"
echo "slurm-up: one-node Slurm running in $dir (slurmctld port $ctld_port, slurmd port $slurmd_port, $cpus CPUs)"
