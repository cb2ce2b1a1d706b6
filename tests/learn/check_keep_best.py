#!/usr/bin/env python3
"""`tessera train` with early stopping, reduce-on-plateau and train.keep_best on the train.simulate deck:
the run stops where validation patience says (the log, loss.csv and model.h5 /provenance agree), loss.csv's
lr column is reduce-on-plateau recomputed here from its validation column, and model.h5 holds the parameters
of the lowest validation loss: exactly those of a second run that ends just before that iteration's step.
Usage: check_keep_best.py TESSERA DECK WORKDIR. Exit 1 with the reason otherwise."""
import csv
import math
import os
import subprocess
import sys

import h5py
import numpy as np

LR, FACTOR, PLATEAU_PATIENCE, IMPROVEMENT, PATIENCE = 1e-2, 0.5, 1, 0.5, 2


def fail(message):
    print("check_keep_best: " + message)
    sys.exit(1)


def train(tessera, deck, out, *settings):
    command = [tessera, "train", deck, "-o", out, "--overwrite", "-s", "train.checkpoint_every=0",
               "-s", "train.lr_schedule=plateau", "-s", "train.lr=%g" % LR,
               "-s", "train.plateau_factor=%g" % FACTOR, "-s", "train.plateau_patience=%d" % PLATEAU_PATIENCE,
               "-s", "train.improvement=%g" % IMPROVEMENT]
    for s in settings:
        command += ["-s", s]
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if run.returncode != 0:
        fail("%s exited %d:\n%s" % (" ".join(command), run.returncode, run.stdout))
    return run.stdout


def params_of(path):
    out = {}
    with h5py.File(path, "r") as f:
        f["params"].visititems(lambda name, item: out.__setitem__(name, item[...])
                               if isinstance(item, h5py.Dataset) else None)
    return out


def main():
    tessera, deck, work = sys.argv[1:4]
    best_dir = os.path.join(work, "keep_best")
    log = train(tessera, deck, best_dir, "train.iterations=20", "train.keep_best=true",
                "train.patience=%d" % PATIENCE)
    with open(os.path.join(best_dir, "loss.csv")) as f:
        rows = list(csv.DictReader(f))
    validation = [float(r["validation"]) for r in rows]
    stop = len(rows)
    # Patience by hand: an improvement is a fall below best - IMPROVEMENT |best|.
    best, since, expected_stop = None, 0, None
    for i, v in enumerate(validation):
        if best is None or v < best - IMPROVEMENT * abs(best):
            best, since = v, 0
        else:
            since += 1
        if since >= PATIENCE:
            expected_stop = i + 1
            break
    if expected_stop != stop:
        fail("loss.csv has %d rows; validation patience %d stops at %s" % (stop, PATIENCE, expected_stop))
    reason = "stopped at iteration %d: validation loss did not improve for %d iterations" % (stop, PATIENCE)
    if reason not in log:
        fail("the log does not say '%s':\n%s" % (reason, log))
    # Reduce-on-plateau by hand on the same column.
    best, since, reductions = None, 0, 0
    for i, r in enumerate(rows):
        expected = LR * FACTOR ** reductions
        if float(r["lr"]) != expected:
            fail("loss.csv lr at iteration %d is %s, reduce-on-plateau gives %r" % (i + 1, r["lr"], expected))
        v = validation[i]
        if best is None or v < best - IMPROVEMENT * abs(best):
            best, since = v, 0
        else:
            since += 1
            if since >= PLATEAU_PATIENCE:
                reductions, since = reductions + 1, 0
    k = min(range(stop), key=lambda i: (validation[i], i)) + 1
    with h5py.File(os.path.join(best_dir, "model.h5"), "r") as f:
        p = f["provenance"].attrs
        stopped = p["stopped"].decode() if isinstance(p["stopped"], bytes) else str(p["stopped"])
        if not stopped.startswith(reason):
            fail("model.h5 /provenance stopped = %r" % stopped)
        if int(p["best_iteration"]) != k or float(p["best_validation_loss"]) != validation[k - 1]:
            fail("model.h5 /provenance best_iteration %s, best_validation_loss %s; loss.csv: %d, %r"
                 % (p["best_iteration"], p["best_validation_loss"], k, validation[k - 1]))
    if "keeping the parameters of iteration %d (train.keep_best)" % k not in log:
        fail("the log does not name iteration %d as kept:\n%s" % (k, log))
    if k < 2:
        fail("the best iteration is the first: no second run can end before it (change the settings)")
    # Iteration k's validation loss is taken before its step: after k - 1 steps.
    reference_dir = os.path.join(work, "keep_best_reference")
    train(tessera, deck, reference_dir, "train.iterations=%d" % (k - 1))
    kept, reference = params_of(os.path.join(best_dir, "model.h5")), params_of(
        os.path.join(reference_dir, "model.h5"))
    if kept.keys() != reference.keys():
        fail("model.h5 /params tensors differ: %s vs %s" % (sorted(kept), sorted(reference)))
    for name in kept:
        if not np.array_equal(kept[name], reference[name]):
            fail("model.h5 /params/%s is not that of the run that ends after %d steps" % (name, k - 1))
    print("check_keep_best: stopped at %d, kept iteration %d, lr %s" % (stop, k, [r["lr"] for r in rows]))


if __name__ == "__main__":
    main()
