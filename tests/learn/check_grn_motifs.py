#!/usr/bin/env python3
"""tools/grn_motifs.py --truth-model: `hill` writes exactly the files of the default; `sigmoid` draws the same
graph, prior, tissue and train decks from the seed (prior.tsv and every train_*.yaml byte for byte, truth.tsv's
edges and signs) and a model.h5 whose candidate edges per type are the type's true edges with W signed as
truth.tsv says, V > 0 per true LR pair, beta and gamma positive (softplus of the stored _rho).

    check_grn_motifs.py WORK_DIR SEED...

Exit 0 when every check holds, 1 naming each failure, 77 (a ctest skip) without numpy or h5py."""
import filecmp
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "grn_motifs.py")


def generate(seed, out, *extra):
    subprocess.check_call([sys.executable, TOOL, "--seed", str(seed), "--out", out] + list(extra),
                          stdout=subprocess.DEVNULL)


def table(path):
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def main():
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        print("check_grn_motifs: needs numpy and h5py (%s): skipped" % e, file=sys.stderr)
        return 77
    work, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
    failures = []
    for seed in seeds:
        dirs = {m: os.path.join(work, "seed%d_%s" % (seed, m)) for m in ("default", "hill", "sigmoid")}
        generate(seed, dirs["default"])
        generate(seed, dirs["hill"], "--truth-model", "hill")
        generate(seed, dirs["sigmoid"], "--truth-model", "sigmoid")
        names = sorted(os.listdir(dirs["default"]))
        if sorted(os.listdir(dirs["hill"])) != names:
            failures.append("seed %d: --truth-model hill writes other files than the default" % seed)
        for name in names:
            if not filecmp.cmp(os.path.join(dirs["default"], name), os.path.join(dirs["hill"], name), shallow=False):
                failures.append("seed %d: --truth-model hill changes %s" % (seed, name))
            same_graph = name == "prior.tsv" or name.startswith("train_")
            if same_graph and not filecmp.cmp(os.path.join(dirs["hill"], name), os.path.join(dirs["sigmoid"], name),
                                              shallow=False):
                failures.append("seed %d: --truth-model sigmoid changes %s (the seed's graph and decks)" % (seed, name))
        hill_truth = [(r["type"], r["source"], r["target"], r["sign"])
                      for r in table(os.path.join(dirs["hill"], "truth.tsv"))]
        sig_truth = table(os.path.join(dirs["sigmoid"], "truth.tsv"))
        if [(r["type"], r["source"], r["target"], r["sign"]) for r in sig_truth] != hill_truth:
            failures.append("seed %d: the sigmoid truth.tsv's edges or signs differ from the hill one's" % seed)
        with h5py.File(os.path.join(dirs["sigmoid"], "model.h5"), "r") as f:
            genes = [g.decode() for g in f["genes"][...]]
            types = [t.decode() for t in f["cell_types"][...]]
            if f.attrs["family"] != "sigmoid" or f["sigmoid"].attrs["prior"] != "edges":
                failures.append("seed %d: model.h5 is not a sigmoid model on the prior edges" % seed)
            mine = {(types[c], genes[j], genes[k]): w for c, j, k, w in
                    zip(f["edges/type"][...], f["edges/source"][...], f["edges/target"][...], f["params/all/W"][...])}
            want = {}
            for r in sig_truth:
                for t in (types if r["type"] == "*" else [r["type"]]):
                    want[(t, r["source"], r["target"])] = 1 if r["sign"] == "+" else -1
            if set(mine) != set(want) or len(mine) != len(f["edges/type"]):
                failures.append("seed %d: model.h5's candidate edges are not truth.tsv's per type" % seed)
            wrong = [e for e in want if e in mine and not mine[e] * want[e] > 0]
            if wrong:
                failures.append("seed %d: model.h5's W has the wrong sign on %s" % (seed, wrong))
            lr = [(genes[l], genes[r]) for l, r in zip(f["pairs/ligand"][...], f["pairs/receptor"][...])]
            if lr != [(r["ligand"], r["receptor"]) for r in table(os.path.join(dirs["sigmoid"], "lr.tsv"))]:
                failures.append("seed %d: model.h5's LR pairs are not lr.tsv's" % seed)
            if not np.all(f["params/all/V"][...] > 0) or f["params/all/V"].shape != (len(types), len(lr)):
                failures.append("seed %d: model.h5's V is not positive [types][pairs]" % seed)
            for name in ("beta_rho", "gamma_rho", "b"):
                if f["params/all/" + name].shape != (len(types), len(genes)) or \
                        not np.all(np.isfinite(f["params/all/" + name][...])):
                    failures.append("seed %d: model.h5's %s is not finite [types][genes]" % (seed, name))
    for failure in failures:
        print("GRN_MOTIFS FAILED: " + failure, file=sys.stderr)
    if not failures:
        print("grn_motifs --truth-model checks OK on seeds %s" % seeds)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
