#!/usr/bin/env bash
# bench/torch_reference.py, the PyTorch reference of issue 9's speed comparison, computes what tessera computes:
# the one_step loss and its gradient at the parameters of a `tessera train` model.h5, over the start times of
# `tessera train --gradient-only` at them, on bench/train_cli.sh's problem (bench/train_cli_deck.sh, 100 cells x 100 genes x 3
# types). Two independent implementations (tessera's discrete adjoint, PyTorch's autograd) in double precision
# differ only by summation order: measured 4e-15 (loss) and 1.3e-14 (gradient); 1e-12 leaves 70x margin.
#   torch_reference_check.sh TESSERA BENCH_TRAIN PYTHON WORKDIR
# Exit 77 (skipped) when PYTHON has no torch (Debian's python3-torch, which tools/install-deps.sh installs).
set -euo pipefail
tessera=$1 bench_train=$2 python=$3 work=$4
here=$(cd "$(dirname "$0")/../.." && pwd)
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "torch_reference_check: $python cannot import torch (install python3-torch): skipped"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
"$here/bench/train_cli_deck.sh" "$bench_train" "$work" 1
# One AdamW step first, so that the parameters compared at are not only the initialisation's.
"$tessera" -q train "$work/train_cli.yaml" -o "$work/run1"
"$tessera" -q train "$work/train_cli.yaml" -o "$work/grad" -s grn.graph_ode.model_file="$work/run1/model.h5" \
  --gradient-only
OMP_NUM_THREADS=2 "$python" "$here/bench/torch_reference.py" "$work/data.h5" --check "$work/grad/gradient.h5" \
  --model "$work/run1/model.h5" --tolerance 1e-12
