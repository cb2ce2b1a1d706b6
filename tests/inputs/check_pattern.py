#!/usr/bin/env python3
"""Checks that an example deck's run shows the pattern its comments promise, quantitatively, from the run's
tessera.h5 alone (positions, genes and the resolved deck stored in it); neighbours are found here with a k-d
tree (scipy), independently of tessera's neighbour lists.

  check_pattern.py RUN_DIR lateral-inhibition   inputs/lateral_inhibition.yaml (Collier et al. 1996)
  check_pattern.py RUN_DIR spheroid             inputs/spheroid_3d.yaml
  check_pattern.py RUN_DIR quickstart           inputs/quickstart.yaml
  check_pattern.py RUN_DIR toggle               inputs/lattice_3d.yaml
  check_pattern.py RUN_DIR morphogen            inputs/morphogen_gradient.yaml
  check_pattern.py RUN_DIR hypoxia              inputs/spheroid_oxygen.yaml

Exit 0 when every check holds, 1 naming the first one that does not; every measured number is printed."""
import argparse
import sys

import h5py
import numpy as np
import yaml
from scipy.integrate import solve_ivp
from scipy.spatial import cKDTree

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def length_um(value):
    """A deck length: a number (um) or 'x um' / 'x mm'."""
    if isinstance(value, (int, float)):
        return float(value)
    number, _, unit = str(value).strip().partition(" ")
    scale = {"": 1.0, "um": 1.0, "mm": 1000.0}[unit.strip()]
    return float(number) * scale


class Run:
    def __init__(self, run_dir):
        with h5py.File(f"{run_dir}/tessera.h5", "r") as f:
            self.genes = [g.decode() if isinstance(g, bytes) else g for g in f["genes"][()]]
            self.types = [t.decode() if isinstance(t, bytes) else t for t in f["cell_types"][()]]
            self.deck = yaml.safe_load(f.attrs["deck"])
            self.steps = []
            for s in sorted(int(s) for s in f["steps"].keys()):
                g = f[f"steps/{s}"]
                order = np.argsort(g["id"][()])
                self.steps.append({"step": s, "time": float(g.attrs["time"]), "id": g["id"][()][order],
                                   "type": g["type"][()][order], "position": g["position"][()][order],
                                   "genes": g["genes"][()][order], "cycle": g["cycle"][()][order],
                                   "fields": {k: v[()] for k, v in g["fields"].items()} if "fields" in g else {}})
        domain = self.deck["domain"]
        self.lo = np.array([length_um(v) for v in domain["lo"]])
        self.hi = np.array([length_um(v) for v in domain["hi"]])
        self.periodic = domain.get("boundary", "periodic") == "periodic"
        self.range = length_um(self.deck["signaling"]["range"]) if "signaling" in self.deck else None

    def gene(self, step, name):
        return step["genes"][:, self.genes.index(name)]

    def neighbours(self, step, r=None):
        """Index lists of each cell's neighbours within r (default: signaling.range, d <= r as SPEC §2),
        through the periodic images when the box is periodic."""
        r = self.range if r is None else r
        p = step["position"] - self.lo
        if self.periodic:
            extent = self.hi - self.lo
            tree = cKDTree(np.mod(p, extent), boxsize=extent)
            p = np.mod(p, extent)
        else:
            tree = cKDTree(p)
        return [[j for j in near if j != i] for i, near in enumerate(tree.query_ball_point(p, r))]


def lateral_inhibition(run):
    """Collier et al. 1996 on a hexagonal lattice: Delta-high cells isolated, their fraction in [1/4, 1/3], and
    the same pattern, cell by cell, as an independent integration of the paper's equations.

    Why [1/4, 1/3]: the high cells form an independent set of the triangular lattice; a cell's 6 neighbours are
    a ring, of which at most 3 can be high without two touching, and every high cell has 6 low neighbours, so
    6 H <= 3 L and H / N <= 1/3 (the regular pattern with each low cell touching 3 high ones). With the deck's
    a = 0.1, the regular pattern where each low cell touches a single high one (H / N = 1/7) is unstable and
    the one where each touches 2 (H / N = 1/4) is stable (checked with the integration below started from
    those patterns): a pattern from small random perturbations mixes such arrangements and its low cells
    touch about 2.6 high ones on average, H / N = c / (6 + c) ~ 0.30; below 1/4 means the inhibition is too
    weak to select a single winner among neighbours, above 1/3 means high cells touch."""
    first, last = run.steps[0], run.steps[-1]
    nb = run.neighbours(last)
    counts = np.array([len(n) for n in nb])
    check(np.all(counts == 6), f"every cell has 6 neighbours within r_sig (found {counts.min()}..{counts.max()})")
    nb = np.array(nb)
    delta, notch = run.gene(last, "Delta"), run.gene(last, "Notch")
    # High d = g(n ~ 0) ~ 1, low d = g(n ~ 0.6) ~ 0.03: a decided cell is far from 0.5 either way.
    decided = np.mean((delta > 0.8) | (delta < 0.2))
    check(decided == 1.0, f"every cell decided (Delta > 0.8 or < 0.2): {decided:.4f}")
    high = delta > 0.5
    fraction = high.mean()
    check(0.25 <= fraction <= 1 / 3, f"Delta-high fraction {fraction:.4f} in [1/4, 1/3]")
    touching = int(np.sum(high[:, None] & high[nb]))
    check(touching == 0, f"no two Delta-high cells are neighbours ({touching // 2} touching pairs)")
    high_neighbours = high[nb].sum(axis=1)[~high]
    check(high_neighbours.min() >= 1,
          f"every Delta-low cell touches a Delta-high cell (high neighbours of low cells: "
          f"{np.bincount(high_neighbours, minlength=4).tolist()} with 0, 1, 2, 3)")
    check(notch[high].max() < notch[~high].min(),
          f"Notch is lower in every Delta-high cell (max {notch[high].max():.4f}) than in any Delta-low cell "
          f"(min {notch[~high].min():.4f})")

    # The paper's equations in their own form (mean over the 6 neighbours, a, b, v), from tessera's step-0
    # state. Cells are numbered by id in both; the neighbour table is the lattice's, found above.
    a, b, v, k, h = 0.1, 100.0, 1.0, 2, 2
    n_cells = len(delta)
    y0 = np.concatenate([run.gene(first, "Notch"), run.gene(first, "Delta")])

    def rhs(t, y):
        n, d = y[:n_cells], y[n_cells:]
        mean_d = d[nb].mean(axis=1)
        return np.concatenate([mean_d**k / (a + mean_d**k) - n, v * (1.0 / (1.0 + b * n**h) - d)])

    ref = solve_ivp(rhs, (first["time"], last["time"]), y0, method="LSODA", rtol=1e-9, atol=1e-12)
    check(ref.success, f"reference integration ({ref.message})")
    ref_delta = ref.y[n_cells:, -1]
    same = np.sum((ref_delta > 0.5) == high)
    check(same == n_cells, f"the same Delta-high cells as the reference integration: {same} of {n_cells}")
    # At the deck's end every cell sits at its fixed point, where RK4's error (dt_grn = 0.1 min: ~3e-4 at
    # t = 150 min, while cells still settle) has decayed away: both solutions meet there to ~1e-14.
    err = np.max(np.abs(ref_delta - delta))
    check(err < 1e-8, f"Delta equal to the reference within 1e-8 (max difference {err:.2e})")


def spheroid(run):
    """Lateral inhibition in the spheroid: Delta -> Notch -> Hes1 -| Delta in every cell. Delta-high cells
    (the 'winners') are a minority and stand apart, each surrounded by Hes1-high (inhibited) neighbours; no
    cell is both; progenitors' Diff follows their Hes1. The bounds leave room for the irregular 3-D packing
    (a cell has 1 to ~10 neighbours within r_sig) and for daughters that were born touching and have not yet
    resolved (division copies the mother's genes): without lateral inhibition (Delta never repressed, or
    Notch saturated by any neighbour) nearly every cell is Hes1-high and the fractions fall outside them."""
    last = run.steps[-1]
    nb = run.neighbours(last)
    delta, hes1, diff = run.gene(last, "Delta"), run.gene(last, "Hes1"), run.gene(last, "Diff")
    # Levels run from 0 to production / decay = 1: high means above half of that.
    d_high, h_high = delta > 0.5, hes1 > 0.5
    for t, name in enumerate(run.types):
        mine = last["type"] == t
        check(0.1 <= d_high[mine].mean() <= 0.45,
              f"{name}: Delta-high fraction {d_high[mine].mean():.3f} in [0.1, 0.45]")
        check(0.5 <= h_high[mine].mean() <= 0.85,
              f"{name}: Hes1-high fraction {h_high[mine].mean():.3f} in [0.5, 0.85]")
    both = np.mean(d_high & h_high)
    check(both <= 0.02, f"cells both Delta-high and Hes1-high: {both:.3f} <= 0.02")
    winners = np.flatnonzero(d_high)
    # The GRN of a step sees the neighbours as of the step's start (SPEC §2.3) and cells move ~0.9 um per
    # step (median): a pair that has just come within r_sig has not signalled yet, so touching is counted
    # within r_sig - 1 um.
    close = run.neighbours(last, run.range - 1.0)
    touching = np.mean([d_high[close[i]].any() for i in winners])
    check(touching <= 0.1, f"Delta-high cells with a Delta-high neighbour within r_sig - 1 um: {touching:.3f} <= 0.1")
    around = np.concatenate([nb[i] for i in winners]).astype(int)
    inhibited = h_high[around].mean()
    check(inhibited >= 0.9, f"neighbours of Delta-high cells that are Hes1-high: {inhibited:.3f} >= 0.9")
    progenitor = last["type"] == run.types.index("progenitor")
    # Diff = H_+(Hes1; 0.5, 3) at steady state; it lags Hes1, so only clearly decided cells are compared.
    on, off = progenitor & (hes1 > 0.7), progenitor & (hes1 < 0.3)
    follows = (np.sum(diff[on] > 0.5) + np.sum(diff[off] < 0.5)) / (on.sum() + off.sum())
    check(follows >= 0.95, f"progenitors with Hes1 > 0.7 (< 0.3) that have Diff above (below) 0.5: "
                           f"{follows:.3f} >= 0.95 ({on.sum()} on, {off.sum()} off)")
    stem_diff = diff[~progenitor].max()
    check(stem_diff < 1e-3, f"stem cells do not turn Diff on (max {stem_diff:.2e})")


def quickstart(run):
    """The two signalling claims of inputs/quickstart.yaml.
    Wnt -> Fzd: epithelial cells with a Wnt-high mesenchymal cell (a source) within r_sig go Snail-high,
    Ecad-low, Vim-high; those with none stay Snail-low, Ecad-high (Snail, Ecad and Vim range over [0, 2.3]:
    'high' is above 1). Delta -> Notch: salt and pepper in Hes1 as in spheroid(), levels in [0, 2]."""
    last = run.steps[-1]
    nb = run.neighbours(last)
    gene = lambda name: run.gene(last, name)
    types = last["type"]
    epithelial, mesenchymal = types == run.types.index("epithelial"), types == run.types.index("mesenchymal")
    source = mesenchymal & (gene("Wnt") > 1)
    near = np.array([source[n].any() for n in nb])
    snail, ecad, vim = gene("Snail") > 1, gene("Ecad") > 1, gene("Vim") > 1
    for label, cells, want in (("near a Wnt source", epithelial & near, True),
                               ("with no Wnt source", epithelial & ~near, False)):
        for name, high, want_high in (("Snail", snail, want), ("Ecad", ecad, not want), ("Vim", vim, want)):
            agree = np.mean(high[cells] == want_high)
            check(cells.sum() >= 20 and agree >= 0.85,
                  f"epithelial cells {label} ({cells.sum()}): {name} {'high' if want_high else 'low'} in "
                  f"{agree:.3f} >= 0.85")
    delta_high, hes1_high = gene("Delta") > 1, gene("Hes1") > 1
    check(0.05 <= delta_high.mean() <= 0.35, f"Delta-high fraction {delta_high.mean():.3f} in [0.05, 0.35]")
    check(0.5 <= hes1_high.mean() <= 0.9, f"Hes1-high fraction {hes1_high.mean():.3f} in [0.5, 0.9]")
    both = np.mean(delta_high & hes1_high)
    check(both <= 0.02, f"cells both Delta-high and Hes1-high: {both:.3f} <= 0.02")
    winners = np.flatnonzero(delta_high)
    close = run.neighbours(last, run.range - 1.0)  # as in spheroid(): pairs that met during the last step
    touching = np.mean([delta_high[close[i]].any() for i in winners])
    check(touching <= 0.1, f"Delta-high cells with a Delta-high neighbour within r_sig - 1 um: {touching:.3f} <= 0.1")
    inhibited = hes1_high[np.concatenate([nb[i] for i in winners]).astype(int)].mean()
    check(inhibited >= 0.9, f"neighbours of Delta-high cells that are Hes1-high: {inhibited:.3f} >= 0.9")


def toggle(run):
    """inputs/lattice_3d.yaml's toggle switch Olig2 -| Nkx22 -| Olig2 (the same K, h, n and decay both ways):
    every cell settles in one of the two states, one gene at least 5x the other, both states are common, and
    the winner is the gene that started higher (the symmetric switch's separatrix is the diagonal)."""
    first, last = run.steps[0], run.steps[-1]
    olig2, nkx22 = run.gene(last, "Olig2"), run.gene(last, "Nkx22")
    ratio = np.abs(np.log(olig2 / nkx22))
    decided = np.mean(ratio > np.log(5))
    check(decided >= 0.99, f"cells with one gene of the switch >= 5x the other: {decided:.4f} >= 0.99")
    olig2_state = np.mean(olig2 > nkx22)
    check(0.3 <= olig2_state <= 0.7, f"Olig2-high fraction {olig2_state:.3f} in [0.3, 0.7]")
    started = run.gene(first, "Olig2") > run.gene(first, "Nkx22")
    same = np.mean(started == (olig2 > nkx22))
    check(same >= 0.99, f"cells whose winner is the gene that started higher: {same:.4f} >= 0.99")


def morphogen(run):
    """inputs/morphogen_gradient.yaml's French flag. The field against its steady profile
    c(x) = cosh((L - x)/lambda) / cosh(L/lambda) (Dirichlet 1 at x = 0, no flux at x = L, lambda =
    sqrt(D / decay)) within 2 % of c(0) (the 10 um grid: ~0.1 %; 90 min after a start from 0 with decay
    0.1 /min: e^-9 of the way left); three bands of cells (blue on; blue off and white on; neither), each at
    least a fifth of the sheet, ordered along x with no overlap, their edges where the steady R = c/(1 + c)
    crosses the deck's thresholds, within one lattice spacing plus a voxel (20 um). A uniform field, no
    sensing or a sensing reversed in x fails these."""
    last = run.steps[-1]
    fields = run.deck["fields"]
    substrate = fields["substrates"][0]
    D = float(str(substrate["diffusion"]).split()[0])
    decay = float(str(substrate["decay"]).split()[0])
    lam, L = np.sqrt(D / decay), run.hi[0] - run.lo[0]
    profile = lambda x: np.cosh((L - x) / lam) / np.cosh(L / lam)
    h = length_um(fields["spacing"])
    c = last["fields"][substrate["name"]]  # [Ny][Nx]
    xc = run.lo[0] + (np.arange(c.shape[1]) + 0.5) * h
    err = np.max(np.abs(c - profile(xc)[None, :]))
    check(err < 0.02, f"morphogen against cosh((L - x)/lambda)/cosh(L/lambda), lambda = {lam:g} um: "
                      f"max difference {err:.4f} < 0.02")
    x = last["position"][:, 0]
    blue, white = run.gene(last, "blue") > 0.5, run.gene(last, "white") > 0.5
    bands = {"blue": blue, "white": ~blue & white, "red": ~blue & ~white}
    for name, cells in bands.items():
        check(cells.mean() >= 0.2, f"{name} band: {cells.mean():.3f} of the cells >= 0.2"
                                   + (f" (x in [{x[cells].min():.1f}, {x[cells].max():.1f}] um)" if cells.any() else ""))
    if failures:
        return
    edges = {}
    for (a, b) in (("blue", "white"), ("white", "red")):
        gap = x[bands[b]].min() - x[bands[a]].max()
        check(gap > 0, f"{a} band entirely left of the {b} band (gap {gap:.2f} um)")
        edges[a] = (x[bands[b]].min() + x[bands[a]].max()) / 2
    grid = np.linspace(0, L, 40001)
    r = profile(grid) / (1 + profile(grid))
    thresholds = {e["target"]: float(e["h"]) for e in run.deck["grn"]["edges"]}
    for name, gene in (("blue", "blue"), ("white", "white")):
        expected = run.lo[0] + grid[np.argmax(r < thresholds[gene])]
        check(abs(edges[name] - expected) <= 20.0, f"{name} band's edge at x = {edges[name]:.1f} um, expected "
                                                   f"{expected:.1f} um (R = {thresholds[gene]}) within 20 um")


def hypoxia(run):
    """inputs/spheroid_oxygen.yaml: oxygen-sensing gene O2s, division only while O2s >= the division threshold
    and death once O2s has stayed below the death threshold for the delay. Needs an output every step (the
    fates of a step use the genes at its end, which that step's output holds): a cell whose cycle clock fell
    (a division resets the mother's) had O2s >= the division threshold at the later step, so no hypoxic cell
    divided; every cell that vanished had O2s below the death threshold a step earlier; and the hypoxic cells
    sit nearer the centre than the others (a core), at least a tenth of the cells, while the oxygenated ones
    divide (at least 20 divisions) and at least 5 hypoxic ones die. Without sensing (O2s stays 1), or with division blind to it, these fail."""
    division = run.deck["cells"]["division"]
    death = run.deck["cells"]["death"]
    quiescent, dying = float(division["threshold"]), float(death["threshold"])
    hypoxic_divided = vanished = vanished_not_dying = divisions = 0
    steps = [s["step"] for s in run.steps]
    check(steps == list(range(steps[0], steps[-1] + 1)), f"an output every step ({len(steps)} outputs)")
    for a, b in zip(run.steps[:-1], run.steps[1:]):
        before, after = run.gene(a, "O2s"), run.gene(b, "O2s")
        dt = b["time"] - a["time"]
        later = {i: k for k, i in enumerate(b["id"])}
        for k, i in enumerate(a["id"]):
            if i not in later:
                vanished += 1
                vanished_not_dying += before[k] >= dying
                continue
            divided = b["cycle"][later[i]] < a["cycle"][k] + dt - 1e-6
            divisions += divided
            hypoxic_divided += divided and after[later[i]] < quiescent
    check(hypoxic_divided == 0, f"divisions of cells with O2s < {quiescent}: {hypoxic_divided} == 0")
    check(divisions >= 20, f"divisions of oxygenated cells: {divisions} >= 20")
    check(vanished >= 5 and vanished_not_dying == 0, f"dead cells: {vanished} >= 5, of which O2s was >= "
                                                     f"{dying} a step earlier: {vanished_not_dying} == 0")
    for s in (run.steps[len(run.steps) // 2], run.steps[-1]):
        o2 = run.gene(s, "O2s")
        r = np.linalg.norm(s["position"] - s["position"].mean(axis=0), axis=1)
        hyp = o2 < quiescent
        check(hyp.mean() >= 0.1, f"t = {s['time']:g} min: hypoxic fraction {hyp.mean():.3f} >= 0.1")
        if hyp.any() and (~hyp).any():
            check(r[hyp].mean() < r[~hyp].mean() - 5, f"t = {s['time']:g} min: hypoxic cells nearer the "
                  f"centre: mean radius {r[hyp].mean():.1f} um vs {r[~hyp].mean():.1f} um for the others")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("pattern",
                    choices=["lateral-inhibition", "spheroid", "quickstart", "toggle", "morphogen", "hypoxia"])
    args = ap.parse_args()
    run = Run(args.run_dir)
    print(f"check_pattern: {args.run_dir}: {args.pattern}, step {run.steps[-1]['step']} "
          f"(t = {run.steps[-1]['time']:g} min), {len(run.steps[-1]['id'])} cells")
    patterns = {"lateral-inhibition": lateral_inhibition, "spheroid": spheroid, "quickstart": quickstart,
                "toggle": toggle, "morphogen": morphogen, "hypoxia": hypoxia}
    patterns[args.pattern](run)
    if failures:
        print(f"check_pattern: {len(failures)} check(s) failed; first: {failures[0]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
