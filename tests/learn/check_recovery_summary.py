#!/usr/bin/env python3
"""tools/recovery_suite.py --merge on two result files written here with a known answer: its table of perfect
rankings beside the ridge baseline's (the summary at the head of docs/performance.md "Inference").

File a: seed 1, hill with the prior, types t1 (model AUPRC 1, ridge 0.9), t2 (model 1 - 1e-13, a perfect
ranking to rounding, ridge 0.99) and t3 (model 0.95, ridge 0.97); file b: seed 2, hill with the prior, type
t1 (model 1, ridge 1), and seed 2, sigmoid dense, type t1 (model 0.8, ridge 0.5). Merged: hill prior over 2
seeds and 4 types, 3 perfect against the ridge's 1, 3 at or above the ridge, lowest AUPRC 0.950 and 0.900;
sigmoid dense 1 seed, 1 type, none perfect, 1 above the ridge. A third file repeating seed 2's hill run is
refused (exit 2, naming both files): it would be counted twice.

    check_recovery_summary.py WORK_DIR

Exit 0 when the table says exactly that, 1 naming what differs, 77 (a ctest skip) without numpy or h5py (the
suite's own requirement)."""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "..", "..", "tools", "recovery_suite.py")


def result(seed, family, graph, types):
    """One training run's entry of recovery_suite.py --json, with `types` as (name, AUPRC, ridge AUPRC)."""
    random_auprc = 1.0 / 3 if graph == "prior" else 0.1
    return {"label": "seed %d %s %s" % (seed, family, graph), "truth_model": "hill", "seed": seed, "genes": 10,
            "n_types": len(types), "dim": 2, "motion": "static", "family": family, "graph": graph,
            "types": [{"type": name, "candidates": 6, "true": 2, "auprc": auprc, "ratio": auprc / random_auprc,
                       "sign_accuracy": 1.0, "weight_auprc": auprc, "ridge_auprc": ridge,
                       "ridge_ratio": ridge / random_auprc, "ridge_sign_accuracy": 1.0,
                       "random_auprc": random_auprc, "random_precision": random_auprc}
                      for name, auprc, ridge in types],
            "validation_mse": {"model": 1e-5, "no_change": 1e-3, "relaxation": 1e-4}, "lr_pairs": None,
            "wall_s": 1.0, "mean_change": 0.1, "targets_met": True, "targets_missed": []}


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    files = {"a.json": [result(1, "hill", "prior", [("t1", 1.0, 0.9), ("t2", 1.0 - 1e-13, 0.99), ("t3", 0.95, 0.97)])],
             "b.json": [result(2, "hill", "prior", [("t1", 1.0, 1.0)]),
                        result(2, "sigmoid", "dense", [("t1", 0.8, 0.5)])]}
    paths = []
    for name, results in files.items():
        paths.append(os.path.join(work, name))
        with open(paths[-1], "w") as f:
            json.dump({"command": "written by check_recovery_summary.py", "results": results}, f)
    table = os.path.join(work, "merged.md")
    out = subprocess.run([sys.executable, SUITE, "--merge"] + paths + ["--table", table], capture_output=True,
                         text=True)
    print(out.stdout + out.stderr)
    if out.returncode == 77:
        return 77
    if out.returncode != 0:
        print("FAIL: recovery_suite.py --merge exited %d" % out.returncode)
        return 1
    with open(table) as f:
        text = f.read()
    print(text)
    section = text.split("Perfect rankings (AUPRC 1) of the model and of the ridge baseline")
    want = [r"^\| hill \| hill \| prior \| 2 \| 4 \| 3 \| 1 \| 3 \| 0\.950 \| 0\.900 \| 0\.333 \|$",
            r"^\| hill \| sigmoid \| dense \| 1 \| 1 \| 0 \| 0 \| 1 \| 0\.800 \| 0\.500 \| 0\.100 \|$"]
    rows = [l for l in section[-1].split("\n") if l.startswith("| hill |")] if len(section) == 2 else []
    if len(rows) != len(want) or not all(re.match(w, r) for w, r in zip(want, rows)):
        print("FAIL: expected the perfect-ranking table's rows to be exactly\n  " + "\n  ".join(want))
        return 1
    # The same run in two files would be counted twice: refused, naming both.
    again = os.path.join(work, "again.json")
    with open(again, "w") as f:
        json.dump({"command": "written by check_recovery_summary.py", "results": files["b.json"][:1]}, f)
    out = subprocess.run([sys.executable, SUITE, "--merge"] + paths + [again, "--table", table], capture_output=True,
                         text=True)
    print(out.stdout + out.stderr)
    if out.returncode != 2 or not re.search(r"again\.json: seed 2 hill prior \(hill data\) is also in .*b\.json",
                                            out.stderr):
        print("FAIL: expected exit 2 naming again.json's seed 2 hill prior as also in b.json")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
