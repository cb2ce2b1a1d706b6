"""fields.substrates[].initial_file: a run starts a substrate from an HDF5 dataset.

Writes a grid of known values with h5py, runs tests/field/fields_2d.yaml with oxygen read from it on 1 and 2
ranks, and checks that step 0 of tessera.h5 holds those values exactly (morph, without a file, its constant
0); that a later run started from a field of the first one's tessera.h5 (/steps/<n>/fields/oxygen, the use the
docs name) starts from it exactly; and that a missing dataset, a wrong shape, a negative value and a file
without a dataset exit 2 naming the key and the dataset.

Usage: check_initial_file.py --tessera BIN --mpiexec "mpiexec -n {np} FLAGS" --deck fields_2d.yaml --work DIR
"""

import argparse
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

NY, NX = 16, 20  # fields_2d.yaml: 200 x 160 um at 10 um


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--deck", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    problems = []

    grid = np.random.default_rng(7).uniform(0.0, 2.0, size=(NY, NX))
    source = os.path.join(a.work, "initial.h5")
    with h5py.File(source, "w") as f:
        f["grids/oxygen"] = grid
        f["grids/transposed"] = grid.T.copy()
        bad = grid.copy()
        bad[3, 4] = -1.0
        f["grids/negative"] = bad

    def run(np_, out, *sets):
        cmd = a.mpiexec.format(np=np_).split() + [a.tessera, "run", a.deck, "-o", out, "-q"]
        for s in sets:
            cmd += ["-s", s]
        return subprocess.run(cmd, capture_output=True, text=True)

    def start_from(dataset, path=source):
        return ["fields.substrates=" + "[{name: oxygen, diffusion: 1000 um^2/min, decay: 0.01 /min, "
                "initial_file: '" + path + "', initial_dataset: '" + dataset + "', boundary: {x_lo: 1}}, "
                "{name: morph, diffusion: 100 um^2/min, sources: [{lo: [0, 0], hi: [20, 160], rate: 0.5}]}]"]

    def step_field(out, step, name):
        with h5py.File(os.path.join(out, "tessera.h5"), "r") as f:
            return f["steps"][str(step)]["fields"][name][()]

    for np_ in (1, 2):
        out = os.path.join(a.work, "np%d" % np_)
        r = run(np_, out, *start_from("/grids/oxygen"))
        if r.returncode != 0:
            problems.append("np%d: exit %d\n%s" % (np_, r.returncode, r.stderr))
            continue
        oxygen, morph = step_field(out, 0, "oxygen"), step_field(out, 0, "morph")
        if oxygen.shape != grid.shape or not np.array_equal(oxygen, grid):
            problems.append("np%d: step 0 oxygen is not the file's grid (max difference %s)"
                            % (np_, np.max(np.abs(oxygen - grid)) if oxygen.shape == grid.shape else oxygen.shape))
        if not np.array_equal(morph, np.zeros_like(morph)):
            problems.append("np%d: morph, without a file, does not start at its constant 0" % np_)

    # A later run from the first one's last output step.
    first = os.path.join(a.work, "np1")
    if os.path.exists(os.path.join(first, "tessera.h5")):
        with h5py.File(os.path.join(first, "tessera.h5"), "r") as f:
            last = max(int(s) for s in f["steps"])
        previous = step_field(first, last, "oxygen")
        out = os.path.join(a.work, "continued")
        r = run(2, out, *start_from("/steps/%d/fields/oxygen" % last, os.path.join(first, "tessera.h5")))
        if r.returncode != 0:
            problems.append("continued: exit %d\n%s" % (r.returncode, r.stderr))
        elif not np.array_equal(step_field(out, 0, "oxygen"), previous):
            problems.append("continued: step 0 is not /steps/%d/fields/oxygen of the first run" % last)

    bad_cases = [
        ("missing", start_from("/grids/none"), ["fields.substrates[0].initial_file", "/grids/none", "does not exist"]),
        ("shape", start_from("/grids/transposed"), ["/grids/transposed", "[20, 16]", "[16, 20]"]),
        ("negative", start_from("/grids/negative"), ["/grids/negative", "negative"]),
        ("no_dataset",
         ["fields.substrates=[{name: oxygen, diffusion: 1000 um^2/min, initial_file: '" + source + "'}, "
          "{name: morph, diffusion: 100 um^2/min}]"],
         ["initial_file", "initial_dataset"]),
    ]
    for name, sets, expect in bad_cases:
        out = os.path.join(a.work, "bad_" + name)
        r = run(2, out, *sets)
        message = r.stdout + r.stderr
        if r.returncode != 2:
            problems.append("%s: exit %d, expected 2\n%s" % (name, r.returncode, message))
        for e in expect:
            if e not in message:
                problems.append("%s: the message does not name %r:\n%s" % (name, e, message))
        if os.path.exists(os.path.join(out, "tessera.h5")):
            problems.append("%s: a refused run wrote %s" % (name, os.path.join(out, "tessera.h5")))

    for p in problems:
        print("FAIL:", p)
    print("check_initial_file: %d problem(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
