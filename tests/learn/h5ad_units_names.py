#!/usr/bin/env python3
"""Time units, cell identity and predictions through `tessera convert`, checked with the real anndata package.

- A time course in hours (0, 6, 12, 24 h) with barcodes as cell ids and extra obs columns, converted with
  `--time-unit h`: /time holds minutes (0, 360, 720, 1440) with units "min", /cell_name the barcodes, /obs the
  numeric and text columns (a boolean column is left out and named in the summary). Exported back, anndata
  reads the times in hours, obs names from the barcodes, the obs columns, and uns (provenance, time unit, LR
  pairs); `--time-unit day` exports days.
- Times as a categorical of numeric strings ("0", "6", "24") with `--time-unit h`; text times with a unit.
- A wrong `--time-unit` is exit 2 naming the option and the value.
- A prediction (a dataset with /observed, as train's predicted.h5) exports X = layers/observed and
  layers/predicted row for row; one without /observed takes `--observed data.h5`.

usage: h5ad_units_names.py TESSERA WORKDIR
"""
import os
import re
import shutil
import subprocess
import sys

try:
    import anndata
    import h5py
    import numpy as np
    import pandas as pd
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


def text(values):
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def hours_series(rng, times, genes, barcodes):
    """One row per cell per time point, rows shuffled; extra obs columns of several kinds."""
    n = len(barcodes)
    types = rng.choice(["basal", "luminal"], n)
    batch = rng.choice(["b1", "b2", "b3"], n)
    rows = [(t, k) for t in times for k in range(n)]
    order = rng.permutation(len(rows))
    rows = [rows[j] for j in order]
    obs = pd.DataFrame(
        {
            "time": np.array([t for t, _ in rows], dtype=float),
            "barcode": [barcodes[k] for _, k in rows],
            "cell_type": pd.Categorical([types[k] for _, k in rows], categories=["basal", "luminal"]),
            "batch": pd.Categorical([batch[k] for _, k in rows]),
            "n_counts": rng.integers(100, 1000, len(rows)),
            "score": rng.random(len(rows)) / 3,
            "doublet": rng.random(len(rows)) > 0.5,
        },
        index=[f"obs{j}" for j in range(len(rows))],
    )
    a = anndata.AnnData(X=rng.random((len(rows), len(genes))) / 7, obs=obs, var=pd.DataFrame(index=genes),
                        dtype=np.float64)
    a.obsm["spatial"] = np.array([[k * 1.5, k * 0.25] for _, k in rows])
    return a


def check_hours(work, rng):
    genes = ["Wnt", "Fzd", "Axin"]
    barcodes = ["AAACGT-1", "TTGCAA-1", "GGCATC-2", "CCTAGA-1"]
    hours = [0.0, 6.0, 12.0, 24.0]
    a = hours_series(rng, hours, genes, barcodes)
    src, ds, back = (os.path.join(work, n) for n in ("hours.h5ad", "hours.h5", "hours_back.h5ad"))
    a.write_h5ad(src)
    code, out = run(src, ds, "--time-unit", "h", "--cell-id-key", "barcode")
    if code != 0:
        fail(f"hours: convert exited {code}: {out}")
        return
    if "times 0 .. 1440 min (given in h)" not in out:
        fail(f"hours: summary does not report the times in minutes: {out}")
    if not re.search(r"obs columns kept: batch, n_counts, score", out) or "doublet (booleans)" not in out:
        fail(f"hours: summary does not name the kept and left-out obs columns: {out}")
    with h5py.File(ds, "r") as f:
        if list(f["time"][()]) != [0.0, 360.0, 720.0, 1440.0]:
            fail(f"hours: /time {f['time'][()]} is not in minutes")
        if f["time"].attrs.get("units") != "min" or f["time"].attrs.get("source_units") != "h":
            fail(f"hours: /time attributes {dict(f['time'].attrs)}")
        names = text(f["cell_name"][()])
        ids = f["cell_id"][()]
        expr = f["expression"][()]
        batch_codes, batch_categories = f["obs/batch/codes"][()], text(f["obs/batch/categories"][()])
        score = f["obs/score"][()]
        if "doublet" in f["obs"]:
            fail("hours: the boolean column was stored")
    if sorted(names) != sorted(barcodes):
        fail(f"hours: /cell_name {names} is not the barcodes")
    # Every (time, cell) row of the dataset is the AnnData row of that barcode at that time.
    X = np.asarray(a.X)
    for r in range(a.n_obs):
        t = hours.index(a.obs["time"].iloc[r])
        i = names.index(a.obs["barcode"].iloc[r])
        if not np.array_equal(expr[t, i], X[r]):
            fail(f"hours: row {r}: expression differs")
        if batch_categories[batch_codes[t, i]] != a.obs["batch"].iloc[r] or score[t, i] != a.obs["score"].iloc[r]:
            fail(f"hours: row {r}: obs columns differ")

    code, out = run(ds, back)
    if code != 0:
        fail(f"hours: export exited {code}: {out}")
        return
    b = anndata.read_h5ad(back)
    T, N = len(hours), len(barcodes)
    if not np.array_equal(b.obs["time"].to_numpy(), np.repeat(hours, N)):
        fail(f"hours: exported times {b.obs['time'].to_numpy()} are not the hours")
    want_names = [f"{names[i]}_t{t}" for t in range(T) for i in range(N)]
    if list(b.obs_names) != want_names:
        fail(f"hours: obs_names {list(b.obs_names)[:5]} ..., expected {want_names[:5]} ...")
    if list(b.obs["cell_name"]) != [names[i] for _ in range(T) for i in range(N)]:
        fail("hours: obs cell_name differs")
    if not np.array_equal(b.obs["cell_id"].to_numpy().astype(np.uint64), np.tile(ids, T)):
        fail("hours: obs cell_id differs")
    for column in ("batch", "n_counts", "score"):
        if column not in b.obs:
            fail(f"hours: obs column {column} was not exported")
            continue
        for r in range(b.n_obs):
            src_row = np.nonzero((a.obs["barcode"] == b.obs["cell_name"].iloc[r]).to_numpy()
                                 & (a.obs["time"] == b.obs["time"].iloc[r]).to_numpy())[0][0]
            if b.obs[column].iloc[r] != a.obs[column].iloc[src_row]:
                fail(f"hours: exported {column} differs at row {r}")
                break
    if "doublet" in b.obs:
        fail("hours: the left-out column came back")
    uns = b.uns.get("tessera", {})
    if uns.get("time_unit") != "h" or not uns.get("version") or uns.get("source") != ds:
        fail(f"hours: uns['tessera'] is {uns}")
    if uns.get("content") != "observations" or b.layers.keys():
        fail(f"hours: a dataset of observations exported layers {list(b.layers.keys())} / {uns.get('content')}")
    # The round trip keeps the names (from obs cell_name) and the annotations.
    again = os.path.join(work, "hours_again.h5")
    code, out = run(back, again, "--time-unit", "h")
    if code != 0:
        fail(f"hours: re-import exited {code}: {out}")
    else:
        with h5py.File(again, "r") as f:
            if text(f["cell_name"][()]) != names or list(f["time"][()]) != [0.0, 360.0, 720.0, 1440.0]:
                fail("hours: re-import lost the names or the times")
            if not np.array_equal(f["expression"][()], expr) or sorted(f["obs"]) != ["batch", "n_counts", "score"]:
                fail(f"hours: re-import differs: obs {sorted(f['obs'])}")
    # --time-unit on export writes another unit.
    days = os.path.join(work, "hours_days.h5ad")
    code, out = run(ds, days, "--time-unit", "day")
    if code != 0 or not np.allclose(anndata.read_h5ad(days).obs["time"].to_numpy(), np.repeat(hours, N) / 24,
                                    rtol=1e-15, atol=0):
        fail(f"hours: export in days: {code}: {out}")
    print("hours: ok")


def check_categorical_times(work, rng):
    genes = ["Wnt", "Fzd"]
    a = hours_series(rng, [0.0, 6.0, 24.0], genes, ["c1", "c2", "c3"])
    a.obs["time"] = pd.Categorical([f"{t:g}" for t in a.obs["time"]], categories=["0", "6", "24"])
    src, ds = os.path.join(work, "categorical.h5ad"), os.path.join(work, "categorical.h5")
    a.write_h5ad(src)
    code, out = run(src, ds, "--time-unit", "h", "--cell-id-key", "barcode")
    if code != 0:
        fail(f"categorical times: exited {code}: {out}")
        return
    with h5py.File(ds, "r") as f:
        if list(f["time"][()]) != [0.0, 360.0, 1440.0]:
            fail(f"categorical times: /time {f['time'][()]}")
    # Text times with their own unit need no --time-unit.
    a.obs["time"] = [f"{t} h" for t in a.obs["time"]]
    src, ds = os.path.join(work, "text_times.h5ad"), os.path.join(work, "text_times.h5")
    a.write_h5ad(src)
    code, out = run(src, ds, "--cell-id-key", "barcode")
    if code != 0:
        fail(f"text times: exited {code}: {out}")
    else:
        with h5py.File(ds, "r") as f:
            if list(f["time"][()]) != [0.0, 360.0, 1440.0]:
                fail(f"text times: /time {f['time'][()]}")
    print("categorical and text times: ok")


def expect_error(args, regex, name):
    code, out = run(*args)
    if code != 2 or not re.search(regex, out):
        fail(f"{name}: expected exit 2 matching '{regex}', got {code}: {out.strip()}")
    for bad in ("Segmentation", "terminate called", "Aborted", "MPI_ABORT"):
        if bad in out:
            fail(f"{name}: crashed: {out}")


def check_prediction(work, rng):
    ds = os.path.join(work, "hours.h5")
    if not os.path.exists(ds):
        return
    # A prediction with its observations, as train's predicted.h5.
    pred = os.path.join(work, "predicted.h5")
    shutil.copy(ds, pred)
    with h5py.File(pred, "r+") as f:
        observed = f["expression"][()]
        predicted = observed * 0.5 + 1.0 / 3.0
        f["expression"][...] = predicted
        f["observed"] = observed
    out_path = os.path.join(work, "predicted.h5ad")
    code, out = run(pred, out_path)
    if code != 0:
        fail(f"prediction: exited {code}: {out}")
        return
    T, N, G = observed.shape
    b = anndata.read_h5ad(out_path)
    if sorted(b.layers.keys()) != ["observed", "predicted"]:
        fail(f"prediction: layers {list(b.layers.keys())}")
        return
    if not (np.array_equal(b.layers["observed"], observed.reshape(T * N, G))
            and np.array_equal(b.layers["predicted"], predicted.reshape(T * N, G))
            and np.array_equal(np.asarray(b.X), observed.reshape(T * N, G))):
        fail("prediction: X / layers differ from the observations and the prediction")
    if not b.uns["tessera"]["content"].startswith("prediction"):
        fail(f"prediction: uns content {b.uns['tessera']['content']}")
    # Without /observed: --observed gives it; a dataset that does not match is refused.
    bare = os.path.join(work, "predicted_bare.h5")
    shutil.copy(pred, bare)
    with h5py.File(bare, "r+") as f:
        del f["observed"]
    code, out = run(bare, os.path.join(work, "predicted_bare.h5ad"), "--observed", ds)
    if code != 0 or not np.array_equal(anndata.read_h5ad(os.path.join(work, "predicted_bare.h5ad")).layers["observed"],
                                       observed.reshape(T * N, G)):
        fail(f"prediction --observed: {code}: {out}")
    other = os.path.join(work, "categorical.h5")
    expect_error([bare, os.path.join(work, "mismatch.h5ad"), "--observed", other],
                 r"--observed .*categorical\.h5: its genes differ from those of .*predicted_bare\.h5", "--observed mismatch")
    print("prediction: ok")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    rng = np.random.default_rng(11)
    check_hours(WORK, rng)
    check_categorical_times(WORK, rng)
    check_prediction(WORK, rng)
    src = os.path.join(WORK, "hours.h5ad")
    expect_error([src, os.path.join(WORK, "weeks.h5"), "--time-unit", "weeks", "--cell-id-key", "barcode"],
                 r"--time-unit 'weeks': unknown time unit 'weeks' \(accepted: d, day, h, min, s\)", "bad unit")
    if os.path.exists(os.path.join(WORK, "weeks.h5")):
        fail("bad unit: an output was left behind")
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all time-unit, identity and prediction checks ok")


main()
