#!/usr/bin/env bash
# Ranks x threads on the same work (issue 11): the three benchmarks at 2 ranks x 1 thread and at 1 rank x 2
# threads, against a threaded (OpenMP) Kokkos build, and one table of how fast 1 x 2 is relative to 2 x 1
# (target: >= 85 %). Same global problem in both layouts:
#   tissue  tessera_bench_tissue, the full quickstart-physics step (mechanics, hill GRN with signalling, rk4
#           4 substeps, division/death), 2-D, G = 8: 2 x CELLS cells on 1 rank, CELLS per rank on 2 ranks;
#           figure: step_s (wall per step, slowest rank).
#   grn     tessera_bench_grn, the hill GRN alone (rk4, 10 substeps per step), 2 x CELLS cells in all, G = 8;
#           figure: wall per step = ns/cell (printed per rank) x cells per rank.
#   train   tessera_bench_train, one graph_ode training iteration (100 cells x 100 genes x 3 types, GAT
#           reference architecture, 10 starts, rk4 adjoint, AdamW); figure: the iteration's wall, best of 5.
# and one line of memory per cell, threads against none: tessera_bench_tissue's bytes/cell (growth of the
# peak resident set over set-up and 3 steps, per cell) on 1 rank with 1 000 000 cells, G = 8, on the Serial
# build SERIAL and on BUILD at 2 threads (the issue: memory per cell unchanged by threads).
#   bench/hybrid.sh [BUILD=build-omp] [CELLS=50000] [SERIAL=build]
# Each layout gets the machine's cores without binding (mpirun --bind-to none, OMP_PROC_BIND=false: Open MPI
# would otherwise bind a lone rank to one core, its 2 threads with it). OMP_WAIT_POLICY defaults to active
# (every thread has a core on an idle 2-core machine); set OMP_WAIT_POLICY=passive on a loaded machine.
# OpenBLAS stays at one thread. About 2 minutes on an idle 2-core machine (34 s of CPU time in all,
# measured under load).
set -euo pipefail
build=${1:-build-omp}
cells=${2:-50000}
serial=${3:-build}
memory_cells=1000000
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
source tools/mpi-env.sh
export OPENBLAS_NUM_THREADS=1 OMP_PROC_BIND=false OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-active}
if ! "$build/bin/tessera" info | grep -q "default execution space \(OpenMP\|Threads\)"; then
  echo "hybrid.sh: $build is not built against a threaded Kokkos ('tessera info' names the default" \
    "execution space); configure one with Kokkos_ROOT=<OpenMP install> (docs/performance.md, 'Threads')" >&2
  exit 2
fi
if ! "$serial/bin/tessera" info 2>/dev/null | grep -q "default execution space Serial"; then
  echo "hybrid.sh: $serial/bin/tessera is not a Serial Kokkos build, which the memory-per-cell line compares" \
    "with (the third argument, default 'build': cmake --preset default against Debian's Kokkos)" >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tessera_hybrid.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run LAYOUT RANKS THREADS NAME ARGS...: one benchmark in one layout, its output kept in $work/NAME.LAYOUT.
run() {
  local layout=$1 ranks=$2 threads=$3 name=$4
  shift 4
  (cd "$work" && OMP_NUM_THREADS=$threads mpirun -np "$ranks" --bind-to none "$here/$build/bin/$name" "$@" \
    >"$work/$name.$layout" 2>"$work/$name.$layout.err") || {
    echo "hybrid.sh: $name at $layout failed:" >&2
    cat "$work/$name.$layout.err" >&2
    exit 1
  }
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for layout in 2x1 1x2; do
  ranks=${layout%x*} threads=${layout#*x}
  run "$layout" "$ranks" "$threads" tessera_bench_tissue --cells-per-rank $((2 * cells / ranks)) --genes 8 \
    --steps 5
  run "$layout" "$ranks" "$threads" tessera_bench_grn --cells $((2 * cells)) --genes 8 --steps 3 \
    --integrators rk4
  run "$layout" "$ranks" "$threads" tessera_bench_train --cells 100 --genes 100 --families "" --iterations 5 \
    --repeat 1
done
# Memory per cell: the same run on 1 rank, Serial and 2 threads (2 steps of warm-up and 1 measured step).
for layout in serial omp; do
  dir=$build threads=2
  [ "$layout" = serial ] && dir=$serial threads=1
  (cd "$work" && OMP_NUM_THREADS=$threads mpirun -np 1 --bind-to none "$here/$dir/bin/tessera_bench_tissue" \
    --cells-per-rank "$memory_cells" --genes 8 --steps 1 >"$work/memory.$layout" 2>"$work/memory.$layout.err") || {
    echo "hybrid.sh: tessera_bench_tissue of $dir ($memory_cells cells) failed:" >&2
    cat "$work/memory.$layout.err" >&2
    exit 1
  }
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

/usr/bin/python3 - "$work" "$cells" "$load_before" "$load_after" "$OMP_WAIT_POLICY" "$memory_cells" "$serial" \
  "$build" <<'EOF'
import re, sys
work, cells = sys.argv[1], int(sys.argv[2])

def rows(name, layout):
    return [l.split() for l in open(f"{work}/{name}.{layout}") if l.strip() and not l.startswith("#")]

def tissue(layout):  # columns: cells/rk G migrate halo neighb mechanics grn lifecycle total step_s ...
    return float(rows("tessera_bench_tissue", layout)[-1][9])

def grn(layout):  # columns: cells G hill_rhs/eval rk4/step ...; ns per cell per rank -> s per step
    ranks = int(layout[0])
    return float(rows("tessera_bench_grn", layout)[-1][3]) * 1e-9 * (2 * cells / ranks)

def train(layout):
    text = open(f"{work}/tessera_bench_train.{layout}").read()
    return float(re.search(r"iteration \(\d+ starts, best of \d+\): ([0-9.]+) s wall", text).group(1))

print(f"# bench/hybrid.sh: 2 x 1 = 2 ranks x 1 thread, 1 x 2 = 1 rank x 2 threads, same global problem; "
      f"OMP_WAIT_POLICY={sys.argv[5]}")
print(f"# load average {sys.argv[3]} before, {sys.argv[4]} after")
print("| benchmark | figure | 2 x 1 | 1 x 2 | 1 x 2 speed / 2 x 1 |")
print("|---|---|---:|---:|---:|")
for name, what, f in [("bench_tissue", f"s per step, {2 * cells} cells, G = 8", tissue),
                      ("bench_grn", f"s per rk4 step, {2 * cells} cells, G = 8", grn),
                      ("bench_train", "s per iteration, 100 x 100 x 3", train)]:
    a, b = f("2x1"), f("1x2")
    print(f"| {name} | {what} | {a:.4f} | {b:.4f} | {100 * a / b:.0f} % |")

memory_cells, serial, build = int(sys.argv[6]), sys.argv[7], sys.argv[8]
serial_bytes, omp_bytes = (float(rows("memory", layout)[-1][11]) for layout in ("serial", "omp"))  # bytes/cell
print(f"\nmemory per cell (tessera_bench_tissue, 1 rank, {memory_cells} cells, G = 8): {serial_bytes:.0f} bytes "
      f"on the Serial build ({serial}), {omp_bytes:.0f} bytes at 2 threads ({build}): "
      f"{100 * (omp_bytes / serial_bytes - 1):+.1f} %")
EOF
