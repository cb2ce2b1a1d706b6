#!/usr/bin/env python3
"""Checks, with h5py as a user reads it, the parts of tessera.h5 that exist for readers other than tessera:

- list(f["steps"]) gives the step groups in the order written (ascending step numbers for these runs), not
  in name order ("100" before "20");
- /steps_index holds one (step, time) row per step group, in the same order, with each group's time;
- /steps/<n>/gene_columns lists 0..G-1 in order and column g equals /steps/<n>/genes[:, g];
- /vertex_index is 0, 1, ..., M - 1 for M the most cells of any step.

Usage: check_h5_layout.py RUN_DIR [RUN_DIR ...]. Exits 1 listing every problem, 77 (skipped) without h5py.
"""

import os
import sys

try:
    import h5py
    import numpy as np
except ImportError:
    print("check_h5_layout.py: h5py is not installed; skipping", file=sys.stderr)
    sys.exit(77)


def check(run):
    problems = []
    path = os.path.join(run, "tessera.h5")
    with h5py.File(path, "r") as f:
        listed = list(f["steps"])
        by_number = sorted(listed, key=int)
        if listed != by_number:
            problems.append(f"list(f['steps']) is {listed}, expected step order {by_number}")
        if len(listed) < 10:
            problems.append(f"only {len(listed)} steps: too few to tell name order from step order")
        missing = [name for name in ("steps_index", "vertex_index") if name not in f]
        if missing:
            return [f"{path}: {p}" for p in problems] + [f"{path}: no {', '.join(missing)}"]
        index = f["steps_index"][()]
        if index.dtype.names != ("step", "time"):
            problems.append(f"/steps_index fields are {index.dtype.names}, expected ('step', 'time')")
        else:
            steps = [int(s) for s in index["step"]]
            if steps != [int(s) for s in listed]:
                problems.append(f"/steps_index steps {steps} differ from the groups {listed}")
            times = [float(f["steps"][s].attrs["time"]) for s in listed]
            if not np.array_equal(index["time"], times):
                problems.append(f"/steps_index times {list(index['time'])} differ from the groups' {times}")
            if steps and f["steps_index"][-1]["step"] != int(by_number[-1]):
                problems.append("f['steps_index'][-1] is not the last step")
        largest = 0
        for name in listed:
            group = f["steps"][name]
            genes = group["genes"][()]
            largest = max(largest, genes.shape[0])
            if "gene_columns" not in group:
                problems.append(f"/steps/{name} has no gene_columns")
                continue
            columns = list(group["gene_columns"])
            if columns != [str(g) for g in range(genes.shape[1])]:
                problems.append(f"/steps/{name}/gene_columns lists {columns}")
                continue
            for g in range(genes.shape[1]):
                if not np.array_equal(group["gene_columns"][str(g)][()], genes[:, g]):
                    problems.append(f"/steps/{name}/gene_columns/{g} differs from genes[:, {g}]")
        vertex_index = f["vertex_index"][()]
        if not np.array_equal(vertex_index, np.arange(largest)):
            problems.append(f"/vertex_index has {vertex_index.shape[0]} entries, not 0..{largest - 1}")
    return [f"{path}: {p}" for p in problems]


def main(runs):
    if not runs:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    for run in runs:
        found = check(run)
        problems += found
        if not found:
            print(f"{run}: OK")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
