#!/usr/bin/env bash
# jobs/slurm/sweep.sh end to end: plans the sweep, submits its array and its collection job, then waits for
# both (tests/slurm/submit.sh --wait-for) and exits non-zero unless every array task and the collection
# finished with exit 0.
# Usage: sweep_chain.sh SWEEP DIR [sweep.sh options]      (run under tests/slurm/on-cluster.sh)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${2:?usage: sweep_chain.sh SWEEP DIR [sweep.sh options]}
rm -rf "$dir"
out=$("$here/../../jobs/slurm/sweep.sh" "$@") || {
  echo "$out"
  echo "sweep_chain: jobs/slurm/sweep.sh failed" >&2
  exit 1
}
echo "$out"
read -r array collect < <(tail -n 1 <<<"$out")
"$here/submit.sh" --wait-for "$array" "$dir/slurm/member-%a.out" || exit 1
"$here/submit.sh" --wait-for "$collect" "$dir/slurm/collect.out"
