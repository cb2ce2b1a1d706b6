#!/usr/bin/env python3
"""Two run directories hold the same simulation: every output step of A is in B with the same cells (matched by
id) and bit-identical fields, both runs complete, on the same rank count. Used to check that a run launched by
Slurm (srun inside sbatch, or stopped, requeued and restarted) gives exactly what mpirun gives: tolerance 0,
because the same deck on the same ranks runs the same floating-point operations in the same order.
--slurm-job B_ID: B's tessera.h5 must record that SLURM job id (proof that B really ran under Slurm)."""
import argparse
import sys

import h5py
import numpy as np


def fail(msg):
    print("same_run: " + msg, file=sys.stderr)
    sys.exit(1)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


ap = argparse.ArgumentParser()
ap.add_argument("a", help="reference run directory")
ap.add_argument("b", help="run directory to compare")
ap.add_argument("--slurm-job", help="SLURM job id B's provenance must name (a file holding it also works)")
args = ap.parse_args()

with h5py.File(f"{args.a}/tessera.h5", "r") as a, h5py.File(f"{args.b}/tessera.h5", "r") as b:
    for name, f in ((args.a, a), (args.b, b)):
        if int(f.attrs["complete"]) != 1:
            fail(f"{name}/tessera.h5: complete = {f.attrs['complete']}, the run did not finish")
    if int(a.attrs["ranks"]) != int(b.attrs["ranks"]):
        fail(f"ranks differ: {a.attrs['ranks']} and {b.attrs['ranks']}")
    if args.slurm_job:
        job = args.slurm_job
        try:
            with open(job) as fh:
                job = fh.read().split(";")[0].strip()
        except OSError:
            pass
        recorded = text(b.attrs.get("slurm_job_id", ""))
        if recorded != job:
            fail(f"{args.b}/tessera.h5: slurm_job_id = {recorded!r}, expected {job!r}")
    steps_a, steps_b = sorted(a["steps"], key=int), sorted(b["steps"], key=int)
    if steps_a != steps_b:
        fail(f"output steps differ: {steps_a} and {steps_b}")
    for step in steps_a:
        ga, gb = a["steps"][step], b["steps"][step]
        if ga.attrs["time"] != gb.attrs["time"]:
            fail(f"step {step}: time {ga.attrs['time']} and {gb.attrs['time']}")
        fields_a, fields_b = [], []
        ga.visititems(lambda name, obj: fields_a.append(name) if isinstance(obj, h5py.Dataset) else None)
        gb.visititems(lambda name, obj: fields_b.append(name) if isinstance(obj, h5py.Dataset) else None)
        if sorted(fields_a) != sorted(fields_b):
            fail(f"step {step}: fields {sorted(fields_a)} and {sorted(fields_b)}")
        order_a, order_b = np.argsort(ga["id"][()]), np.argsort(gb["id"][()])
        if not np.array_equal(ga["id"][()][order_a], gb["id"][()][order_b]):
            fail(f"step {step}: the cell ids differ ({ga['id'].shape[0]} and {gb['id'].shape[0]} cells)")
        for field in fields_a:
            va, vb = ga[field][()][order_a], gb[field][()][order_b]
            if not np.array_equal(va, vb):
                diff = np.max(np.abs(va.astype(float) - vb.astype(float)))
                fail(f"step {step}: '{field}' differs (max |difference| {diff:.3g})")
    print(f"same_run: {args.a} and {args.b}: {len(steps_a)} output steps identical, "
          f"{a['steps'][steps_a[-1]]['id'].shape[0]} cells at the last")
