#!/usr/bin/env python3
"""`tessera train --gradient-only` reports and stores the whole objective (SPEC §3.2), checked against the model
file's own weights: from the same parameters (grn.graph_ode.model_file), with train.l1 = 0 and with l1 > 0,
  - gradient.h5 /objective: data equal in both runs, l1_term = l1 * sum |W| over the weight tensors of the
    model file (numpy), total = data + l1_term; the loss printed (%.17g) is the stored total, bit for bit;
  - the gradient with l1 minus the one without is l1 * sign(W) on the weight tensors and 0 on every other;
  - under lbfgs with weight_decay: weight_decay_term = 0.5 weight_decay |theta|^2 and the gradient gains
    weight_decay * theta on every tensor (what TAO minimises);
  - with train.l2, under adamw and lbfgs: l2_term = 0.5 l2 sum W^2 over the weight tensors (numpy) and the
    gradient gains l2 * W on them and nothing on every other tensor.

usage: check_gradient_terms.py TESSERA DECK DATASET MODEL WORKDIR"""
import os
import re
import subprocess
import sys

import h5py
import numpy as np

WEIGHT = re.compile(r"^(w|a|a_src|a_dst|v_src|v_dst|W[0-9]+)$")  # Glorot-initialised: the l1 term's W


def tensors(path):
    out = {}
    with h5py.File(path, "r") as f:
        for s in f["params"]:
            for name, d in f["params"][s].items():
                out[(s, name)] = d[...].astype(float)
    return out


def main():
    tessera, deck, dataset, model, work = sys.argv[1:6]
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    def gradient_only(label, *overrides):
        out_dir = os.path.join(work, label)
        args = [tessera, "train", deck, "-s", "train.dataset=" + dataset, "-s",
                "grn.graph_ode.model_file=" + model, "-o", out_dir, "--overwrite", "--gradient-only"]
        for o in overrides:
            args += ["-s", o]
        run = subprocess.run(args, capture_output=True, text=True)
        text = run.stdout + run.stderr
        if run.returncode != 0:
            sys.exit("FAIL %s: exit %d\n%s" % (label, run.returncode, text))
        printed = re.search(r"tessera train: loss (\S+) \(", text)
        path = os.path.join(out_dir, "gradient.h5")
        with h5py.File(path, "r") as f:
            if "objective" not in f:
                sys.exit("FAIL %s: %s has no /objective group" % (label, path))
            attrs = {k: f["objective"].attrs[k] for k in f["objective"].attrs}
        check(printed is not None and float(printed.group(1)) == float(attrs["total"]),
              "%s: printed loss %s is the stored total %r" % (label, printed and printed.group(1), attrs["total"]))
        return attrs, tensors(path)

    theta = tensors(model)
    l1 = 0.05
    plain, g0 = gradient_only("l1_0", "train.l1=0")
    penal, g1 = gradient_only("l1", "train.l1=%r" % l1)
    norm = sum(np.abs(v).sum() for (s, n), v in theta.items() if WEIGHT.match(n))
    check(norm > 0, "the model has weight tensors (%d tensors)" % len(theta))
    check(plain["l1_term"] == 0 and plain["total"] == plain["data"], "l1 = 0: total is the data term")
    check(penal["data"] == plain["data"], "the data term does not depend on l1")
    check(abs(penal["l1_term"] - l1 * norm) <= 1e-13 * l1 * norm,
          "l1_term %r = l1 * |W|_1 = %r" % (penal["l1_term"], l1 * norm))
    check(penal["total"] == penal["data"] + penal["l1_term"], "total = data + l1_term")
    for key, w in theta.items():
        expected = l1 * np.sign(w) if WEIGHT.match(key[1]) else np.zeros_like(w)
        diff = g1[key] - g0[key]
        # One addition to the data gradient: its rounding.
        ok = np.allclose(diff, expected, rtol=0, atol=1e-15 * (np.abs(g0[key]).max() + 1))
        check(ok, "gradient(l1) - gradient(0) on %s/%s is %s" % (key[0], key[1],
                                                                   "l1 sign(W)" if WEIGHT.match(key[1]) else "0"))

    wd = 0.3
    decayed, gw = gradient_only("lbfgs_wd", "train.optimizer=lbfgs", "train.weight_decay=%r" % wd,
                                "train.l1=0", "train.checkpoint_every=0")
    squares = sum((v * v).sum() for v in theta.values())
    check(abs(decayed["weight_decay_term"] - 0.5 * wd * squares) <= 1e-13 * wd * squares,
          "lbfgs: weight_decay_term = 0.5 weight_decay |theta|^2")
    check(decayed["data"] == plain["data"], "lbfgs: the same data term")
    check(decayed["total"] == decayed["data"] + decayed["weight_decay_term"], "lbfgs: total = data + weight decay")
    # lbfgs evaluates every training window; csv_ok has one (two time points), as adamw's sample.
    for key, w in theta.items():
        ok = np.allclose(gw[key] - g0[key], wd * w, rtol=0, atol=1e-15 * (np.abs(g0[key]).max() + 1))
        check(ok, "lbfgs: gradient gains weight_decay * theta on %s/%s" % key)
    l2 = 0.7
    squares_w = sum((v * v).sum() for (s, n), v in theta.items() if WEIGHT.match(n))
    for optimizer in ("adamw", "lbfgs"):
        ridge, g2 = gradient_only("l2_" + optimizer, "train.optimizer=" + optimizer, "train.l2=%r" % l2,
                                  "train.l1=0", "train.checkpoint_every=0")
        check(abs(ridge["l2_term"] - 0.5 * l2 * squares_w) <= 1e-13 * l2 * squares_w,
              "%s: l2_term %r = 0.5 l2 |W|^2 = %r" % (optimizer, ridge["l2_term"], 0.5 * l2 * squares_w))
        check(ridge["data"] == plain["data"], "%s: the data term does not depend on l2" % optimizer)
        check(ridge["total"] == ridge["data"] + ridge["l2_term"], "%s: total = data + l2_term" % optimizer)
        for key, w in theta.items():
            expected = l2 * w if WEIGHT.match(key[1]) else np.zeros_like(w)
            ok = np.allclose(g2[key] - g0[key], expected, rtol=0, atol=1e-15 * (np.abs(g0[key]).max() + 1))
            check(ok, "%s: gradient(l2) - gradient(0) on %s/%s is %s" % (
                optimizer, key[0], key[1], "l2 W" if WEIGHT.match(key[1]) else "0"))
    if failures:
        sys.exit("%d check(s) failed" % len(failures))


if __name__ == "__main__":
    main()
