#!/usr/bin/env python3
"""Thread-count invariance (ctest label `threads`, issue 11): one tessera command run at several OpenMP thread
counts (OMP_NUM_THREADS) must write the same results bit for bit as at the first count, as a run on several
ranks must (the kernels use ordered sums, no floating-point atomics and counter-based random draws).

  thread_invariance.py --tessera BIN --work DIR --threads 1 2 4 --compare KIND [--launch 'mpirun ...'] -- ARGS...

runs `[launch] BIN ARGS -o DIR/tT --overwrite` once per thread count T, then compares each output directory with
the first one:
  run       tessera.h5's cells at every output step and summary.csv (tests/app/restart/compare_runs.py, tolerance
            0: same ranks, so even summary.csv's order-dependent sums run in the same order);
  files     the named files (--files): HDF5 ones dataset by dataset (attributes hold hosts and times), CSV
            ones cell by cell without the columns named by --ignore (wall-clock times);
  exit      nothing beyond a zero exit status: ARGS is a whole command (a test binary that checks invariance
            itself, e.g. a restart at 4 threads against an uninterrupted run at 4 threads).
Needs a threaded Kokkos: where `tessera info` at the largest count reports a concurrency below it (Debian's
Serial Kokkos: concurrency 1), it exits 77 with the reason, which ctest reports as skipped, never as passed."""
import argparse
import csv
import os
import re
import subprocess
import sys

import h5py
import numpy as np


def fail(msg):
    print("thread_invariance: " + msg, file=sys.stderr)
    sys.exit(1)


def environment(threads):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    # Ranks and threads share 2 cores here: threads must neither be pinned to one core nor spin.
    env.setdefault("OMP_PROC_BIND", "false")
    env.setdefault("OMP_WAIT_POLICY", "passive")
    return env


def threaded_backend(tessera, threads):
    """The default execution space and its concurrency at `threads` OpenMP threads (tessera info)."""
    out = subprocess.run([tessera, "info"], env=environment(threads), capture_output=True, text=True)
    m = re.search(r"default execution space (\S+), concurrency (\d+)", out.stdout)
    if out.returncode != 0 or not m:
        fail(f"`{tessera} info` failed or printed no Kokkos line (exit {out.returncode}):\n{out.stdout}{out.stderr}")
    return m.group(1), int(m.group(2))


def h5_datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def same_value(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))
    return np.array_equal(a, b)


def csv_rows(path, ignore):
    """The rows of a CSV file less the columns named in `ignore` (wall-clock times)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    keep = [i for i, c in enumerate(rows[0] if rows else []) if c not in ignore]
    return [[row[i] for i in keep if i < len(row)] for row in rows]


def compare_files(reference, other, files, ignore):
    for name in files:
        r, o = os.path.join(reference, name), os.path.join(other, name)
        for p in (r, o):
            if not os.path.exists(p):
                fail(f"{p} was not written")
        if name.endswith(".h5"):
            a, b = h5_datasets(r), h5_datasets(o)
            if sorted(a) != sorted(b):
                fail(f"{name}: datasets differ: {sorted(set(a) ^ set(b))}")
            for key in sorted(a):
                if not same_value(a[key], b[key]):
                    fail(f"{name}: /{key} differs between {reference} and {other}")
            print(f"thread_invariance: {o}: {len(a)} datasets identical")
        else:
            x, y = csv_rows(r, ignore), csv_rows(o, ignore)
            for i, (u, v) in enumerate(zip(x, y)):
                if u != v:
                    fail(f"{name}: row {i + 1} differs:\n  {r}: {u}\n  {o}: {v}")
            if len(x) != len(y):
                fail(f"{name}: {len(x)} vs {len(y)} rows")
            print(f"thread_invariance: {o}: {name}'s {len(x)} rows identical")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tessera", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--compare", choices=("run", "files", "exit"), required=True)
    p.add_argument("--files", nargs="*", default=[])
    p.add_argument("--ignore", nargs="*", default=[], help="CSV columns not compared (wall-clock times)")
    p.add_argument("--launch", default="", help="'mpirun -np N ...' as one word (empty: one rank)")
    p.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args

    space, concurrency = threaded_backend(a.tessera, max(a.threads))
    if concurrency < max(a.threads):
        print(f"thread_invariance: SKIPPED: needs a threaded Kokkos (OpenMP or Threads backend); this build's "
              f"default execution space is {space} with concurrency {concurrency} at OMP_NUM_THREADS="
              f"{max(a.threads)}. Configure with Kokkos_ROOT=<an OpenMP Kokkos install> (docs/performance.md).")
        sys.exit(77)

    here = os.path.dirname(os.path.abspath(__file__))
    outputs = []
    for t in a.threads:
        out = os.path.join(a.work, f"t{t}")
        command = a.launch.split() + args
        if a.compare != "exit":
            command = a.launch.split() + [a.tessera] + args + ["-o", out, "--overwrite"]
        print(f"thread_invariance: OMP_NUM_THREADS={t}: {' '.join(command)}", flush=True)
        r = subprocess.run(command, env=environment(t))
        if r.returncode != 0:
            fail(f"exit {r.returncode} at OMP_NUM_THREADS={t}")
        outputs.append(out)
    if a.compare == "exit":
        print(f"thread_invariance: passed at {a.threads} threads ({space})")
        return
    for t, out in zip(a.threads[1:], outputs[1:]):
        if a.compare == "run":
            r = subprocess.run([sys.executable, os.path.join(here, "..", "app", "restart", "compare_runs.py"),
                                outputs[0], out, "--restarts", "0"])
            if r.returncode != 0:
                fail(f"the run at {t} threads differs from the run at {a.threads[0]}")
        else:
            compare_files(outputs[0], out, a.files, a.ignore)
    print(f"thread_invariance: identical at {a.threads} threads ({space})")


if __name__ == "__main__":
    main()
