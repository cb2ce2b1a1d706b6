#!/usr/bin/env bash
# Submits a batch job (or array) and waits for it to end: sbatch SBATCH_ARGS..., its output going to OUTPUT
# (an array task's to OUTPUT.<task>). Writes the job id to OUTPUT.jobid, prints the job's output and Slurm's
# record of it, and exits with the job's exit code (an array: the highest of its tasks'; 1 for a job that
# Slurm ended: cancelled, timed out), so that a test sees what the job script did. OUTPUT may hold %a (array task).
# A requeued job waits (BeginTime) for slurm.conf's cred_expire before it may start again: 8 s on the test
# cluster (tests/slurm/slurm-up.sh), 120 s by default.
#   --signal-after FILE SECONDS  once FILE exists (the job's program has started), wait SECONDS, then
#                                `scancel --signal=USR1` the job (every rank gets SIGUSR1), once
#   --requeues N                 the job must have been requeued exactly N times (else exit 1)
#   --wait-for JOB               submit nothing: wait for JOB, submitted before with its output to OUTPUT
# Usage: submit.sh [--signal-after FILE SECONDS] [--requeues N] [--wait-for JOB] OUTPUT [SBATCH_ARGS...]
#        (run under tests/slurm/on-cluster.sh)
set -uo pipefail
signal_file='' signal_delay=0 requeues='' job=''
while true; do
  case "${1:-}" in
    --wait-for)
      job=$2
      shift 2
      ;;
    --signal-after)
      signal_file=$2 signal_delay=$3
      shift 3
      ;;
    --requeues)
      requeues=$2
      shift 2
      ;;
    *) break ;;
  esac
done
output=${1:?usage: submit.sh [--signal-after FILE SECONDS] [--requeues N] OUTPUT SBATCH_ARGS...}
shift
if [ -z "$job" ]; then
  mkdir -p "$(dirname "$output")"
  rm -f "$output" "$output".*
  [ -n "$signal_file" ] && rm -f "$signal_file"
  out_pattern=$output
  for arg in "$@"; do
    case "$arg" in
      --array=* | -a*) [[ "$output" == *%a* ]] || out_pattern=$output.%a ;;
    esac
  done
  job=$(sbatch --parsable --output="$out_pattern" "$@") || exit 1
  job=${job%%;*}
  echo "$job" >"$output.jobid"
  echo "submit: job $job submitted"
fi
# sbatch --wait would also do, but polls every 2-10 s; this polls every 0.2 s. Every record of the job (one per
# array task) must reach a final state.
final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)$'
field() { grep -o " $1=[^ ]*" <<<" $2" | head -n 1 | cut -d= -f2; }
while true; do
  records=$(scontrol -o show job "$job" 2>/dev/null) || {
    echo "submit: scontrol cannot find job $job" >&2
    exit 1
  }
  done=1
  while read -r record; do
    state=$(field JobState "$record")
    if [[ ! "$state" =~ $final ]]; then
      done=0
      if [ -n "$signal_file" ] && [ "$state" = RUNNING ] && [ -e "$signal_file" ]; then
        sleep "$signal_delay"
        echo "submit: $signal_file exists; scancel --signal=USR1 $job after $signal_delay s"
        scancel --signal=USR1 "$job"
        signal_file=''
      fi
    fi
  done <<<"$records"
  [ "$done" -eq 1 ] && break
  sleep 0.2
done
rc=0
while read -r record; do
  state=$(field JobState "$record")
  code=$(field ExitCode "$record")
  id=$(field JobId "$record")
  task=$(field ArrayTaskId "$record")
  restarts=$(field Restarts "$record")
  echo "=== job $id${task:+ (array task $task)}: $state, exit code ${code%%:*}, signal ${code##*:}, requeued $restarts times; output:"
  if [[ "$output" == *%a* ]]; then
    cat "${output//%a/$task}" 2>/dev/null
  else
    cat "$output${task:+.$task}" 2>/dev/null
  fi
  status=${code%%:*}
  [ "$state" != COMPLETED ] && [ "$state" != FAILED ] && status=1
  [ "${code##*:}" != 0 ] && status=1
  if [ -n "$requeues" ] && [ "$restarts" != "$requeues" ]; then
    echo "submit: job $id was requeued $restarts times, expected $requeues" >&2
    status=1
  fi
  [ "$status" -gt "$rc" ] && rc=$status
done <<<"$records"
if [ -n "$signal_file" ]; then
  echo "submit: the job ended before $signal_file appeared: it was never signalled" >&2
  rc=1
fi
exit "$rc"
