#!/usr/bin/env bash
# Stops the cluster tests/slurm/slurm-up.sh started in DIR: cancels its jobs, stops slurmd, slurmctld and
# munged by their pid files (never by name: other checkouts may run their own), waits for them to exit.
# Usage: slurm-down.sh DIR
set -uo pipefail
dir=${1:?usage: slurm-down.sh DIR}
[ -d "$dir" ] || exit 0
# Jobs first (their processes belong to slurmstepd, which outlives slurmd), at most 20 s.
if [ -f "$dir/slurm.conf" ] && [ -f "$dir/run/slurmctld.pid" ]; then
  export SLURM_CONF=$dir/slurm.conf
  timeout 10 scancel --full --quiet --partition=test 2>/dev/null
  for _ in $(seq 40); do
    [ -z "$(timeout 5 squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
    sleep 0.5
  done
fi
stop() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 40); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null
}
stop "$dir/run/slurmd.pid"
stop "$dir/run/slurmctld.pid"
stop "$dir/run/munged.pid"
[ -f "$dir/run/socket-dir" ] && rm -rf "$(cat "$dir/run/socket-dir")" "$dir/run/socket-dir"
echo "slurm-down: stopped the cluster in $dir"
