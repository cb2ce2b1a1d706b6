#!/usr/bin/env bash
# Load balance of `tessera run` with equal rank boxes and with parallel.balance: cells (docs/performance.md,
# "Load balance"): the 1 500-cell ball at the centre of inputs/spheroid_3d.yaml's 300 um box, its first 5
# steps, on each rank count given, both ways; prints each run's cuts, load line (cell-steps max/mean: how many
# times an even split's cell work the busiest rank did) and wall seconds. More ranks than cores oversubscribe,
# so compare the load lines, not the wall times, unless each rank has a core.
#
#   bench/load_balance.sh [BUILD_DIR [OUT_DIR [RANKS...]]]      (default build, runs/load_balance, 8 16 27)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
out="${2:-runs/load_balance}"
shift $(($# < 2 ? $# : 2))
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(8 16 27)
source "$root/tools/mpi-env.sh"
export OMP_WAIT_POLICY=passive
mkdir -p "$out"
for n in "${ranks[@]}"; do
  for balance in none cells; do
    dir="$out/np${n}_$balance"
    start=$(date +%s.%N)
    mpirun -np "$n" --oversubscribe "$build/bin/tessera" run "$root/inputs/spheroid_3d.yaml" -o "$dir" --overwrite -q \
      -s time.end=10 -s parallel.balance="$balance"
    end=$(date +%s.%N)
    echo "== $n ranks, parallel.balance: $balance, wall $(echo "$end - $start" | bc) s"
    grep -h "rank(s) (\|balanced over\|load over" "$dir/tessera.log" | sed 's/^/   /'
  done
done
