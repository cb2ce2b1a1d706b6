#!/usr/bin/env python3
"""Checks a `tessera run` directory: tessera.h5 holds the expected steps, each with the expected number of
cells, unique ids, finite genes and consistent shapes; summary.csv has one row per output step."""
import argparse
import csv
import math
import sys

import h5py
import numpy as np


def fail(msg):
    print("check_run: " + msg, file=sys.stderr)
    sys.exit(1)


ap = argparse.ArgumentParser()
ap.add_argument("run_dir")
ap.add_argument("--cells", type=int, required=True, help="expected cells at the first step (and every step unless --growing)")
ap.add_argument("--growing", action="store_true", help="cells divide and die: later steps may differ in count")
ap.add_argument("--steps", required=True, help="expected output steps, comma-separated")
ap.add_argument("--ranks", type=int, required=True)
ap.add_argument("--incomplete", action="store_true",
                help="the run failed: tessera.h5 must say complete = 0 (else 1), last_step its last output step")
args = ap.parse_args()
steps = [int(s) for s in args.steps.split(",")]

with h5py.File(f"{args.run_dir}/tessera.h5", "r") as f:
    attrs = f.attrs
    if attrs["format"] not in ("tessera-simulation", b"tessera-simulation"):
        fail("format attribute is not tessera-simulation")
    if int(attrs["ranks"]) != args.ranks:
        fail(f"ranks attribute {attrs['ranks']} != {args.ranks}")
    for key in ("version", "git_hash", "deck", "kokkos_backend"):
        if key not in attrs:
            fail(f"root attribute '{key}' missing")
    # Completion marks (issue 8, item 18) and units (item 8).
    if int(attrs.get("complete", -1)) != (0 if args.incomplete else 1):
        fail(f"complete attribute {attrs.get('complete')} != {0 if args.incomplete else 1}")
    if int(attrs["last_step"]) != steps[-1]:
        fail(f"last_step attribute {attrs['last_step']} != the last output step {steps[-1]}")
    if float(attrs["last_time"]) != float(f[f"steps/{steps[-1]}"].attrs["time"]):
        fail(f"last_time attribute {attrs['last_time']} != the time of step {steps[-1]}")
    if attrs.get("time_units") != "min":
        fail(f"time_units attribute {attrs.get('time_units')!r} != 'min'")
    for field, units in (("position", "um"), ("radius", "um"), ("cycle", "min")):
        found = f[f"steps/{steps[-1]}/{field}"].attrs.get("units")
        if found != units:
            fail(f"step {steps[-1]}: '{field}' has units {found!r}, expected {units!r}")
    genes = [g.decode() if isinstance(g, bytes) else g for g in f["genes"][()]]
    found = sorted(int(s) for s in f["steps"].keys())
    if found != steps:
        fail(f"steps {found} != expected {steps}")
    dim = int(attrs["dim"])
    ids0 = None
    for s in steps:
        g = f[f"steps/{s}"]
        n = int(g.attrs["cells"])
        if n != args.cells and (s == steps[0] or not args.growing):
            fail(f"step {s}: {n} cells, expected {args.cells}")
        if len(g["id"]) != n:
            fail(f"step {s}: the cells attribute says {n} but the id dataset has {len(g['id'])} rows")
        ids = g["id"][()]
        if len(np.unique(ids)) != n:
            fail(f"step {s}: duplicate ids")
        if ids0 is None:
            ids0 = set(ids.tolist())
        elif not args.growing and set(ids.tolist()) != ids0:
            fail(f"step {s}: the set of ids changed (no division or death in this deck)")
        if g["position"].shape != (n, dim) or g["genes"].shape != (n, len(genes)):
            fail(f"step {s}: shapes {g['position'].shape}, {g['genes'].shape}")
        if not np.all(np.isfinite(g["genes"][()])):
            fail(f"step {s}: non-finite genes")
        t = float(g.attrs["time"])
        if not math.isfinite(t):
            fail(f"step {s}: time attribute {t}")

with open(f"{args.run_dir}/summary.csv") as fh:
    rows = list(csv.DictReader(fh))
if [int(r["step"]) for r in rows] != steps:
    fail(f"summary.csv steps {[r['step'] for r in rows]} != {steps}")
if int(rows[0]["cells"]) != args.cells or (not args.growing and any(int(r["cells"]) != args.cells for r in rows)):
    fail("summary.csv cell counts differ from expected")
print(f"check_run: {args.run_dir}: {len(steps)} steps x {args.cells} cells OK")
