#!/usr/bin/env python3
"""Damaged copies of a good tessera dataset are each rejected by `tessera train` with exit code 2 and a
message naming the file and what is wrong: NaN expression, shapes that do not match, a ligand-receptor or
prior-GRN row naming a gene index outside /genes, and a model file whose architecture differs from the deck.

usage: bad_datasets.py TESSERA DECK GOOD_DATASET MODEL WORKDIR"""
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np


def main():
    tessera, deck, good, model, work = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)

    def damaged(name, change):
        path = os.path.join(work, name + ".h5")
        shutil.copyfile(good, path)
        with h5py.File(path, "r+") as f:
            change(f)
        return path

    def replace(f, key, data):
        del f[key]
        f[key] = data

    def nan_expression(f):
        x = f["expression"][...]
        x[1, 3, 0] = np.nan
        replace(f, "expression", x)

    def short_types(f):
        replace(f, "cell_type", f["cell_type"][...][:-1])

    def wrong_time_count(f):
        replace(f, "time", f["time"][...][:-1])

    def unknown_lr_gene(f):
        lr = f["ligand_receptor"][...]
        lr[0, 1] = 7  # 3 genes
        replace(f, "ligand_receptor", lr)

    def unknown_prior_gene(f):
        f["grn/prior/*"] = np.array([[0, 1], [2, 9]], dtype=np.int32)

    cases = [
        ("nan", nan_expression, r"not finite \(nan\) at time index 1"),
        ("short_types", short_types, r"cell_type"),
        ("time_count", wrong_time_count, r"time|expression"),
        ("lr_gene", unknown_lr_gene, r"ligand_receptor.*gene index"),
        ("prior_gene", unknown_prior_gene, r"grn/prior.*gene index"),
    ]
    failures = 0

    def expect_exit_2(label, args, pattern, where):
        nonlocal failures
        run = subprocess.run([tessera] + args, capture_output=True, text=True)
        out = run.stdout + run.stderr
        if run.returncode != 2 or where not in out or not re.search(pattern, out):
            failures += 1
            print("FAIL %s: exit %d, output:\n%s" % (label, run.returncode, out))
        else:
            print("ok   %s: %s" % (label, out.strip().splitlines()[-1]))

    # train.simulate is switched off: the deck then fits the damaged dataset with its graph_ode settings.
    base = ["train", deck, "-s", "train.simulate=false", "-s", "grn.model=graph_ode", "--overwrite"]
    for name, change, pattern in cases:
        path = damaged(name, change)
        expect_exit_2(name, base + ["-s", "train.dataset=" + path, "-o", os.path.join(work, "run_" + name)],
                      pattern, path)
    # A model file from this deck's architecture, read with another hidden width.
    expect_exit_2("architecture", base + ["-s", "train.dataset=" + good, "-s", "grn.graph_ode.model_file=" + model,
                                          "-s", "grn.graph_ode.hidden=5", "-o", os.path.join(work, "run_arch")],
                  r"/architecture hidden = 4 but grn.graph_ode.hidden = 5", model)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
