#!/usr/bin/env python3
"""`tessera run` with output.dataset: true records the network that made the data as /grn/truth (SPEC §6.3),
for a learned model too: a `sigmoid` deck (tools/grn_motifs.py --truth-model sigmoid, whose model.h5 holds the
true edges as its candidates) records every candidate edge whose W is not zero, signed as W. Compared with the
generator's truth.tsv (independent of tessera), after setting one true edge's W to zero in model.h5 (that
edge is then no edge of the model, and must be missing), on 1 and 2 ranks (the same truth).

    check_dataset_truth.py TESSERA WORK_DIR SEED

Exit 0 when every check holds, 1 naming each failure, 77 (a ctest skip) without h5py."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "grn_motifs.py")

from check_grn_motifs import table  # noqa: E402  (the TSV reader of the generator's tables)


def main():
    try:
        import h5py
    except ImportError as e:
        print("check_dataset_truth: needs h5py (%s): skipped" % e, file=sys.stderr)
        return 77
    tessera, work, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    gen = os.path.join(work, "gen")
    subprocess.check_call([sys.executable, TOOL, "--seed", str(seed), "--out", gen, "--cells", "40",
                           "--truth-model", "sigmoid"], stdout=subprocess.DEVNULL)
    with h5py.File(os.path.join(gen, "model.h5"), "r+") as f:
        names = [g.decode() if isinstance(g, bytes) else str(g) for g in f["genes"][...]]
        types = [t.decode() if isinstance(t, bytes) else str(t) for t in f["cell_types"][...]]
        edge_type, source, target = f["edges/type"][...], f["edges/source"][...], f["edges/target"][...]
        W = f["params/all/W"][...]
        dropped = (types[int(edge_type[0])], int(source[0]), int(target[0]))
        W[0] = 0.0
        f["params/all/W"][...] = W
    expected = {t: set() for t in types}
    for r in table(os.path.join(gen, "truth.tsv")):
        edge = (names.index(r["source"]), names.index(r["target"]), -1 if r["sign"] == "-" else 1)
        for t in (types if r["type"] == "*" else [r["type"]]):
            if (t, edge[0], edge[1]) != dropped:
                expected[t].add(edge)
    failures = []
    if not any(expected.values()):
        failures.append("truth.tsv has no edge")
    for ranks in (1, 2):
        out = os.path.join(work, "sim_np%d" % ranks)
        launcher = ["mpirun", "-np", str(ranks)] if ranks > 1 else []
        subprocess.check_call(launcher + [tessera, "run", os.path.join(gen, "run.yaml"), "-o", out, "--overwrite"],
                              stdout=subprocess.DEVNULL)
        with h5py.File(os.path.join(out, "dataset.h5"), "r") as f:
            if "grn/truth" not in f:
                failures.append("%d ranks: dataset.h5 has no /grn/truth" % ranks)
                continue
            stored = {name: {tuple(int(v) for v in e) for e in edges[...]} for name, edges in f["grn/truth"].items()}
        for t in types:
            if stored.get(t, set()) != expected[t]:
                failures.append("%d ranks: /grn/truth/%s is %s, truth.tsv less the zeroed edge says %s"
                                % (ranks, t, sorted(stored.get(t, set())), sorted(expected[t])))
        if (dropped[1], dropped[2], 1) in stored.get(dropped[0], set()) or \
                (dropped[1], dropped[2], -1) in stored.get(dropped[0], set()):
            failures.append("%d ranks: the edge whose W is 0 is recorded as true" % ranks)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    if not failures:
        print("dataset /grn/truth of a sigmoid deck matches truth.tsv (seed %d, 1 and 2 ranks, one W zeroed)" % seed)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
