#!/usr/bin/env bash
# The fuller network-recovery suite behind docs/performance.md, "Inference" (issue 9): random motif-built hill
# networks of 13-34 genes (tools/grn_motifs.py), 150 cells, each fitted by every model family on the superset
# prior and on the dense graph, 200 iterations, scored by tools/recovery_suite.py. The ctest
# learn_recovery_motifs_seed<S> runs the same at 10-14 genes and 100 cells.
#
#   bench/recovery/run_recovery.sh [BUILD_DIR [OUT_DIR]]      (default build, runs/recovery_bench)
#
# Environment: SEEDS (default 1-6), CELLS (default 150; the same networks with more cells: the generator draws
# the graph before the tissue), TRUTH_MODEL (hill, the default, or sigmoid: the model class that simulates
# the data, tools/grn_motifs.py --truth-model), FAMILIES (default graph_ode,hill,sigmoid), ITERATIONS (default
# 200: train.iterations), ASSERT (families whose targets
# are asserted; default none: the bench reports, the ctest asserts), LAUNCHER (e.g. "mpirun -np 2"; default
# one rank). Writes OUT_DIR/recovery.md (the tables) and OUT_DIR/recovery.json. On the 2-core development
# machine one seed costs about 1-3 minutes per family.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
out="${2:-runs/recovery_bench}"
mkdir -p "$out"
source "$root/tools/mpi-env.sh"
export OPENBLAS_NUM_THREADS=1
python="${PYTHON:-/usr/bin/python3}"
"$python" "$root/tools/recovery_suite.py" --tessera "$build/bin/tessera" --work "$out" \
  --seeds "${SEEDS:-1-6}" --truth-model "${TRUTH_MODEL:-hill}" --families "${FAMILIES:-graph_ode,hill,sigmoid}" \
  --assert "${ASSERT:-}" --genes 13:34 --cells "${CELLS:-150}" --iterations "${ITERATIONS:-200}" --launcher "${LAUNCHER:-}" \
  --table "$out/recovery.md" --json "$out/recovery.json"
