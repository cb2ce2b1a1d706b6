#!/usr/bin/env bash
# The problem of issue 9's speed comparison, shared by bench/train_cli.sh and the ctest
# learn_torch_reference_check (bench/torch_reference.py's reference): the dataset of bench/bench_train.cpp
# (100 cells x 100 genes x 3 types, 12 observations 1 min apart, 5 prior regulators per gene and type, 4 LR
# pairs) written by `tessera_bench_train --write-dataset` as WORK/data.h5, and WORK/train_cli.yaml, the
# `tessera train` deck with the STAGED reference architecture (GAT, K = 1, H = M = 64, L = 3, shared),
# one_step, rk4 with one step per observation interval, 10 of the 11 start times per iteration, no
# validation, AdamW at lr 1e-3.
#   bench/train_cli_deck.sh BENCH_TRAIN WORK ITERATIONS
set -euo pipefail
bench_train=$1 work=$2 iterations=$3
mkdir -p "$work"
"$bench_train" --cells 100 --genes 100 --write-dataset "$work/data.h5" >/dev/null
side=141.42135623730951 # sqrt(100 cells / 0.005 per um^2), the box of bench_train's dataset
genes=$(seq -s ', ' -f 'g%.0f' 0 99)
cat >"$work/train_cli.yaml" <<DECK
domain:
  dim: 2
  lo: [0 um, 0 um]
  hi: [$side um, $side um]
cells:
  types: [a, b, c]
grn:
  model: graph_ode
  genes: [$genes]
  graph_ode:
    variant: gat
    heads: 1
    hidden: 64
    mlp_width: 64
    mlp_layers: 3
    share: all
    prior: edges
signaling:
  range: 20 um
  length: 10 um
train:
  dataset: $work/data.h5
  mode: one_step
  iterations: $iterations
  time_points_per_iter: 10
  integrator: rk4
  dt: 1 min
  lr: 1e-3
  progress_every: 1000000
DECK
