#!/usr/bin/env bash
# A whole sweep on Slurm from the login node: plans SWEEP into DIR, submits one array task per member
# (jobs/slurm/sweep-array.sbatch) and a collection job that starts when every task has ended
# (`tessera sweep collect DIR`: DIR/sweep.csv, sweep.h5 and plots). Prints the two job ids.
#   jobs/slurm/sweep.sh SWEEP DIR [-s key=value ...] [sbatch options for each member, e.g. --ntasks=2 --time=30]
# -s/--set overrides a deck key in every member (as for tessera sweep plan); everything else goes to sbatch
# (its own -s is --oversubscribe).
# Job outputs: DIR/slurm/member-<k>.out and DIR/slurm/collect.out. Run it again after a failure: members
# that finished are skipped. --array=%N (only the limit) caps the members running at once.
# Environment: TESSERA, TESSERA_MODULES, TESSERA_SRUN_MPI as in jobs/slurm/run.sbatch (TESSERA here is also the
# tessera that plans, on this node).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: jobs/slurm/sweep.sh SWEEP DIR [sbatch options for each member]" >&2
  exit 2
fi
sweep=$1 dir=$2
shift 2
jobs=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tessera=${TESSERA:-$(command -v tessera || echo "$PWD/build/bin/tessera")}
export TESSERA=$tessera

limit=''
options=()
plan=()
while [ $# -gt 0 ]; do
  case "$1" in
    -s | --set)
      plan+=(-s "$2")
      shift
      ;;
    --set=*) plan+=(-s "${1#--set=}") ;;
    --array=%*) limit=${1#--array=} ;;
    --array=* | -a*)
      echo "sweep.sh: the array is one task per member; give only a limit (--array=%10)" >&2
      exit 2
      ;;
    *) options+=("$1") ;;
  esac
  shift
done

if [ -f "$dir/members.csv" ]; then
  # Planned before (a sweep run again after a failure): the members that finished are skipped.
  if [ ${#plan[@]} -gt 0 ]; then
    echo "sweep.sh: $dir was planned before; -s applies when planning (remove $dir to plan again)" >&2
    exit 2
  fi
  echo "sweep.sh: continuing the sweep planned in $dir"
else
  "$tessera" sweep plan "$sweep" -o "$dir" "${plan[@]}"
fi
members=$(($(wc -l <"$dir/members.csv") - 1))
if [ "$members" -lt 1 ]; then
  echo "sweep.sh: $dir/members.csv lists no members" >&2
  exit 1
fi
mkdir -p "$dir/slurm"
array=$(sbatch --parsable --array="0-$((members - 1))$limit" --output="$dir/slurm/member-%a.out" \
  "${options[@]}" "$jobs/sweep-array.sbatch" "$dir")
array=${array%%;*}
collect=$(sbatch --parsable --dependency="afterany:$array" --ntasks=1 --time=30 --job-name=tessera-collect \
  --output="$dir/slurm/collect.out" --wrap="\"$tessera\" sweep collect \"$dir\"")
collect=${collect%%;*}
echo "sweep.sh: $members members of $dir: array job $array, collection job $collect (after the array)"
echo "$array $collect"
