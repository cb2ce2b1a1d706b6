#!/usr/bin/env python3
"""parallel.balance: cells through `tessera run` on 2 ranks, against the same run with equal boxes: the
300-cell spheroid off the centre of inputs/spheroid_3d.yaml's box (check_rank_balance.py's), rk4 so that the
two runs can agree bit for bit.

- the log names the cut (2 ranks in 3-D: a 2x1x1 grid, one cut along x), and the cut is the median of the
  initial cells' x to within one histogram bin (the domain's 300 um / 4096);
- the load line: cell-steps max/mean at most 1.10 with balanced boxes (one cell more on one side of the cut
  and the tissue's growth over 10 steps), against more than 1.5 with equal ones, where most cells lie in one
  rank's box;
- tessera.h5 and summary.csv of the two runs agree (tests/app/restart/compare_runs.py, cells bit for bit,
  the summary's sums to 1e-12: they run in each rank's memory order).

    check_balance.py TESSERA MPIEXEC_PREFIX... -- DECK WORK_DIR COMPARE_RUNS_PY

Exit 0 when all hold, 1 naming what differs, 77 (a ctest skip) without h5py or numpy."""
import os
import re
import subprocess
import sys

LOAD = re.compile(r"tessera run: load over 2 ranks: cell-steps min (\d+), max (\d+) \(max/mean ([0-9.]+)\)")
CUT = re.compile(r"tessera run: rank boxes balanced over the cells \(parallel.balance: cells\), cut x at ([0-9.e+-]+) um$")
OVERRIDES = ["-s", "cells.init.count=300", "-s", "cells.init.radius=35 um", "-s",
             "cells.init.center=[100 um, 150 um, 150 um]", "-s", "time.end=20", "-s", "time.integrator=rk4"]


def run(command, directory, balance):
    out = subprocess.run(command + ["-o", directory, "--overwrite", "-s", "parallel.balance=" + balance] + OVERRIDES,
                         capture_output=True, text=True, timeout=600)
    print(" ".join(command) + " (%s): exit %d\n%s%s" % (balance, out.returncode, out.stdout[-2000:], out.stderr[-2000:]))
    if out.returncode != 0:
        sys.exit("FAIL: the run exited %d" % out.returncode)
    with open(os.path.join(directory, "tessera.log")) as f:
        lines = [l.rstrip("\n") for l in f]
    loads = [m for m in map(LOAD.search, lines) if m]
    cuts = [m for m in map(CUT.search, lines) if m]
    if len(loads) != 1:
        sys.exit("FAIL: %d load lines in %s/tessera.log" % (len(loads), directory))
    return float(loads[0].group(3)), [float(m.group(1)) for m in cuts]


def main():
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        print("check_balance: needs h5py and numpy (%s): skipped" % e)
        return 77
    split = sys.argv.index("--")
    tessera, mpiexec = sys.argv[1], sys.argv[2:split]
    deck, work, compare = sys.argv[split + 1:split + 4]
    failures = []
    equal_ratio, equal_cuts = run(mpiexec + [tessera, "run", deck], os.path.join(work, "equal"), "none")
    ratio, cuts = run(mpiexec + [tessera, "run", deck], os.path.join(work, "balanced"), "cells")
    with h5py.File(os.path.join(work, "balanced", "tessera.h5"), "r") as f:
        x = f["steps/0/position"][()][:, 0]
    median = float(np.median(x))
    print("cell-steps max/mean: equal boxes %.2f, balanced %.2f; cuts %s; median x at step 0 %.4f um"
          % (equal_ratio, ratio, cuts, median))
    if equal_cuts:
        failures.append("a cut line with parallel.balance: none")
    if len(cuts) != 1 or abs(cuts[0] - median) > 300.0 / 4096:
        failures.append("the cut %s is not the initial cells' median x %.4f to within 300 / 4096 um"
                        % (cuts, median))
    if ratio > 1.10:
        failures.append("balanced boxes: cell-steps max/mean %.2f > 1.10" % ratio)
    if equal_ratio <= 1.5:
        failures.append("equal boxes: cell-steps max/mean %.2f, expected the off-centre tissue to load one rank"
                        % equal_ratio)
    same = subprocess.run([sys.executable, compare, os.path.join(work, "equal"), os.path.join(work, "balanced"),
                           "--restarts", "0", "--summary-tol", "1e-12", "--sd-tol", "1e-12"],
                          capture_output=True, text=True)
    print(same.stdout + same.stderr)
    if same.returncode != 0:
        failures.append("the balanced run's output differs from the equal boxes' run")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
