#!/usr/bin/env python3
"""Two dataset.h5 files written by `tessera run` with different rank counts must hold the same data."""
import sys

import h5py
import numpy as np

a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for name in ("time", "cell_id", "cell_type", "expression", "positions", "ligand_receptor"):
    if not np.array_equal(a[name][()], b[name][()]):
        sys.exit(f"compare_datasets: /{name} differs between {sys.argv[1]} and {sys.argv[2]}")
for t in a["grn/truth"]:
    if not np.array_equal(a["grn/truth/" + t][()], b["grn/truth/" + t][()]):
        sys.exit(f"compare_datasets: /grn/truth/{t} differs")
print(f"compare_datasets: identical ({a['expression'].shape})")
