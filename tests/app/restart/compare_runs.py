#!/usr/bin/env python3
"""Compares a restarted `tessera run` (or `tessera predict`) directory with an uninterrupted run of the same deck: the same output
steps (tessera.h5's /steps_index, and the groups under /steps), at each of them the same cells (matched by id:
type, position, radius, genes, cycle), the same summary.csv rows, a complete output and a log that says it
restarted. --tol is the largest relative difference allowed in the real fields (0: bit for bit), in the
diffusible fields (relative to each field's maximum) and in the summary's numbers; --summary-tol overrides it for summary.csv alone (its sums over cells run in each rank's
memory order, which another rank count changes); --sd-tol, an absolute tolerance, for its sd_ columns alone:
where a gene hardly varies its sd is a few roundings of the gene's scale (1e-16 x scale), which a relative
tolerance would not take."""
import argparse
import csv
import re
import sys

import h5py
import numpy as np


def fail(msg):
    print("compare_runs: " + msg, file=sys.stderr)
    sys.exit(1)


def steps(path):
    with h5py.File(path, "r") as f:
        index = [(int(r["step"]), float(r["time"])) for r in f["steps_index"][()]]
        groups = sorted(int(k) for k in f["steps"].keys())
        out = {}
        for step, _ in index:
            g = f[f"steps/{step}"]
            order = np.argsort(g["id"][()], kind="stable")
            out[step] = {k: g[k][()][order] for k in ("id", "type", "position", "radius", "genes", "cycle")}
            out[step]["fields"] = {k: v[()] for k, v in g["fields"].items()} if "fields" in g else {}
            out[step]["time"] = g.attrs["time"]
        return index, groups, out, int(f.attrs["complete"])


def worst_relative(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))


def summary_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("reference", help="uninterrupted run directory")
    p.add_argument("restarted", help="restarted run directory")
    p.add_argument("--tol", type=float, default=0.0)
    p.add_argument("--summary-tol", type=float, default=None)
    p.add_argument("--sd-tol", type=float, default=None,
                   help="absolute, for summary.csv's sd_ columns (default: --summary-tol)")
    p.add_argument("--restarts", type=int, default=1, help="restart lines the log must hold (at least)")
    a = p.parse_args()
    summary_tol = a.tol if a.summary_tol is None else a.summary_tol
    sd_tol = summary_tol if a.sd_tol is None else a.sd_tol

    ri, rg, ref, _ = steps(f"{a.reference}/tessera.h5")
    si, sg, got, complete = steps(f"{a.restarted}/tessera.h5")
    if complete != 1:
        fail(f"{a.restarted}/tessera.h5: complete = {complete}, expected 1")
    if ri != si:
        fail(f"/steps_index differs: {ri} vs {si}")
    if rg != sg:
        fail(f"/steps groups differ: {rg} vs {sg}")
    worst = 0.0
    for step, _ in ri:
        r, s = ref[step], got[step]
        if not np.array_equal(r["id"], s["id"]):
            fail(f"step {step}: the cell ids differ ({len(r['id'])} vs {len(s['id'])} cells)")
        if not np.array_equal(r["type"], s["type"]):
            fail(f"step {step}: cell types differ")
        if r["time"] != s["time"]:
            fail(f"step {step}: time {r['time']!r} vs {s['time']!r}")
        for k in ("position", "radius", "genes", "cycle"):
            w = worst_relative(r[k], s[k])
            worst = max(worst, w)
            if w > a.tol:
                fail(f"step {step}: {k} differs by {w:.3g} relative (tolerance {a.tol:g})")
        # Diffusible fields: the same substrates, each relative to its largest value (a voxel far from any
        # source can hold 1e-30, where a relative difference means nothing).
        if sorted(r["fields"]) != sorted(s["fields"]):
            fail(f"step {step}: fields {sorted(r['fields'])} vs {sorted(s['fields'])}")
        for name, u in r["fields"].items():
            v = s["fields"][name]
            if u.shape != v.shape:
                fail(f"step {step}: field {name} has shape {v.shape}, expected {u.shape}")
            w = float(np.max(np.abs(u - v)) / max(float(np.max(np.abs(u))), 1e-300)) if u.size else 0.0
            worst = max(worst, w)
            if w > a.tol:
                fail(f"step {step}: field {name} differs by {w:.3g} of its maximum (tolerance {a.tol:g})")

    rs = summary_rows(f"{a.reference}/summary.csv")
    ss = summary_rows(f"{a.restarted}/summary.csv")
    if rs[0] != ss[0]:
        fail("summary.csv headers differ")
    if [row[0] for row in rs] != [row[0] for row in ss]:
        fail(f"summary.csv steps differ: {[r[0] for r in rs[1:]]} vs {[r[0] for r in ss[1:]]}")
    for x, y in zip(rs[1:], ss[1:]):
        for column, u, v in zip(rs[0], x, y):
            sd = column.startswith("sd_")
            tol = sd_tol if sd else summary_tol
            w = 0.0 if u == v else abs(float(u) - float(v)) if sd else worst_relative([float(u)], [float(v)])
            if w > tol:
                fail(f"summary.csv step {x[0]}, column {column}: {u} vs {v} ({w:.3g} {'absolute' if sd else 'relative'}, tolerance {tol:g})")

    with open(f"{a.restarted}/tessera.log") as f:
        restarts = sum(re.match(r"tessera (run|predict): restarting from", line) is not None for line in f)
    if restarts < a.restarts:
        fail(f"{a.restarted}/tessera.log: {restarts} restart line(s), expected at least {a.restarts}")
    # tessera.h5 says which command wrote the steps after each restart, and the uninterrupted run has none.
    with h5py.File(f"{a.restarted}/tessera.h5", "r") as f:
        lines = [x.decode() for x in f["restarts"][()]] if "restarts" in f else []
    with h5py.File(f"{a.reference}/tessera.h5", "r") as f:
        if "restarts" in f:
            fail(f"{a.reference}/tessera.h5: an uninterrupted run has /restarts")
    if len(lines) != restarts or not all(x.startswith("from step ") and " ranks, host " in x and "--restart" in x
                                         for x in lines):
        fail(f"{a.restarted}/tessera.h5: /restarts = {lines}, expected {restarts} line(s) 'from step N at ... "
             "on R ranks, host H: <command with --restart>'")
    print(f"compare_runs: {len(ri)} output steps, {len(ref[ri[-1][0]]['id'])} cells at the last, worst "
          f"relative difference {worst:.3g}; summary.csv {len(rs) - 1} rows agree")


if __name__ == "__main__":
    main()
