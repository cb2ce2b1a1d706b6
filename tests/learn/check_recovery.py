#!/usr/bin/env python3
"""Checks that `tessera train` recovered a synthetic `hill` network (issue 4, "Recovery").

Criteria:
  1. validation MSE < --max-mse-ratio (default 0.1) x the MSE of predicting "no change" on the same
     validation pairs: mean over the pairs (k, k+1), cells and genes of (x(t_{k+1}) - x(t_k))^2, with the
     trainer's split (src/tessera/learn/trainer.cpp, split_times): n_train = n_times - floor(val_fraction *
     n_times) (at least 2), validation start times k in [n_train - 1, n_times - 1). The validation MSE is the
     last row of loss.csv (the parameters before the last step; --use min takes the smallest row instead).
  2. AUPRC ratio (metrics.json) >= --min-auprc-ratio (default 3) for every cell type (--per type) or for
     their mean (--per mean).

  3. (with --min-gain) for every type, the AUPRC ratio >= --min-gain x the "prior-only" ratio: the expected
     AUPRC ratio of a random order of the model's own candidate edges (the non-self rows of grn_<type>.tsv,
     i.e. the model's graph) when every true edge is among them. The metrics rank edges outside the model's
     graph last, so a prior graph that is a small superset of the truth earns a high AUPRC ratio whatever the
     model learns; this criterion asks the learned attention to rank true edges above the graph's decoys.

Exit 0 when the criteria hold, 1 with a message naming each failure, 2 on unreadable input, 77 (a skip for
ctest) when the Python running it lacks h5py or numpy.
"""
import argparse
import csv
import json
import math
import os
import sys


def fail_input(message):
    print("check_recovery: " + message, file=sys.stderr)
    sys.exit(2)


def no_change_mse(dataset, val_fraction):
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        print("check_recovery: needs h5py and numpy (%s): skipped" % e, file=sys.stderr)
        sys.exit(77)
    with h5py.File(dataset, "r") as f:
        x = np.asarray(f["expression"][...], dtype=float)  # [T_obs][N][G]
    n_times = x.shape[0]
    held = int(math.floor(val_fraction * n_times))
    n_train = min(max(2, n_times - held), n_times)
    starts = list(range(n_train - 1, n_times - 1))
    if not starts:
        fail_input("%s: %d time points and val_fraction %g leave no validation pair" % (dataset, n_times, val_fraction))
    diffs = [np.mean((x[k + 1] - x[k]) ** 2) for k in starts]
    return float(np.mean(diffs)), starts, n_times


def read_loss(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail_input("%s: %s" % (path, e))
    if not rows or "validation" not in rows[0]:
        fail_input("%s: no rows or no 'validation' column" % path)
    return rows


def random_auprc(n, p):
    """Expected AUPRC of a uniformly random ranking of n candidates with p positives (metrics.hpp)."""
    if n <= 0 or p <= 0:
        return float("nan")
    h = sum(1.0 / i for i in range(1, n + 1))
    if n == 1:
        return 1.0
    return h / n + (p - 1) * (n - h) / (n * (n - 1))


def graph_size(run_dir, cell_type):
    """Non-self edges of the model's graph for a type (rows of grn_<type>.tsv with source != target)."""
    path = os.path.join(run_dir, "grn_%s.tsv" % cell_type)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError:
        return None
    return sum(1 for r in rows if r["source"] != r["target"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="dataset.h5 the model was trained on")
    ap.add_argument("--run-dir", required=True, help="run directory of `tessera train`")
    ap.add_argument("--val-fraction", type=float, default=0.2, help="train.val_fraction of the training deck")
    ap.add_argument("--max-mse-ratio", type=float, default=0.1)
    ap.add_argument("--min-auprc-ratio", type=float, default=3.0)
    ap.add_argument("--per", choices=["type", "mean"], default="type",
                    help="AUPRC ratio criterion for every type (default) or for the mean over types")
    ap.add_argument("--min-gain", type=float, default=0.0,
                    help="AUPRC ratio / prior-only AUPRC ratio needed for every type (0: not checked)")
    ap.add_argument("--use", choices=["last", "min"], default="last", help="which validation MSE of loss.csv")
    args = ap.parse_args()

    baseline, starts, n_times = no_change_mse(args.dataset, args.val_fraction)
    rows = read_loss(os.path.join(args.run_dir, "loss.csv"))
    val = [float(r["validation"]) for r in rows]
    if any(math.isnan(v) for v in val):
        fail_input("loss.csv has NaN validation values (val_fraction 0 in the deck?)")
    mse = val[-1] if args.use == "last" else min(val)
    ratio = mse / baseline
    print("validation pairs: start times %s of %d time points" % (starts, n_times))
    print("no-change MSE      %.6g" % baseline)
    print("validation MSE     %.6g (last %.6g, min %.6g, first %.6g; %d iterations, %.1f s)"
          % (mse, val[-1], min(val), val[0], len(val), float(rows[-1]["wall_s"])))
    print("MSE ratio          %.4f (criterion < %g)" % (ratio, args.max_mse_ratio))

    metrics_path = os.path.join(args.run_dir, "metrics.json")
    try:
        with open(metrics_path) as f:
            metrics = json.load(f)
    except (OSError, ValueError) as e:
        fail_input("%s: %s" % (metrics_path, e))
    if not metrics:
        fail_input("%s: no cell type has metrics" % metrics_path)

    failures = []
    if not ratio < args.max_mse_ratio:
        failures.append("validation MSE %.6g is %.1f %% of the no-change MSE %.6g (needs < %g %%)"
                        % (mse, 100 * ratio, baseline, 100 * args.max_mse_ratio))
    print("%-12s %8s %8s %8s %8s %8s %6s %6s %10s %6s" % ("type", "AUPRC", "ratio", "AUROC", "EP", "density",
                                                          "pos", "graph", "prior-only", "gain"))
    ratios = []
    for cell_type, m in metrics.items():
        n_graph = graph_size(args.run_dir, cell_type)
        prior_only = float("nan")
        if n_graph is not None and n_graph >= m["positives"]:
            prior_only = random_auprc(n_graph, m["positives"]) / m["edge_density"]
        gain = m["auprc_ratio"] / prior_only
        print("%-12s %8.4f %8.3f %8.4f %8.4f %8.4f %6d %6s %10.3f %6.3f" % (
            cell_type, m["auprc"], m["auprc_ratio"], m["auroc"], m["early_precision"], m["edge_density"],
            m["positives"], n_graph if n_graph is not None else "?", prior_only, gain))
        if args.min_gain > 0 and not gain >= args.min_gain:
            failures.append("type %s: AUPRC ratio %.3f is %.3f x the prior-only ratio %.3f (needs >= %g x)"
                            % (cell_type, m["auprc_ratio"], gain, prior_only, args.min_gain))
        ratios.append(m["auprc_ratio"])
        if args.per == "type" and not m["auprc_ratio"] >= args.min_auprc_ratio:
            failures.append("type %s: AUPRC ratio %.3f < %g" % (cell_type, m["auprc_ratio"], args.min_auprc_ratio))
    mean_ratio = sum(ratios) / len(ratios)
    print("mean AUPRC ratio   %.3f (criterion >= %g %s)" % (mean_ratio, args.min_auprc_ratio,
                                                             "per type" if args.per == "type" else "on the mean"))
    if args.per == "mean" and not mean_ratio >= args.min_auprc_ratio:
        failures.append("mean AUPRC ratio %.3f < %g" % (mean_ratio, args.min_auprc_ratio))

    if failures:
        for f in failures:
            print("RECOVERY FAILED: " + f, file=sys.stderr)
        return 1
    print("recovery OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
