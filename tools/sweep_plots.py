#!/usr/bin/env python3
"""Plots of a collected sweep: every outcome against every varied key (docs/cluster.md "Sweeps").

  python3 tools/sweep_plots.py DIR [--out DIR/plots]

Reads DIR/sweep.csv (written by `tessera sweep collect DIR`) and DIR/members.csv and writes one PNG per
varied key, <out>/<key>.png, with one panel per outcome: each finished member as a dot at its value of the
key, and the mean over members with the same value as a line (over the other keys and the replicates).
Values with a unit suffix ("10 um") are plotted by their number; values that are no number are spread as
categories in the order they first appear. Needs matplotlib (Agg backend, no display).
"""
import argparse
import csv
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*[A-Za-z^/0-9.]*\s*$")
PANELS_PER_PAGE = 48


def number(text):
    m = NUMBER.match(text)
    return float(m.group(1)) if m else None


def safe(name):
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--out", help="folder for the PNGs (default DIR/plots)")
    a = ap.parse_args()
    table = os.path.join(a.dir, "sweep.csv")
    if not os.path.exists(table):
        sys.exit("sweep_plots.py: %s not found: run `tessera sweep collect %s` first" % (table, a.dir))
    with open(table, newline="") as f:
        rows = list(csv.reader(f))
    with open(os.path.join(a.dir, "members.csv"), newline="") as f:
        parameters = next(csv.reader(f))
    header, rows = rows[0], rows[1:]
    status = header.index("status")
    axes = [p for p in parameters[1:] if p not in ("replicate", "random.seed")] or parameters[1:]
    outcomes = header[status + 1:]
    if not outcomes:
        sys.exit("sweep_plots.py: %s has no outcome columns (the sweep file's `collect` section)" % table)
    finished = [r for r in rows if r[status] == "ok"]
    out = a.out or os.path.join(a.dir, "plots")
    os.makedirs(out, exist_ok=True)
    written = []
    for axis in axes:
        j = header.index(axis)
        texts = [r[j] for r in finished]
        numeric = all(number(t) is not None for t in texts)
        categories = list(dict.fromkeys(texts))
        x = [number(t) if numeric else categories.index(t) for t in texts]
        pages = [outcomes[i:i + PANELS_PER_PAGE] for i in range(0, len(outcomes), PANELS_PER_PAGE)]
        for p, page in enumerate(pages):
            cols = min(6, len(page))
            nrows = math.ceil(len(page) / cols)
            fig, grid = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False)
            for ax in grid.flat[len(page):]:
                ax.set_visible(False)
            for ax, name in zip(grid.flat, page):
                k = header.index(name)
                pts = [(xi, number(r[k])) for xi, r in zip(x, finished) if number(r[k]) is not None]
                if pts:
                    ax.plot([q[0] for q in pts], [q[1] for q in pts], "o", ms=3, alpha=0.6)
                    means = {}
                    for xi, yi in pts:
                        means.setdefault(xi, []).append(yi)
                    xs = sorted(means)
                    ax.plot(xs, [sum(means[v]) / len(means[v]) for v in xs], "-", lw=1)
                ax.set_title(name, fontsize=8)
                ax.tick_params(labelsize=7)
                if not numeric:
                    ax.set_xticks(range(len(categories)))
                    ax.set_xticklabels(categories, fontsize=6, rotation=30)
            fig.supxlabel(axis)
            fig.tight_layout()
            name = safe(axis) + ("" if len(pages) == 1 else "_%d" % (p + 1)) + ".png"
            fig.savefig(os.path.join(out, name), dpi=80)
            plt.close(fig)
            written.append(name)
    print("sweep_plots.py: %d outcome(s) against %d key(s): %s in %s/" % (len(outcomes), len(axes),
                                                                        ", ".join(written), out))


if __name__ == "__main__":
    main()
