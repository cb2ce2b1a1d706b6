#!/usr/bin/env python3
"""The load line of `tessera run` on 2 ranks against the run's own files: a spheroid of 300 cells off the
domain's centre (most cells in one rank's box), 10 steps, an output and a checkpoint every step.

- `owned cells at the end`: min, mean and max of checkpoint.h5's /rank_rows (the rows each rank wrote at the
  last step);
- `cell-steps`: with 2 ranks min + max is every rank's cells summed over steps 1..10, which tessera.h5's
  /steps/<n> `cells` attributes hold;
- each max/mean as printed from those numbers; the same line from the same deck on 1 rank is absent (one rank
  is balanced by definition, so nothing is said).

    check_rank_balance.py TESSERA MPIEXEC_PREFIX... -- DECK WORK_DIR

Exit 0 when all hold, 1 naming what differs, 77 (a ctest skip) without h5py."""
import os
import re
import subprocess
import sys

LINE = re.compile(r"tessera run: load over (\d+) ranks: cell-steps min (\d+), max (\d+) \(max/mean ([0-9.]+)\); "
                  r"owned cells at the end min (\d+), mean ([0-9.]+), max (\d+) \(max/mean ([0-9.]+)\)$")
OVERRIDES = ["-s", "cells.init.count=300", "-s", "cells.init.radius=35 um", "-s",
             "cells.init.center=[100 um, 150 um, 150 um]", "-s", "time.end=20", "-s", "output.every=1", "-s",
             "output.checkpoint_every=1"]


def run(command, directory):
    out = subprocess.run(command + ["-o", directory, "--overwrite"] + OVERRIDES, capture_output=True, text=True,
                         timeout=600)
    print(" ".join(command) + ": exit %d\n%s%s" % (out.returncode, out.stdout[-2000:], out.stderr[-2000:]))
    if out.returncode != 0:
        sys.exit("FAIL: the run exited %d" % out.returncode)
    with open(os.path.join(directory, "tessera.log")) as f:
        return [m for m in (LINE.search(l.rstrip("\n")) for l in f) if m]


def main():
    try:
        import h5py
    except ImportError as e:
        print("check_rank_balance: needs h5py (%s): skipped" % e)
        return 77
    split = sys.argv.index("--")
    tessera, mpiexec = sys.argv[1], sys.argv[2:split]
    deck, work = sys.argv[split + 1:split + 3]
    failures = []
    two = os.path.join(work, "np2")
    lines = run(mpiexec + [tessera, "run", deck], two)
    if len(lines) != 1:
        sys.exit("FAIL: expected one load line on 2 ranks, found %d" % len(lines))
    ranks, steps_min, steps_max, steps_ratio, end_min, end_mean, end_max, end_ratio = lines[0].groups()
    with h5py.File(os.path.join(two, "checkpoint.h5"), "r") as f:
        rows = [int(r) for r in f["rank_rows"][...]]
    with h5py.File(os.path.join(two, "tessera.h5"), "r") as f:
        cells = {int(n): int(g.attrs["cells"]) for n, g in f["steps"].items()}
    cell_steps = sum(c for n, c in cells.items() if n >= 1)
    print("checkpoint rank_rows %s; cells per step %s; cell-steps %d" % (rows, sorted(cells.items()), cell_steps))
    if int(ranks) != 2 or len(rows) != 2:
        failures.append("ranks: line %s, checkpoint %d" % (ranks, len(rows)))
    if (int(end_min), int(end_max)) != (min(rows), max(rows)) or float(end_mean) != sum(rows) / 2:
        failures.append("owned cells at the end %s/%s/%s, checkpoint's rank_rows %s" % (end_min, end_mean, end_max,
                                                                                       rows))
    if sorted(cells) != list(range(11)):
        failures.append("tessera.h5 steps %s, expected 0..10" % sorted(cells))
    if int(steps_min) + int(steps_max) != cell_steps:
        failures.append("cell-steps min %s + max %s != %d, the cells of steps 1..10" % (steps_min, steps_max,
                                                                                        cell_steps))
    if int(steps_min) * 10 > cell_steps:
        failures.append("the off-centre spheroid should load one rank far more: cell-steps %s and %s"
                        % (steps_min, steps_max))
    for name, ratio, biggest, total in (("cell-steps", steps_ratio, int(steps_max), cell_steps),
                                        ("cells at the end", end_ratio, max(rows), sum(rows))):
        if ratio != "%.2f" % (biggest / (total / 2)):
            failures.append("%s max/mean %s, expected %.2f" % (name, ratio, biggest / (total / 2)))
    if run([tessera, "run", deck], os.path.join(work, "np1")):
        failures.append("a load line on 1 rank")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
