#!/usr/bin/env bash
# Submits a batch job (or array) and waits for it to end: sbatch SBATCH_ARGS..., its output going to OUTPUT
# (an array task's to OUTPUT.<task>). Writes the job id to OUTPUT.jobid, prints the job's output and Slurm's
# record of it, and exits with the job's exit code (an array: the highest of its tasks'; 1 for a job that
# Slurm ended: cancelled, timed out), so that a test sees what the job script did.
# A requeued job is held by Slurm for 120 s (BeginTime) before it may start again; the test releases it at once
# (scontrol update StartTime=now) and says so: the wait is Slurm's policy, not something a test needs to see.
# Usage: submit.sh OUTPUT SBATCH_ARGS...      (run under tests/slurm/on-cluster.sh)
set -uo pipefail
output=${1:?usage: submit.sh OUTPUT SBATCH_ARGS...}
shift
mkdir -p "$(dirname "$output")"
rm -f "$output" "$output".*
out_pattern=$output
for arg in "$@"; do
  case "$arg" in
    --array=* | -a*) out_pattern=$output.%a ;;
  esac
done
job=$(sbatch --parsable --output="$out_pattern" "$@") || exit 1
job=${job%%;*}
echo "$job" >"$output.jobid"
echo "submit: job $job submitted"
# sbatch --wait would also do, but polls every 2-10 s; this polls every 0.5 s. Every record of the job (one per
# array task) must reach a final state.
final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)$'
while true; do
  records=$(scontrol -o show job "$job" 2>/dev/null) || {
    echo "submit: scontrol cannot find job $job" >&2
    exit 1
  }
  done=1
  while read -r record; do
    state=$(grep -o 'JobState=[A-Z_]*' <<<"$record" | cut -d= -f2)
    if [[ ! "$state" =~ $final ]]; then
      done=0
      if [ "$state" = PENDING ] && grep -q 'Reason=BeginTime' <<<"$record" &&
        ! grep -q 'Restarts=0 ' <<<"$record"; then
        id=$(grep -o 'JobId=[0-9]*' <<<"$record" | cut -d= -f2)
        echo "submit: job $id was requeued; releasing it from Slurm's 120 s requeue hold"
        scontrol update JobId="$id" StartTime=now
      fi
    fi
  done <<<"$records"
  [ "$done" -eq 1 ] && break
  sleep 0.5
done
rc=0
while read -r record; do
  state=$(grep -o 'JobState=[A-Z_]*' <<<"$record" | cut -d= -f2)
  code=$(grep -o ' ExitCode=[0-9]*:[0-9]*' <<<"$record" | cut -d= -f2)
  id=$(grep -o 'JobId=[0-9]*' <<<"$record" | cut -d= -f2)
  task=$(grep -o 'ArrayTaskId=[0-9]*' <<<"$record" | cut -d= -f2)
  restarts=$(grep -o 'Restarts=[0-9]*' <<<"$record" | cut -d= -f2)
  echo "=== job $id${task:+ (array task $task)}: $state, exit code ${code%%:*}, signal ${code##*:}, requeued $restarts times; output:"
  cat "$output${task:+.$task}" 2>/dev/null
  status=${code%%:*}
  [ "$state" != COMPLETED ] && [ "$state" != FAILED ] && status=1
  [ "${code##*:}" != 0 ] && status=1
  [ "$status" -gt "$rc" ] && rc=$status
done <<<"$records"
exit "$rc"
