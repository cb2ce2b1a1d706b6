#!/usr/bin/env python3
"""Damaged input files (issue 8, items 15 and 16): byte-flipped copies of a small AnnData file and of the
tessera dataset converted from it are given to `tessera convert`. Each must end with exit 0 (the damage hit
bytes nothing reads) or exit 2 naming the damaged file; never a signal, a hang or exit 1. The positions are
deterministic: the index and size of each object in the AnnData file's first global heap collection (where
HDF5 1.10 crashed on a damaged string) and seeded random positions in both files. A byte flipped in the dataset's
/expression chunk must be caught by its Fletcher-32 checksum (exit 2 naming the file and the dataset).

usage: damaged_files.py TESSERA H5AD WORKDIR
"""
import os
import random
import shutil
import subprocess
import sys

TESSERA, H5AD, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def convert(src, dst):
    try:
        p = subprocess.run([TESSERA, "convert", src, dst], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def check_damaged(data, position, xor, suffix, name, expect=None):
    damaged = bytearray(data)
    damaged[position] ^= xor
    path = os.path.join(WORK, f"{name}_{position}_{xor}{suffix}")
    with open(path, "wb") as f:
        f.write(damaged)
    out = os.path.join(WORK, "out.h5ad" if suffix == ".h5" else "out.h5")
    if os.path.exists(out):
        os.remove(out)
    code, text = convert(path, out)
    ok = code == 2 and path in text if expect else code == 0 or (code == 2 and path in text)
    if expect and expect not in text:
        ok = False
    if not ok:
        failures.append(f"{name} byte {position} ^ {xor}: exit {code}: {text.strip()[:400]}")
    os.remove(path)
    return code


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    rng = random.Random(8)
    h5ad = open(H5AD, "rb").read()
    heap = h5ad.find(b"GCOL")
    if heap < 0:
        sys.exit(f"{H5AD}: no global heap collection to damage")
    # Each heap object: index (2 bytes), references (2), reserved (4), size (8), data padded to 8 bytes.
    positions, at = [], heap + 16
    while at + 16 <= len(h5ad) and int.from_bytes(h5ad[at : at + 2], "little") != 0 and len(positions) < 40:
        positions += [at, at + 12]  # the index, and a high byte of the size
        at += 16 + (int.from_bytes(h5ad[at + 8 : at + 16], "little") + 7) // 8 * 8
    positions += [rng.randrange(len(h5ad)) for _ in range(15)]
    codes = [check_damaged(h5ad, p, rng.randrange(1, 256), ".h5ad", "h5ad") for p in positions]

    dataset = os.path.join(WORK, "dataset.h5")
    code, text = convert(H5AD, dataset)
    if code != 0:
        sys.exit(f"converting the undamaged {H5AD} failed: {text}")
    data = open(dataset, "rb").read()
    codes += [check_damaged(data, rng.randrange(len(data)), rng.randrange(1, 256), ".h5", "dataset")
              for _ in range(15)]
    # The expression chunk's data (found through h5py when it can tell): a flipped value, not metadata.
    try:
        import h5py

        with h5py.File(dataset, "r") as f:
            chunk = f["expression"].id.get_chunk_info(0)
        middle = chunk.byte_offset + chunk.size // 2
        check_damaged(data, middle, 0x10, ".h5", "expression", expect="'expression'")
    except ImportError:
        print("h5py missing: the data checksum case is not run")
    print(f"{len(codes)} damaged files: exit 0 x{codes.count(0)}, exit 2 x{codes.count(2)}")
    for failure in failures:
        print("FAIL:", failure)
    sys.exit(1 if failures else 0)


main()
