#!/usr/bin/env bash
# Runs COMMAND... as a client of the test cluster in DIR (tests/slurm/slurm-up.sh): SLURM_CONF set, tools/
# mpi-env.sh sourced. Where the cluster did not start it prints slurm-up's reason and exits 77, which ctest
# reports as skipped.
# Usage: on-cluster.sh DIR COMMAND...
set -uo pipefail
dir=${1:?usage: on-cluster.sh DIR COMMAND...}
shift
if [ ! -f "$dir/env" ]; then
  reason="the test cluster is not running"
  [ -f "$dir/skipped" ] && reason=$(cat "$dir/skipped")
  echo "SKIP: no Slurm: $reason" >&2
  exit 77
fi
source "$dir/env"
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tools/mpi-env.sh"
exec "$@"
