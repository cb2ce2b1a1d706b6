#!/usr/bin/env python3
"""Checks a `tessera predict` directory against its own deck (the resolved deck stored in tessera.h5):
every perturbation's cells are found again from the step-0 ids, types and positions, clamped genes hold their
value exactly at every step in those cells and nowhere else, scaled genes start at value x the unperturbed
start; optionally compares with an unperturbed prediction (--base), another run (--same-as, with a relative
tolerance) and checks that a knock-out lowers a target gene (--lowers GENE)."""
import argparse
import sys

import h5py
import numpy as np
import yaml


def fail(msg):
    print("check_predict: " + msg, file=sys.stderr)
    sys.exit(1)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def length_um(v):
    """A deck length: a number (um) or a string with an um/mm suffix."""
    if isinstance(v, (int, float)):
        return float(v)
    number, _, unit = text(v).strip().partition(" ")
    return float(number) * {"": 1.0, "um": 1.0, "mm": 1000.0}[unit.strip()]


def load(run_dir):
    """Root attributes, gene and type names, and per output step (time, arrays sorted by cell id)."""
    with h5py.File(f"{run_dir}/tessera.h5", "r") as f:
        attrs = {k: f.attrs[k] for k in f.attrs}
        genes = [text(g) for g in f["genes"][()]]
        types = [text(t) for t in f["cell_types"][()]]
        steps = {}
        for name in sorted(f["steps"].keys(), key=int):
            g = f[f"steps/{name}"]
            order = np.argsort(g["id"][()])
            steps[int(name)] = {
                "time": float(g.attrs["time"]),
                "id": g["id"][()][order],
                "type": g["type"][()][order],
                "position": g["position"][()][order],
                "genes": g["genes"][()][order],
            }
    return attrs, genes, types, steps


ap = argparse.ArgumentParser()
ap.add_argument("run_dir")
ap.add_argument("--base", help="the same prediction without perturbations")
ap.add_argument("--lowers", help="gene whose mean in the first knock-out's cells must end below --base's")
ap.add_argument("--same-as", help="another run of the same prediction (e.g. on another rank count)")
ap.add_argument("--tol", type=float, default=0.0, help="relative tolerance for --same-as")
ap.add_argument("--min-selected", type=int, default=1, help="cells every perturbation must select")
args = ap.parse_args()

attrs, genes, types, steps = load(args.run_dir)
if text(attrs.get("subcommand", "")) != "predict":
    fail(f"subcommand attribute is {attrs.get('subcommand')!r}, not 'predict'")
for key in ("predict_model", "predict_perturbations", "deck"):
    if key not in attrs:
        fail(f"root attribute '{key}' missing")
deck = yaml.safe_load(text(attrs["deck"]))
perturbations = (deck.get("predict") or {}).get("perturbations") or []
first = steps[min(steps)]
ids = first["id"]
base = load(args.base)[3] if args.base else None

selections = []
for k, p in enumerate(perturbations):
    selected = np.ones(len(ids), dtype=bool)
    if p.get("types") is not None:
        selected &= np.isin(first["type"], [types.index(t) for t in p["types"]])
    if p.get("ids") is not None:
        selected &= np.isin(ids, [int(i) for i in p["ids"]])
    region = p.get("region") or {}
    pos = first["position"]
    if "lo" in region:
        lo = np.array([length_um(v) for v in region["lo"]])
        hi = np.array([length_um(v) for v in region["hi"]])
        selected &= np.all((pos >= lo) & (pos <= hi), axis=1)
    if "center" in region:
        c = np.array([length_um(v) for v in region["center"]])
        selected &= np.sum((pos - c) ** 2, axis=1) <= length_um(region["radius"]) ** 2
    if selected.sum() < args.min_selected:
        fail(f"perturbation {k} selects {selected.sum()} cells, expected at least {args.min_selected}")
    selections.append(selected)
    print(f"perturbation {k}: {p['action']} {p['gene']}: {selected.sum()} cells")

# Clamps: exactly the value at every step in the selected cells (the last clamp of a gene wins).
for step, s in steps.items():
    if not np.array_equal(s["id"], ids):
        fail(f"step {step}: the cells differ from step {min(steps)} (a prediction with division or death?)")
    clamped = {}
    for p, selected in zip(perturbations, selections):
        if p["action"] == "scale":
            continue
        g = genes.index(p["gene"])
        value = 0.0 if p["action"] == "knockout" else float(p["value"])
        mask, values = clamped.get(g, (np.zeros(len(ids), dtype=bool), np.zeros(len(ids))))
        clamped[g] = (mask | selected, np.where(selected, value, values))
    for g, (mask, values) in clamped.items():
        bad = np.nonzero(s["genes"][mask, g] != values[mask])[0]
        if len(bad):
            i = np.nonzero(mask)[0][bad[0]]
            fail(f"step {step}: cell {ids[i]}: {genes[g]} = {s['genes'][i, g]!r}, clamped to {values[i]!r}")
        if step != min(steps) and (~mask).any():
            free = s["genes"][~mask, g] != first["genes"][~mask, g]
            if not free.any():
                fail(f"step {step}: {genes[g]} did not change in any unselected cell: clamped beyond the selection")

if base is not None:
    b0 = base[min(base)]
    if not np.array_equal(b0["id"], ids):
        fail("--base has other cells")
    expected = b0["genes"].copy()
    for p, selected in zip(perturbations, selections):
        g = genes.index(p["gene"])
        if p["action"] == "scale":
            expected[selected, g] *= float(p["value"])
        else:
            expected[selected, g] = 0.0 if p["action"] == "knockout" else float(p["value"])
    if not np.array_equal(expected, first["genes"]):
        i, g = np.argwhere(expected != first["genes"])[0]
        fail(f"step 0: cell {ids[i]}: {genes[g]} = {first['genes'][i, g]!r}, expected {expected[i, g]!r} "
             "from the unperturbed start and the perturbations")
    if args.lowers:
        ko = next(k for k, p in enumerate(perturbations) if p["action"] == "knockout")
        g = genes.index(args.lowers)
        last = max(steps)
        perturbed = steps[last]["genes"][selections[ko], g].mean()
        unperturbed = base[last]["genes"][selections[ko], g].mean()
        print(f"{args.lowers} in the knocked-out cells at step {last}: {perturbed:.6g} (unperturbed {unperturbed:.6g})")
        if not perturbed < unperturbed:
            fail(f"knocking out {perturbations[ko]['gene']} did not lower {args.lowers}: "
                 f"{perturbed:.6g} >= {unperturbed:.6g}")

if args.same_as:
    other = load(args.same_as)[3]
    if sorted(other) != sorted(steps):
        fail(f"--same-as has steps {sorted(other)}, this run {sorted(steps)}")
    worst = 0.0
    for step, s in steps.items():
        o = other[step]
        if not np.array_equal(o["id"], s["id"]) or not np.array_equal(o["type"], s["type"]):
            fail(f"step {step}: other cells in --same-as")
        for field in ("genes", "position"):
            diff = np.abs(o[field] - s[field]) / np.maximum(np.abs(s[field]), 1e-300)
            worst = max(worst, float(np.max(diff, initial=0.0)))
    print(f"worst relative difference from {args.same_as}: {worst:.3g}")
    if worst > args.tol:
        fail(f"differs from {args.same_as} by {worst:.3g} relative (tolerance {args.tol:g})")
print("check_predict: OK")
