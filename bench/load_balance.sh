#!/usr/bin/env bash
# Load balance of `tessera run` with equal rank boxes and with parallel.balance: cells (docs/performance.md,
# "Load balance"): the 1 500-cell ball at the centre of inputs/spheroid_3d.yaml's 300 um box, on each rank
# count given, with equal boxes, with boxes cut once at the start and, when EVERY > 0, also re-cut every EVERY
# steps (parallel.balance_every); prints each run's cuts, load line (cell-steps max/mean: how many times an
# even split's cell work the busiest rank did) and wall seconds. More ranks than cores oversubscribe, so
# compare the load lines, not the wall times, unless each rank has a core.
#
#   [END=10] [EVERY=0] bench/load_balance.sh [BUILD_DIR [OUT_DIR [RANKS...]]]
#       END: time.end in minutes (default 10: the first 5 steps of 2 min); defaults build, runs/load_balance,
#       ranks 8 16 27
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
out="${2:-runs/load_balance}"
shift $(($# < 2 ? $# : 2))
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(8 16 27)
end="${END:-10}"
every="${EVERY:-0}"
modes=(none cells)
[ "$every" -gt 0 ] && modes+=(every)
source "$root/tools/mpi-env.sh"
export OMP_WAIT_POLICY=passive
mkdir -p "$out"
for n in "${ranks[@]}"; do
  for mode in "${modes[@]}"; do
    case "$mode" in
      none) keys=(-s parallel.balance=none) ;;
      cells) keys=(-s parallel.balance=cells) ;;
      every) keys=(-s parallel.balance=cells -s parallel.balance_every="$every") ;;
    esac
    dir="$out/np${n}_$mode"
    start=$(date +%s.%N)
    mpirun -np "$n" --oversubscribe "$build/bin/tessera" run "$root/inputs/spheroid_3d.yaml" -o "$dir" --overwrite -q \
      -s time.end="$end" "${keys[@]}"
    end_s=$(date +%s.%N)
    echo "== $n ranks, ${keys[*]}, time.end $end min, wall $(echo "$end_s - $start" | bc) s"
    grep -h "rank(s) (\|balanced over\|load over" "$dir/tessera.log" | sed 's/^/   /'
  done
done
