#!/usr/bin/env python3
"""tools/recovery_misses.py on a work directory built here with a known answer: one type, 2 true edges and 4
decoys ranked T1 D1 D2 T2 D3 D4 (AUPRC (1 + 2/4) / 2 = 0.75, below the ridge's 0.9); moving T2 alone above
D1 gives AUPRC 1; T2's regulator is above its threshold h = 0.5 in 3 of the 4 cell-times of the training
times (the 5th time is held out by the 0.2 validation split) and within a factor 2 of h in 2 of them. A
second type at AUPRC 1 is not listed.

    check_recovery_misses.py WORK_DIR

Exit 0 when the output says exactly that, 1 naming what differs, 77 (a ctest skip) without numpy or h5py."""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "recovery_misses.py")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        print("check_recovery_misses: needs numpy and h5py (%s): skipped" % e)
        return 77
    seed = os.path.join(sys.argv[1], "seed1")
    genes, types = ["A", "B", "C", "D"], ["epi", "mes"]
    write(os.path.join(seed, "network.json"), json.dumps({"genes": genes, "types": types}))
    # True edges A -> B (T1) and C -> D (T2), in both types; the decoys of each type are 4 other pairs.
    write(os.path.join(seed, "truth.tsv"), "type\tsource\ttarget\tsign\tK\th\tn\n"
          "*\tA\tB\t+\t1\t0.3\t2\n*\tC\tD\t-\t1\t0.5\t2\n")
    decoys = [("B", "A"), ("B", "C"), ("D", "A"), ("D", "C")]
    write(os.path.join(seed, "prior.tsv"), "type\tsource\ttarget\n" + "".join(
        "%s\t%s\t%s\n" % (t, s, d) for t in types for s, d in [("A", "B"), ("C", "D")] + decoys))
    # 5 times x 2 cells (cell 0 epi, cell 1 mes); C in the epi cell over the 4 training times: 0.2 (below h
    # and out of [h/2, 2h]), 0.6, 0.9 (above h, within 2h), 3.0 (above, out); the 5th time is held out.
    x = np.zeros((5, 2, 4))
    x[:, 0, 2] = [0.2, 0.6, 0.9, 3.0, 0.0]
    os.makedirs(os.path.join(seed, "sim"), exist_ok=True)
    with h5py.File(os.path.join(seed, "sim", "dataset.h5"), "w") as f:
        f["expression"] = x
        f["cell_type"] = np.array([0, 1], dtype=np.int32)
        f["cell_types"] = np.array([t.encode() for t in types])
    run = os.path.join(seed, "sigmoid_prior")
    ranked = {"epi": [("A", "B", 6), ("B", "A", 5), ("B", "C", 4), ("C", "D", 3), ("D", "A", 2), ("D", "C", 1)],
              "mes": [("A", "B", 6), ("C", "D", 5), ("B", "A", 4), ("B", "C", 3), ("D", "A", 2), ("D", "C", 1)]}
    for t, rows in ranked.items():
        write(os.path.join(run, "grn_%s.tsv" % t), "source\ttarget\tweight\tsign\teffect\n" + "".join(
            "%s\t%s\t%s\t+\t%s\n" % (s, d, -7.5 if (s, d) == ("C", "D") else 0.1 * e, 0.1 * e) for s, d, e in rows))
    write(os.path.join(run, "metrics.json"), json.dumps({"grn": {t: {"ridge": {"auprc": 0.9}} for t in types}}))

    out = subprocess.run([sys.executable, TOOL, "--work", sys.argv[1], "--family", "sigmoid"],
                         capture_output=True, text=True)
    print(out.stdout + out.stderr)
    failures = []
    if out.returncode != 0:
        failures.append("exit %d" % out.returncode)
    lines = out.stdout.strip().split("\n")
    want = [r"^seed1 prior epi: AUPRC 0\.750, ridge 0\.900$",
            r"^  C -> D \(effect 0\.3, weight -7\.5\): AUPRC moved above the first decoy 1\.000; C above h = 0\.5 "
            r"in 75 % of the cells, within a factor 2 of h in 50 %, median 0\.75$"]
    if len(lines) != len(want) or not all(re.match(w, l) for w, l in zip(want, lines)):
        failures.append("expected exactly the lines\n  %s" % "\n  ".join(want))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
