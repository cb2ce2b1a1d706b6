#!/usr/bin/env bash
# A job script's threads per rank (docs/cluster.md, "Threads"): with `sbatch --ntasks=N --cpus-per-task=C`
# every rank must run on C CPUs of its own with OMP_NUM_THREADS=C, OMP_PLACES=cores, OMP_PROC_BIND=close, so
# that a threaded (OpenMP) build's C threads take one core each (a Serial build runs one thread whatever C
# is). Submits the job through submit.sh with threads-probe.sh standing in for tessera (TESSERA=the tessera
# executable, as for every Slurm test), then checks the N probe lines and the job's exit code.
# Usage: threads_per_task.sh OUTPUT N C JOB_SCRIPT [ARGS...]   (run under tests/slurm/on-cluster.sh)
set -uo pipefail
output=${1:?usage: threads_per_task.sh OUTPUT N C JOB_SCRIPT [ARGS...]} ntasks=${2:?} cpus=${3:?}
shift 3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
probed=${TESSERA:?threads_per_task.sh: TESSERA (the tessera executable) is not set}
TESSERA_PROBED=$probed TESSERA=$here/threads-probe.sh "$here/submit.sh" "$output" --ntasks="$ntasks" \
  --cpus-per-task="$cpus" --time=5 "$@"
status=$?
[ "$status" -eq 0 ] || {
  echo "threads_per_task: the job failed (exit $status)" >&2
  exit 1
}
expected="OMP_NUM_THREADS=$cpus OMP_PLACES=cores OMP_PROC_BIND=close cpus=$cpus"
failed=0
for ((task = 0; task < ntasks; ++task)); do
  line=$(grep -m 1 "^threads-probe: task $task " "$output")
  if [ "${line#"threads-probe: task $task "}" != "$expected" ]; then
    echo "threads_per_task: task $task started with '${line:-no probe line}', expected '$expected'" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] && echo "threads_per_task: $ntasks task(s), each $expected"
exit "$failed"
