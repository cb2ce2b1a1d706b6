#!/usr/bin/env bash
# Seconds per training iteration through the real CLI: `mpirun -np RANKS tessera train` on the dataset of
# bench/bench_train.cpp (100 cells x 100 genes x 3 types, 12 observations 1 min apart, 5 prior regulators per
# gene and type, 4 LR pairs), written by `tessera_bench_train --write-dataset`, with the STAGED reference
# architecture (GAT, K = 1, H = M = 64, L = 3, shared), one_step, rk4 with one step per observation interval
# (train.dt = 1 min), 10 of the 11 start times per iteration, no validation (train.val_fraction 0), AdamW.
#   bench/train_cli.sh [RANKS=2] [ITERATIONS=30] [BUILD=build] [extra tessera train args, e.g. -s key=value]
# e.g. the mixed precision: bench/train_cli.sh 2 30 build -s grn.graph_ode.precision=mixed
# Prints s/iteration from loss.csv's wall_s (the optimisation loop only: the dataset, the model, the baselines
# and the outputs after the loop are not in it), over iterations 3 .. ITERATIONS (the first two warm up the
# allocations), and the machine's load average, since other processes on the cores inflate wall time.
set -euo pipefail
ranks=${1:-2}
iterations=${2:-30}
build=${3:-build}
shift $(($# < 3 ? $# : 3))
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
source tools/mpi-env.sh
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
work=$(mktemp -d "${TMPDIR:-/tmp}/tessera_train_cli.XXXXXX")
[ -n "${KEEP:-}" ] && echo "keeping $work" >&2 || trap 'rm -rf "$work"' EXIT

"$here/bench/train_cli_deck.sh" "$build/bin/tessera_bench_train" "$work" "$iterations"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
mpirun -np "$ranks" "$build/bin/tessera" -q train "$work/train_cli.yaml" -o "$work/run" "$@"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/python3 - "$work/run/loss.csv" "$ranks" "$load_before" "$load_after" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
wall = [float(r["wall_s"]) for r in rows]
skip = 2
if len(wall) <= skip:
    sys.exit("train_cli.sh: need more than %d iterations" % skip)
per = (wall[-1] - wall[skip - 1]) / (len(wall) - skip)
steps = [b - a for a, b in zip(wall[skip - 1:], wall[skip:])]
print("tessera train, %s ranks, 100 x 100 x 3, iterations %d..%d: %.4f s/iteration (mean), %.4f (fastest); "
      "load average %s before, %s after" % (sys.argv[2], skip + 1, len(wall), per, min(steps), sys.argv[3],
                                            sys.argv[4]))
EOF
