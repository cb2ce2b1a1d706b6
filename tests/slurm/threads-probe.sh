#!/usr/bin/env bash
# Stands in for tessera in a job script (TESSERA=this file, TESSERA_PROBED=the tessera executable): prints how
# srun started this task for threads, on one line tagged with its rank (the OpenMP variables and the CPUs of
# its affinity mask), then runs tessera with the same arguments. Used by threads_per_task.sh.
# GNU nproc answers OMP_NUM_THREADS when it is set: unset, it counts the CPUs the task may run on.
cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
echo "threads-probe: task ${SLURM_PROCID:-none} OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}" \
  "OMP_PLACES=${OMP_PLACES:-unset} OMP_PROC_BIND=${OMP_PROC_BIND:-unset} cpus=$cpus"
exec "${TESSERA_PROBED:?threads-probe.sh: TESSERA_PROBED (the tessera executable) is not set}" "$@"
