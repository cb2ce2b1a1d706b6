#!/usr/bin/env python3
"""Where a family's ranking loses to the ridge baseline (issue 9's diagnosis, docs/performance.md
"Inference"): reads a tools/recovery_suite.py work directory and, for every seed, graph and cell type whose
AUPRC (the headline `effect` ranking, scored by recovery_suite's own functions) is below metrics.json's ridge
AUPRC, lists the true edges ranked below the first decoy, the AUPRC with each moved alone to just above the
first decoy, and how saturated its Hill term is in the data: the fraction of the type's cells over the
read-out (training) times whose regulator is above the edge's threshold h (truth.tsv), and within a factor 2
of it. The edge's weight (K, W) beside it tells a steep switch from a small weight.

    python3 tools/recovery_misses.py --work runs/recovery --family sigmoid

Needs numpy and h5py; exit 2 on a missing or malformed file.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recovery_suite import average_precision, fail_input, ranking, read_tsv, truth_per_type  # noqa: E402

VAL_FRACTION = 0.2  # the generated train decks' train.val_fraction (tools/grn_motifs.py)


def auprc_moved(scored, true_edges, edge, above):
    """AUPRC with `edge` scored just above the score `above` (the first decoy's)."""
    moved = [(above + 1e-12 * max(1.0, abs(above)), e) if e == edge else (s, e) for s, e in scored]
    return average_precision(moved, true_edges)[0]


def thresholds(seed_dir, genes, t):
    """h of every true edge (j, k) of type t, from truth.tsv."""
    index = {g: i for i, g in enumerate(genes)}
    rows = read_tsv(os.path.join(seed_dir, "truth.tsv"))
    return {(index[r["source"]], index[r["target"]]): float(r["h"]) for r in rows if r["type"] in ("*", t)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True, help="a tools/recovery_suite.py --work directory")
    ap.add_argument("--family", default="sigmoid", choices=("hill", "sigmoid"))
    args = ap.parse_args()
    import h5py
    import numpy as np
    seeds = sorted(d for d in os.listdir(args.work) if d.startswith("seed") and d[4:].isdigit())
    if not seeds:
        fail_input("%s: no seed<N> directories" % args.work)
    for seed in sorted(seeds, key=lambda d: int(d[4:])):
        seed_dir = os.path.join(args.work, seed)
        with open(os.path.join(seed_dir, "network.json")) as f:
            info = json.load(f)
        genes, types = info["genes"], info["types"]
        truth, _ = truth_per_type(seed_dir, genes, types, [], seed)
        with h5py.File(os.path.join(seed_dir, "sim", "dataset.h5"), "r") as f:
            x = np.asarray(f["expression"][...], dtype=float)  # [T][N][G]
            cell_type = np.asarray(f["cell_type"][...])
            stored_types = [s.decode() for s in f["cell_types"][...]]
        n_times = x.shape[0]
        n_train = min(max(2, n_times - int(math.floor(VAL_FRACTION * n_times))), n_times)  # split_times
        for graph in ("prior", "dense"):
            run_dir = os.path.join(seed_dir, "%s_%s" % (args.family, graph))
            if not os.path.isdir(run_dir):
                continue
            with open(os.path.join(run_dir, "metrics.json")) as f:
                metrics = json.load(f)
            for t in types:
                scored, weight = ranking(read_tsv(os.path.join(run_dir, "grn_%s.tsv" % t)), "effect", "weight",
                                         {g: i for i, g in enumerate(genes)})
                true_edges = set(truth[t])
                auprc = average_precision(scored, true_edges)[0]
                ridge = metrics["grn"][t]["ridge"]["auprc"]
                if auprc >= ridge:
                    continue
                print("%s %s %s: AUPRC %.3f, ridge %.3f" % (seed, graph, t, auprc, ridge))
                first_decoy = max(s for s, e in scored if e not in true_edges)
                h = thresholds(seed_dir, genes, t)
                cells = cell_type == stored_types.index(t)
                for s, (j, k) in sorted(scored, key=lambda p: -p[0]):
                    if (j, k) not in true_edges or s >= first_decoy:
                        continue
                    v = x[:n_train][:, cells, j]  # the regulator in the type's cells, training times
                    hjk = h[(j, k)]
                    moved = auprc_moved(scored, true_edges, (j, k), first_decoy)
                    print("  %s -> %s (effect %.4g, weight %.3g): AUPRC moved above the first decoy %.3f; "
                          "%s above h = %.3g in %.0f %% of the cells, within a factor 2 of h in %.0f %%, "
                          "median %.2f" % (genes[j], genes[k], s, weight[(j, k)], moved, genes[j], hjk,
                                           100 * np.mean(v > hjk), 100 * np.mean((v > hjk / 2) & (v < 2 * hjk)),
                                           np.median(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
