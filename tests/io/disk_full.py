#!/usr/bin/env python3
"""A full disk (issue 8, item 14): tessera run and predict (1 and 2 ranks), convert and a training checkpoint write onto a
small tmpfs filled to several levels. Each must exit 1 within the timeout (no hang), with no signal or core,
naming the output path and "no space left"; no .tmp file may remain, a failed convert leaves no output file,
and a failed checkpoint leaves the previous checkpoint.h5 byte for byte. A tmpfs is the faithful test (ENOSPC
from the kernel; RLIMIT_FSIZE would give EFBIG/SIGXFSZ instead), and mounting one needs root: without it the
test is skipped (exit 77) and says why.

usage: disk_full.py TESSERA MPIEXEC RUN_DECK PREDICT_DECK CSV_FOLDER TRAIN_DECK WORKDIR
"""
import filecmp
import os
import shutil
import subprocess
import sys
import time

TESSERA, MPIEXEC, RUN_DECK, PREDICT_DECK, CSV, TRAIN_DECK, WORK = sys.argv[1:8]
failures = []


def sh(*args):
    return subprocess.run(args, capture_output=True, text=True)


def fill(mount, leave_kib):
    """Fills the tmpfs until only about `leave_kib` KiB are free."""
    st = os.statvfs(mount)
    free = st.f_bavail * st.f_frsize - leave_kib * 1024
    if free > 0:
        with open(os.path.join(mount, "filler"), "wb") as f:
            try:
                f.write(b"\0" * free)
            except OSError:
                pass


def run(args, name, out_dir, timeout=120):
    start = time.time()
    try:
        p = subprocess.run(args, capture_output=True, timeout=timeout)
        code, text = p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        failures.append(f"{name}: hung (no exit within {timeout} s)")
        return None
    if code != 1 or "no space left" not in text.lower() or out_dir not in text:
        failures.append(f"{name}: expected exit 1 naming {out_dir} and 'no space left', got {code}: {text[-600:]}")
    leftovers = [f for f in os.listdir(out_dir) if f.endswith(".tmp")] if os.path.isdir(out_dir) else []
    if leftovers:
        failures.append(f"{name}: left {leftovers}")
    print(f"{name}: exit {code} in {time.time() - start:.1f} s")
    return code


def main():
    if os.geteuid() != 0:
        print("skipped: mounting a small tmpfs needs root (CI runs as root)")
        sys.exit(77)
    shutil.rmtree(WORK, ignore_errors=True)
    mount = os.path.join(WORK, "tmpfs")
    os.makedirs(mount)
    if sh("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount).returncode != 0:
        print("skipped: cannot mount a tmpfs here")
        sys.exit(77)
    try:
        dataset = os.path.join(WORK, "dataset.h5")
        if sh(TESSERA, "convert", CSV, dataset).returncode != 0:
            sys.exit("converting the CSV folder failed")
        for np in (1, 2):
            for leave in (0, 40, 600):
                fill(mount, leave)
                out = os.path.join(mount, f"run_np{np}_{leave}")
                run([MPIEXEC, "-n", str(np), TESSERA, "run", RUN_DECK, "-o", out, "-q"], f"run np{np} {leave} KiB",
                    out)
                shutil.rmtree(out, ignore_errors=True)
                os.remove(os.path.join(mount, "filler"))
        for np in (1, 2):
            for leave in (0, 300):
                fill(mount, leave)
                out = os.path.join(mount, f"predict_np{np}_{leave}")
                run([MPIEXEC, "-n", str(np), TESSERA, "predict", PREDICT_DECK, "-o", out, "-q"],
                    f"predict np{np} {leave} KiB", out)
                shutil.rmtree(out, ignore_errors=True)
                os.remove(os.path.join(mount, "filler"))
        for leave in (0, 8):
            fill(mount, leave)
            target = os.path.join(mount, "dataset.h5")
            run([TESSERA, "convert", CSV, target], f"convert {leave} KiB", mount)
            if os.path.exists(target):
                failures.append(f"convert {leave} KiB: left the failed {target}")
            os.remove(os.path.join(mount, "filler"))
        # A checkpoint every iteration; then a full disk while --restart writes the next one.
        train = os.path.join(mount, "train")
        p = sh(TESSERA, "train", TRAIN_DECK, "-s", f"train.dataset={dataset}", "-s", "train.checkpoint_every=1",
               "-s", "train.iterations=2", "-o", train, "-q")
        if p.returncode != 0:
            sys.exit(f"training onto the tmpfs failed: {p.stdout}{p.stderr}")
        good = os.path.join(WORK, "checkpoint.h5")
        shutil.copy(os.path.join(train, "checkpoint.h5"), good)
        # What --restart replaces would free space for the checkpoint: only the checkpoint and the log stay.
        for name in os.listdir(train):
            if name not in ("checkpoint.h5", "tessera.log", "resolved_deck.yaml"):
                os.remove(os.path.join(train, name))
        fill(mount, 0)
        run([TESSERA, "train", TRAIN_DECK, "-s", f"train.dataset={dataset}", "-s", "train.checkpoint_every=1",
             "-s", "train.iterations=4", "--restart", train, "-o", train, "-q"], "train checkpoint", train)
        if not filecmp.cmp(good, os.path.join(train, "checkpoint.h5"), shallow=False):
            failures.append("train checkpoint: the earlier checkpoint.h5 changed")
    finally:
        sh("umount", mount)
    for failure in failures:
        print("FAIL:", failure)
    sys.exit(1 if failures else 0)


main()
