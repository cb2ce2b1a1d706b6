#!/usr/bin/env python3
"""`tessera train --restart` checks every field of checkpoint.h5 before using it: damaged copies of a good
training run's checkpoint (edited with h5py) are each refused with exit code 2 and a message naming the file
and the field, and the run directory is left as it was; the undamaged copy restarts (exit 0).

usage: bad_checkpoints.py TESSERA DECK RUN_DIR WORKDIR
RUN_DIR: a finished `tessera train` run of DECK with checkpoint.h5 at its last iteration (restarted here
with train.iterations one higher)."""
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np


def replace(f, key, data):
    del f[key]
    f[key] = data


def set_attr(where, value):  # where: "group@attribute"
    def change(f):
        obj, _, attr = where.rpartition("@")
        f[obj].attrs[attr] = value
    return change


def short_history(f):  # the loss history ends before the iteration (was vector::_M_range_check, exit 1)
    for name in ("iteration", "train", "validation", "grad_norm", "wall_s"):
        replace(f, "progress/" + name, f["progress/" + name][...][:-1])


def renumbered(f):
    it = f["progress/iteration"][...]
    it[0] = 7
    replace(f, "progress/iteration", it)


def negative_wall(f):
    w = f["progress/wall_s"][...]
    w[-1] = -1.0
    replace(f, "progress/wall_s", w)


def short_moment(f):
    replace(f, "optimizer/m", f["optimizer/m"][...][:-1])


def negative_v(f):
    v = f["optimizer/v"][...]
    v[3] = -1e-3
    replace(f, "optimizer/v", v)


def nan_m(f):
    m = f["optimizer/m"][...]
    m[0] = np.nan
    replace(f, "optimizer/m", m)


def no_wall(f):
    del f["progress/wall_s"]


def negative_lr(f):
    lr = f["progress/lr"][...]
    lr[0] = -1.0
    replace(f, "progress/lr", lr)


def best_at(iteration, size_change=0):  # a train.keep_best state: /best at `iteration` (None: the right one)
    def change(f):
        validation = f["progress/validation"][...]
        best = f.create_group("best")
        best.attrs["iteration"] = np.int64(iteration if iteration else int(np.argmin(validation)) + 1)
        best["params"] = np.zeros(len(f["optimizer/m"]) + size_change)
    return change


def main():
    tessera, deck, run_dir, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with h5py.File(os.path.join(run_dir, "checkpoint.h5"), "r") as f:
        done = int(f["progress"].attrs["iteration"])

    cases = [
        ("short_history", short_history, r"/progress/iteration has %d records but /progress attribute "
                                          r"iteration = %d" % (done - 1, done)),
        ("negative_iteration", set_attr("progress@iteration", np.int64(-3)),
         r"/progress attribute iteration = -3, expected >= 1"),
        ("zero_iteration", set_attr("progress@iteration", np.int64(0)), r"/progress attribute iteration = 0"),
        ("longer_iteration", set_attr("progress@iteration", np.int64(done + 5)),
         r"/progress/iteration has %d records but /progress attribute iteration = %d" % (done, done + 5)),
        ("real_iteration", set_attr("progress@iteration", 2.5), r"/progress.*'iteration' is not an integer"),
        ("renumbered", renumbered, r"/progress/iteration\[0\] = 7, expected 1"),
        ("negative_wall", negative_wall, r"/progress/wall_s\[%d\] = -1" % (done - 1)),
        ("missing_wall", no_wall, r"/progress/wall_s is missing"),
        ("step", set_attr("optimizer@step", np.int64(done + 1)),
         r"/optimizer attribute step = %d but /progress attribute iteration = %d" % (done + 1, done)),
        ("negative_step", set_attr("optimizer@step", np.int64(-1)), r"/optimizer attribute step = -1"),
        ("method", set_attr("optimizer@method", "sgd"), r"/optimizer attribute method = 'sgd'"),
        ("lr", set_attr("optimizer@lr", -1.0), r"/optimizer attribute lr = -1"),
        ("short_moment", short_moment, r"/optimizer/m has \d+ values, the parameters \d+"),
        ("negative_v", negative_v, r"/optimizer/v\[3\] = -0.001, expected finite and >= 0"),
        ("nan_m", nan_m, r"/optimizer/m\[0\] = nan"),
        ("negative_lr", negative_lr, r"/progress/lr\[0\] = -1, expected a finite rate > 0"),
        ("best_elsewhere", best_at(99),
         r"/best attribute iteration = 99 but the lowest validation loss of /progress is at iteration \d+"),
        ("best_short", best_at(None, -1), r"/best/params has \d+ values, the parameters \d+"),
    ]
    failures = 0

    def restart(label, directory):
        before = {n: os.path.getmtime(os.path.join(directory, n)) for n in os.listdir(directory)}
        run = subprocess.run([tessera, "train", deck, "--restart", directory,
                              "-s", "train.iterations=%d" % (done + 1)], capture_output=True, text=True)
        after = {n: os.path.getmtime(os.path.join(directory, n)) for n in os.listdir(directory)}
        return run.returncode, run.stdout + run.stderr, before == after

    for name, change, pattern in cases:
        directory = os.path.join(work, name)
        shutil.copytree(run_dir, directory)
        path = os.path.join(directory, "checkpoint.h5")
        with h5py.File(path, "r+") as f:
            change(f)
        code, out, untouched = restart(name, directory)
        if code != 2 or path not in out or not re.search(pattern, out) or not untouched:
            failures += 1
            print("FAIL %s: exit %d (expected 2), %s, output:\n%s" %
                  (name, code, "outputs untouched" if untouched else "OUTPUTS CHANGED", out))
        else:
            print("ok   %s: %s" % (name, out.strip().splitlines()[-1]))

    # The control: the same copy without damage continues by one iteration.
    directory = os.path.join(work, "good")
    shutil.copytree(run_dir, directory)
    code, out, _ = restart("good", directory)
    if code != 0 or "done: %d iterations" % (done + 1) not in out:
        failures += 1
        print("FAIL good: exit %d, output:\n%s" % (code, out))
    else:
        print("ok   good: %s" % out.strip().splitlines()[-1])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
