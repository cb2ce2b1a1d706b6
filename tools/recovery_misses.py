#!/usr/bin/env python3
"""Where a family's ranking loses to the ridge baseline, or misses a perfect ranking (issue 9's diagnosis,
docs/performance.md "Inference"): reads a tools/recovery_suite.py work directory and, for every seed, graph
and cell type whose AUPRC (the headline `effect` ranking, scored by recovery_suite's own functions) is below
metrics.json's ridge AUPRC (--below ridge, the default) or below 1 (--below perfect), lists the true edges
ranked below the first decoy, the AUPRC with each moved alone to just above the first decoy, and how
saturated its Hill term is in the data: the fraction of the type's cells over the read-out (training) times
whose regulator is above the edge's threshold h (truth.tsv), and within a factor 2 of it. The edge's weight
(K, W) beside it tells a steep switch from a small weight. Then the decoys ranked above the last true edge,
each with the genes m of the type's truth through which its source reaches its target in two steps (j -> m
-> k: an indirect edge, which a model outside the data's class may use to make up for its misfit). Last, per
graph, how many of those decoys are indirect against how many of all the listed types' decoys are: a share
above that base rate says the errors are the indirect edges; and how many of the true edges listed have a
regulator that rarely enters its Hill term's responsive range (within a factor 2 of h in under 10 % of the
cell-times) against how many of every true edge of every type read do: a share above that base rate says the
misses are the edges the data hold saturated (on data with Hill thresholds in truth.tsv).

    python3 tools/recovery_misses.py --work runs/recovery [runs/more ...] --family sigmoid [--below perfect]

Needs numpy and h5py; exit 2 on a missing or malformed file.
"""
import argparse
import collections
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recovery_suite import average_precision, fail_input, perfect, ranking, read_tsv, truth_per_type  # noqa: E402

VAL_FRACTION = 0.2  # the generated train decks' train.val_fraction (tools/grn_motifs.py)
RARE = 0.1  # "rarely responsive": the regulator within a factor 2 of h in under this fraction of the cell-times


def responsive(v, hjk):
    """The fraction of the values v within a factor 2 of the threshold hjk: where a Hill term responds."""
    import numpy as np
    return float(np.mean((v > hjk / 2) & (v < 2 * hjk)))


def auprc_moved(scored, true_edges, edge, above):
    """AUPRC with `edge` scored just above the score `above` (the first decoy's)."""
    moved = [(above + 1e-12 * max(1.0, abs(above)), e) if e == edge else (s, e) for s, e in scored]
    return average_precision(moved, true_edges)[0]


def two_step(true_edges, j, k):
    """The genes m with j -> m and m -> k among `true_edges` (m != j, k)."""
    return sorted(m for (a, m) in true_edges if a == j and m != k and (m, k) in true_edges)


def thresholds(seed_dir, genes, types):
    """Per type t, h of every true edge (j, k) of t, from truth.tsv (read once); None for data simulated by
    `sigmoid` (tools/grn_motifs.py --truth-model sigmoid), whose truth.tsv has no Hill parameters."""
    index = {g: i for i, g in enumerate(genes)}
    rows = read_tsv(os.path.join(seed_dir, "truth.tsv"))
    return {t: {(index[r["source"]], index[r["target"]]): float(r["h"]) if r.get("h") else None
                for r in rows if r["type"] in ("*", t)} for t in types}


def report_type(scored, weight, true_edges, genes, h, response, x):
    """Prints the lines of one listed type: its true edges below the first decoy (with the AUPRC moved and
    their regulator's saturation in x, the type's cells at the training times [T][cells][G]; h: its
    thresholds(), response: responsive() of each true edge with an h) and its decoys above the last true edge
    (with their two-step paths). Returns the counts of decoys above the last true edge and of every decoy, each
    with how many are indirect, and of the true edges listed, with how many rarely responsive (RARE)."""
    import numpy as np
    ranked = sorted(scored, key=lambda p: -p[0])
    counts = collections.Counter()
    first_decoy = max(s for s, e in scored if e not in true_edges)
    last_true = min(s for s, e in scored if e in true_edges)
    for s, (j, k) in ranked:
        if (j, k) not in true_edges or s >= first_decoy:
            continue
        v = x[:, :, j]
        moved = auprc_moved(scored, true_edges, (j, k), first_decoy)
        hjk = h[(j, k)]
        saturation = ("%s above h = %.3g in %.0f %% of the cells, within a factor 2 of h in %.0f %%, "
                      % (genes[j], hjk, 100 * np.mean(v > hjk), 100 * response[(j, k)])
                      if hjk is not None else "no threshold h in truth.tsv, ")
        print("  %s -> %s (effect %.4g, weight %.3g): AUPRC moved above the first decoy %.3f; %smedian %.2f"
              % (genes[j], genes[k], s, weight[(j, k)], moved, saturation, np.median(v)))
        if hjk is not None:
            counts["true"] += 1
            counts["true_rare"] += 1 if response[(j, k)] < RARE else 0
    for s, (j, k) in ranked:
        if (j, k) in true_edges:
            continue
        via = two_step(true_edges, j, k)
        counts["decoys"] += 1
        counts["decoys_indirect"] += 1 if via else 0
        if s <= last_true:
            continue
        counts["above"] += 1
        counts["above_indirect"] += 1 if via else 0
        print("  decoy %s -> %s (effect %.4g, weight %.3g): %s" % (
            genes[j], genes[k], s, weight[(j, k)],
            "indirect, through %s in the type's truth" % ", ".join(
                "%s -> %s -> %s" % (genes[j], genes[m], genes[k]) for m in via)
            if via else "no two-step path in the type's truth"))
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True, nargs="+", help="tools/recovery_suite.py --work directories")
    ap.add_argument("--family", default="sigmoid", choices=("hill", "sigmoid"))
    ap.add_argument("--below", default="ridge", choices=("ridge", "perfect"),
                    help="list the types below the ridge baseline's AUPRC (default) or below AUPRC 1")
    args = ap.parse_args()
    import h5py
    import numpy as np
    seed_dirs = []
    for work in args.work:
        seeds = [d for d in os.listdir(work) if d.startswith("seed") and d[4:].isdigit()]
        if not seeds:
            fail_input("%s: no seed<N> directories" % work)
        seed_dirs += [os.path.join(work, d) for d in sorted(seeds, key=lambda d: int(d[4:]))]
    counts = {}  # per graph: a Counter of report_type's counts and of the types listed
    for seed_dir in seed_dirs:
        seed = os.path.basename(seed_dir)
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
        h = thresholds(seed_dir, genes, types)
        x_of = {t: x[:n_train][:, cell_type == stored_types.index(t)] for t in types}
        # How often each true edge's regulator is in its responsive range: data, not ranking, so once per seed
        # for both graphs; the base rate is every true edge (self loops aside) of every type.
        response = {t: {(j, k): responsive(x_of[t][:, :, j], hjk) for (j, k), hjk in h[t].items() if hjk is not None}
                    for t in types}
        base = collections.Counter()
        for t in types:
            for (j, k), r in response[t].items():
                if j != k:
                    base["all_true"] += 1
                    base["all_true_rare"] += 1 if r < RARE else 0
        for graph in ("prior", "dense"):
            run_dir = os.path.join(seed_dir, "%s_%s" % (args.family, graph))
            if not os.path.isdir(run_dir):
                continue
            if not os.path.isfile(os.path.join(run_dir, "metrics.json")):
                # A training still running, or one that failed: its ranking is not there to read.
                print("%s %s: skipped, no metrics.json in %s (the training has not finished)" % (seed, graph, run_dir),
                      file=sys.stderr)
                continue
            with open(os.path.join(run_dir, "metrics.json")) as f:
                metrics = json.load(f)
            tally = counts.setdefault(graph, collections.Counter())
            tally.update(base)
            for t in types:
                scored, weight = ranking(read_tsv(os.path.join(run_dir, "grn_%s.tsv" % t)), "effect", "weight",
                                         {g: i for i, g in enumerate(genes)})
                true_edges = set(truth[t])
                auprc = average_precision(scored, true_edges)[0]
                ridge = metrics["grn"][t]["ridge"]["auprc"]
                if (auprc >= ridge) if args.below == "ridge" else perfect(auprc):
                    continue
                print("%s %s %s: AUPRC %.3f, ridge %.3f" % (seed, graph, t, auprc, ridge))
                tally["types"] += 1
                tally.update(report_type(scored, weight, true_edges, genes, h[t], response[t], x_of[t]))
    for graph, c in sorted(counts.items(), reverse=True):
        if not c["types"]:
            continue
        print("%s: %d types listed; decoys above their type's last true edge %d, indirect %d (%.0f %%); every decoy "
              "of those types %d, indirect %d (%.0f %%)" % (graph, c["types"], c["above"], c["above_indirect"],
                                                          100.0 * c["above_indirect"] / max(1, c["above"]),
                                                          c["decoys"], c["decoys_indirect"],
                                                          100.0 * c["decoys_indirect"] / max(1, c["decoys"])))
        if c["all_true"]:
            print("%s: true edges below their type's first decoy %d, rarely responsive %d (%.0f %%); every true edge "
                  "read %d, rarely responsive %d (%.0f %%)" % (graph, c["true"], c["true_rare"],
                                                             100.0 * c["true_rare"] / max(1, c["true"]),
                                                             c["all_true"], c["all_true_rare"],
                                                             100.0 * c["all_true_rare"] / max(1, c["all_true"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
