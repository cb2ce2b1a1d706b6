#!/usr/bin/env python3
"""AnnData <-> tessera dataset through the real anndata package.

Writes snapshot series with anndata (dense and CSR X, categorical cell types, obsm positions, rows shuffled),
runs `tessera convert x.h5ad ds.h5`, checks the dataset against the AnnData values exactly (h5py), then runs
`tessera convert ds.h5 back.h5ad` and checks that anndata.read_h5ad gives the same values back. Malformed
files must make tessera exit 2 naming the file and the problem.

usage: h5ad_roundtrip.py TESSERA WORKDIR
"""
import os
import shutil
import subprocess
import sys

try:
    import anndata
    import h5py
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
except ImportError as e:  # reported as skipped (SKIP_RETURN_CODE 77), not passed
    print(f"skipped: {e}")
    sys.exit(77)

TESSERA, WORK = sys.argv[1], sys.argv[2]
failures = []


def fail(message):
    print("FAIL:", message)
    failures.append(message)


def run(*args):
    p = subprocess.run([TESSERA, "convert", *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def series(n_cells, times, genes, dim, moving, rng, id_strings=False):
    """One row per cell per time point, rows shuffled; values not exactly representable in decimal."""
    ids = rng.permutation(1000)[:n_cells].astype(np.uint64) + np.uint64(1 << 40)
    types = rng.choice(["epithelial", "mesenchymal", "stem"], n_cells)
    base = rng.random((n_cells, dim)) * 100 / 3
    rows = []
    for k, t in enumerate(times):
        for i in range(n_cells):
            rows.append((t, ids[i], types[i], base[i] + (k * 0.7 if moving else 0)))
    order = rng.permutation(len(rows))
    rows = [rows[j] for j in order]
    x = rng.random((len(rows), len(genes))) / 7
    x[x < 0.3 / 7] = 0.0  # some zeros, so CSR has structure
    obs = pd.DataFrame(
        {
            "time": np.array([r[0] for r in rows], dtype=float),
            "cell_id": [str(r[1]) for r in rows] if id_strings else np.array([r[1] for r in rows], dtype=np.uint64),
            "cell_type": pd.Categorical([r[2] for r in rows], categories=["epithelial", "mesenchymal", "stem"]),
        },
        index=[f"row{j}" for j in range(len(rows))],
    )
    a = anndata.AnnData(X=x, obs=obs, var=pd.DataFrame(index=genes), dtype=np.float64)
    a.obsm["spatial"] = np.array([r[3] for r in rows])
    return a


def check_dataset(a, path, name, time_key="time", id_key="cell_id", type_key="cell_type", pos_key="spatial"):
    with h5py.File(path, "r") as f:
        if f.attrs["format"] != "tessera-dataset" or int(f.attrs["version"]) != 1:
            fail(f"{name}: format attributes {dict(f.attrs)}")
        genes = [g.decode() if isinstance(g, bytes) else g for g in f["genes"][()]]
        types = [g.decode() if isinstance(g, bytes) else g for g in f["cell_types"][()]]
        time, ids, ctype = f["time"][()], f["cell_id"][()], f["cell_type"][()]
        expr, pos = f["expression"][()], f["positions"][()]
        if f["expression"].chunks != (1, expr.shape[1], expr.shape[2]):
            fail(f"{name}: /expression chunks {f['expression'].chunks}, expected one time point per chunk")
    X = a.X.toarray() if sp.issparse(a.X) else np.asarray(a.X)
    if genes != list(a.var_names):
        fail(f"{name}: genes {genes} != {list(a.var_names)}")
    if types != list(a.obs[type_key].cat.categories):
        fail(f"{name}: cell types {types}")
    if list(time) != sorted(set(a.obs[time_key])):
        fail(f"{name}: times {time}")
    obs_ids = np.array([int(v) for v in a.obs[id_key]], dtype=np.uint64)
    if expr.shape != (len(time), len(ids), len(genes)) or len(ids) * len(time) != a.n_obs:
        fail(f"{name}: expression shape {expr.shape}")
        return
    static = pos.ndim == 2
    for r in range(a.n_obs):
        t = int(np.searchsorted(time, a.obs[time_key].iloc[r]))
        i = int(np.nonzero(ids == obs_ids[r])[0][0])
        if not np.array_equal(expr[t, i], X[r]):
            fail(f"{name}: row {r}: expression {expr[t, i]} != X {X[r]}")
        if types[ctype[i]] != a.obs[type_key].iloc[r]:
            fail(f"{name}: row {r}: type")
        p = pos[i] if static else pos[t, i]
        if not np.array_equal(p, a.obsm[pos_key][r]):
            fail(f"{name}: row {r}: position {p} != {a.obsm[pos_key][r]}")
    return static


def check_back(ds_path, back_path, name):
    b = anndata.read_h5ad(back_path)
    with h5py.File(ds_path, "r") as f:
        genes = [g.decode() if isinstance(g, bytes) else g for g in f["genes"][()]]
        types = [g.decode() if isinstance(g, bytes) else g for g in f["cell_types"][()]]
        time, ids, ctype = f["time"][()], f["cell_id"][()], f["cell_type"][()]
        expr, pos = f["expression"][()], f["positions"][()]
    T, N, G = expr.shape
    if list(b.var_names) != genes or b.shape != (T * N, G):
        fail(f"{name}: back: shape {b.shape}, genes {list(b.var_names)}")
        return
    if not np.array_equal(np.asarray(b.X), expr.reshape(T * N, G)):
        fail(f"{name}: back: X differs")
    if not np.array_equal(b.obs["time"].to_numpy(), np.repeat(time, N)):
        fail(f"{name}: back: time differs")
    if not np.array_equal(b.obs["cell_id"].to_numpy().astype(np.uint64), np.tile(ids, T)):
        fail(f"{name}: back: cell_id differs")
    if list(b.obs["cell_type"].cat.categories) != types or list(b.obs["cell_type"]) != [types[c] for c in np.tile(ctype, T)]:
        fail(f"{name}: back: cell_type differs")
    want_pos = np.tile(pos, (T, 1)) if pos.ndim == 2 else pos.reshape(T * N, -1)
    if not np.array_equal(b.obsm["spatial"], want_pos):
        fail(f"{name}: back: obsm['spatial'] differs")
    if not b.obs_names.is_unique:
        fail(f"{name}: back: obs names are not unique")


def expect_error(args, regex, name):
    import re

    code, out = run(*args)
    if code != 2 or not re.search(regex, out):
        fail(f"{name}: expected exit 2 matching '{regex}', got {code}: {out.strip()}")
    for bad in ("Segmentation", "terminate called", "Aborted", "MPI_ABORT"):
        if bad in out:
            fail(f"{name}: crashed: {out}")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    rng = np.random.default_rng(7)
    genes = ["Wnt", "Notch-1", "Dll", "Ecad", "Snail"]

    cases = {
        "dense_static_2d": series(6, [0.0, 30.0, 90.0, 120.5], genes, 2, False, rng),
        "csr_moving_3d": series(5, [0.0, 10.0 / 3.0, 20.0], genes, 3, True, rng, id_strings=True),
    }
    cases["csr_moving_3d"].X = sp.csr_matrix(cases["csr_moving_3d"].X)
    for name, a in cases.items():
        src = os.path.join(WORK, name + ".h5ad")
        ds = os.path.join(WORK, name + ".h5")
        back = os.path.join(WORK, name + "_back.h5ad")
        a.write_h5ad(src)
        code, out = run(src, ds)
        if code != 0:
            fail(f"{name}: convert to dataset exited {code}: {out}")
            continue
        static = check_dataset(a, ds, name)
        if static != ("static" in name):
            fail(f"{name}: positions stored as {'static' if static else 'per time point'}")
        code, out = run(ds, back)
        if code != 0:
            fail(f"{name}: convert back exited {code}: {out}")
            continue
        check_back(ds, back, name)
        print(f"{name}: ok ({out.strip()})")

    # Other obs/obsm names through the options.
    a = series(4, [1.0, 2.0], genes, 2, False, rng)
    a.obs = a.obs.rename(columns={"time": "day", "cell_id": "track", "cell_type": "celltype"})
    a.obsm["X_spatial"] = a.obsm.pop("spatial")
    src, ds = os.path.join(WORK, "keys.h5ad"), os.path.join(WORK, "keys.h5")
    a.write_h5ad(src)
    code, out = run(src, ds, "--time-key", "day", "--cell-id-key", "track", "--type-key", "celltype",
                    "--position-key", "X_spatial")
    if code != 0:
        fail(f"keys: exited {code}: {out}")
    else:
        check_dataset(a, ds, "keys", "day", "track", "celltype", "X_spatial")
        print("keys: ok")
    expect_error([src, os.path.join(WORK, "keys-default.h5")], r"keys\.h5ad: obs has no column 'time' \(--time-key",
                 "missing time column")

    # A dense (T_obs, N, G) array in uns, obs rows being cells, times in uns (--expression-key).
    n, times = 5, np.array([0.0, 12.5, 40.0])
    traj = rng.random((len(times), n, len(genes))) / 3
    obs = pd.DataFrame({"cell_id": np.arange(100, 100 + n, dtype=np.int64),
                        "cell_type": pd.Categorical(["b", "a", "b", "b", "a"], categories=["b", "a"])},
                       index=[f"cell{i}" for i in range(n)])
    a = anndata.AnnData(X=traj[-1], obs=obs, var=pd.DataFrame(index=genes), dtype=np.float64)
    a.uns["trajectories"], a.uns["time"] = traj, times
    a.obsm["spatial"] = rng.random((n, 3))
    src, ds = os.path.join(WORK, "uns.h5ad"), os.path.join(WORK, "uns.h5")
    a.write_h5ad(src)
    code, out = run(src, ds, "--expression-key", "trajectories")
    if code != 0:
        fail(f"uns: exited {code}: {out}")
    else:
        with h5py.File(ds, "r") as f:
            ok = (np.array_equal(f["expression"][()], traj) and np.array_equal(f["time"][()], times)
                  and np.array_equal(f["cell_id"][()], np.arange(100, 100 + n))
                  and list(f["cell_type"][()]) == [0, 1, 0, 0, 1]
                  and np.array_equal(f["positions"][()], a.obsm["spatial"]))
        if not ok:
            fail("uns: dataset differs from the AnnData values")
        else:
            print("uns: ok")
    expect_error([src, os.path.join(WORK, "uns-bad.h5"), "--expression-key", "trajectories", "--time-key", "day"],
                 r"uns\.h5ad: no uns/day \(--time-key", "uns without times")

    # Malformed series: a cell missing at one time point, a cell twice at one time point.
    a = series(4, [0.0, 5.0, 9.0], genes, 2, False, rng)
    missing_id = int(a.obs["cell_id"].iloc[0])
    keep = ~((a.obs["cell_id"] == missing_id) & (a.obs["time"] == 5.0)).to_numpy()
    if a.obs["time"].iloc[0] == 5.0:
        keep = ~((a.obs["cell_id"] == missing_id) & (a.obs["time"] == 9.0)).to_numpy()
    bad = a[keep].copy()
    src = os.path.join(WORK, "missing.h5ad")
    bad.write_h5ad(src)
    expect_error([src, os.path.join(WORK, "missing.h5")],
                 rf"missing\.h5ad: cell id {missing_id} \(present at time 0\) is missing at time (5|9)", "missing cell")
    twice = anndata.concat([a, a[:1]])
    twice.obs_names_make_unique()
    src = os.path.join(WORK, "twice.h5ad")
    twice.write_h5ad(src)
    expect_error([src, os.path.join(WORK, "twice.h5")], r"twice\.h5ad: obs row 12 .*appears twice at time", "duplicate row")
    a.obsm["spatial"][3, 1] = np.nan
    src = os.path.join(WORK, "nan.h5ad")
    a.write_h5ad(src)
    expect_error([src, os.path.join(WORK, "nan.h5")], r"nan\.h5ad: obs row 3 .*obsm/spatial is not finite", "NaN position")
    c = series(3, [0.0, 1.0], genes, 2, False, rng)
    c.X = sp.csc_matrix(c.X)
    src = os.path.join(WORK, "csc.h5ad")
    c.write_h5ad(src)
    expect_error([src, os.path.join(WORK, "csc.h5")], r"csc\.h5ad: X is stored as 'csc_matrix'", "CSC X")
    expect_error([os.path.join(WORK, "dense_static_2d.h5"), os.path.join(WORK, "again.h5")],
                 r"again\.h5: a tessera dataset converts to AnnData", "wrong direction")
    expect_error([os.path.join(WORK, "dense_static_2d.h5ad"), os.path.join(WORK, "dense_static_2d.h5")],
                 r"dense_static_2d\.h5: already exists", "no overwrite")

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all AnnData round trips and rejections ok")


main()
