#!/usr/bin/env python3
"""Checks a `tessera train` run directory made with train.simulate (tests/learn/data/train_simulate.yaml):
dataset.h5 holds the ground truth, predicted.h5 is a dataset of the same shape whose first time point is
the observation and whose values are finite, loss.csv has one row per iteration, checkpoint.h5 sits at the
last checkpointed iteration, and metrics.json scores every cell type for the model, the ridge baseline and a
random order and holds the validation MSE of the model and the baselines. Exit 1 with the reason otherwise."""
import argparse
import csv
import json
import math
import os
import sys

import h5py
import numpy as np


def fail(message):
    print("check_train_run: " + message)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--iterations", type=int, required=True)
    ap.add_argument("--checkpoint", type=int, default=0, help="iteration the checkpoint must be at (0: none)")
    args = ap.parse_args()
    d = args.run_dir

    with h5py.File(os.path.join(d, "dataset.h5"), "r") as f:
        observed = f["expression"][...]
        if "grn" not in f or "truth" not in f["grn"]:
            fail("dataset.h5 has no /grn/truth")
        types = [t.decode() if isinstance(t, bytes) else t for t in f["cell_types"][...]]
    with h5py.File(os.path.join(d, "predicted.h5"), "r") as f:
        predicted = f["expression"][...]
    if predicted.shape != observed.shape:
        fail("predicted.h5 /expression is %s, the dataset's %s" % (predicted.shape, observed.shape))
    if not np.array_equal(predicted[0], observed[0]):
        fail("predicted.h5 does not start from the observed state")
    if not np.all(np.isfinite(predicted)):
        fail("predicted.h5 has non-finite values")
    if np.array_equal(predicted[1:], observed[1:]):
        fail("predicted.h5 equals the observations: not a prediction")

    with open(os.path.join(d, "loss.csv")) as f:
        rows = list(csv.DictReader(f))
    if [int(r["iteration"]) for r in rows] != list(range(1, args.iterations + 1)):
        fail("loss.csv iterations are %s" % [r["iteration"] for r in rows])
    for r in rows:
        if not math.isfinite(float(r["train"])) or not math.isfinite(float(r["validation"])):
            fail("loss.csv row %s is not finite" % r)

    if args.checkpoint:
        with h5py.File(os.path.join(d, "checkpoint.h5"), "r") as f:
            it = int(f["progress"].attrs["iteration"])
            if it != args.checkpoint:
                fail("checkpoint.h5 is at iteration %d, expected %d" % (it, args.checkpoint))
            if len(f["progress/train"]) != it or "params" not in f or "optimizer" not in f:
                fail("checkpoint.h5 lacks its history, /params or /optimizer")
    if os.path.exists(os.path.join(d, "checkpoint.h5.tmp")):
        fail("a temporary checkpoint was left behind")

    with open(os.path.join(d, "metrics.json")) as f:
        metrics = json.load(f)
    for key in ("grn", "lr_pairs", "validation_mse", "ridge"):
        if key not in metrics:
            fail("metrics.json has no '%s'" % key)
    for t in types:
        scored = metrics["grn"].get(t)
        if scored is None:
            fail("metrics.json does not score type %s" % t)
        for ranking in ("attention", "jacobian", "ridge", "random_order"):
            if not isinstance(scored.get(ranking, {}).get("auprc"), (int, float)):
                fail("metrics.json: type %s has no %s AUPRC" % (t, ranking))
    mse = metrics["validation_mse"]
    for key in ("model", "no_change", "relaxation", "ridge"):
        if mse["pairs"] > 0 and not (isinstance(mse.get(key), (int, float)) and mse[key] >= 0):
            fail("metrics.json: validation_mse.%s is %r" % (key, mse.get(key)))
    if not metrics["ridge"]["lambda"] > 0:
        fail("metrics.json: ridge lambda %r" % metrics["ridge"]["lambda"])
    print("check_train_run: %s OK (%d iterations, predicted %s)" % (d, len(rows), predicted.shape))


if __name__ == "__main__":
    main()
