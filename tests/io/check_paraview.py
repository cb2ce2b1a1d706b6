"""Opens tessera runs in ParaView itself, with each of its three XDMF readers and with the one OpenDataFile
(File > Open) picks, and compares what ParaView reads with tessera.h5 read by h5py: time steps, cells (points
and Polyvertex cells) per step, every array (type, id, radius, cycle, one per gene, value by value) and the
cell-type names in the field data. Then renders each run with tools/paraview_open.py, coloured by type and by
a gene, and checks the PNGs are neither blank nor flooded.

Usage: tests/support/with_xvfb.sh pvpython check_paraview.py --png-dir DIR RUN_DIR [RUN_DIR ...]
(pvpython under xvfb-run: --force-offscreen-rendering crashes Debian's X-only ParaView build.)
Exits 1 listing every problem.
"""

import argparse
import os
import sys

from paraview import servermanager, simple
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkIOImage import vtkPNGReader

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import paraview_open  # noqa: E402

BUILT_IN = {"type", "id", "radius", "cycle"}


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def expected_run(run):
    """What tessera.h5 holds, read with h5py: steps in step order with time, cells and arrays."""
    with h5py.File(os.path.join(run, "tessera.h5"), "r") as f:
        genes = [text(g) for g in f["genes"][()]]
        types = [text(t) for t in f["cell_types"][()]]
        steps = []
        for name in sorted(f["steps"], key=int):
            g = f["steps"][name]
            arrays = {field: g[field][()] for field in ("type", "id", "radius", "cycle")}
            matrix = g["genes"][()]
            for k, gene in enumerate(genes):
                # tessera.xmf's rule: a gene named like a built-in array is shown as gene_<name>.
                arrays["gene_" + gene if gene in BUILT_IN else gene] = matrix[:, k]
            steps.append({"step": int(name), "time": float(g.attrs["time"]), "cells": int(g.attrs["cells"]),
                          "arrays": arrays})
    return genes, types, steps


def dataset_of(source):
    data = servermanager.Fetch(source)
    if data.IsA("vtkMultiBlockDataSet"):
        iterator = data.NewIterator()
        iterator.InitTraversal()
        data = iterator.GetCurrentDataObject() if not iterator.IsDoneWithTraversal() else None
    return data


def check_reader(run, reader, types, steps, problems):
    where = f"{run} [{reader}]"
    if reader == "OpenDataFile":  # what File > Open picks by default (an Xdmf3 reader)
        source = simple.OpenDataFile(paraview_open.xmf_path(run))
        source.UpdatePipelineInformation()
    else:
        source = paraview_open.open_reader(run, reader)
    times = paraview_open.time_steps(source)
    expected_times = [s["time"] for s in steps]
    if len(times) != len(steps) or not np.allclose(times, expected_times, rtol=0, atol=0):
        problems.append(f"{where}: time steps {times}, expected {expected_times}")
        simple.Delete(source)
        return
    for s in steps:
        here = f"{where} step {s['step']} (t = {s['time']})"
        source.UpdatePipeline(s["time"])
        data = dataset_of(source)
        if data is None:
            problems.append(f"{here}: no dataset")
            continue
        if data.GetNumberOfPoints() != s["cells"] or data.GetNumberOfCells() != s["cells"]:
            problems.append(f"{here}: {data.GetNumberOfPoints()} points and {data.GetNumberOfCells()} cells, "
                            f"expected {s['cells']} of each")
        if s["cells"] == 0:
            continue  # nothing to show; the legacy XDMF Reader even reports "Failed to read data" for it
        points = data.GetPointData()
        names = {points.GetArrayName(i) for i in range(points.GetNumberOfArrays())}
        for name, values in s["arrays"].items():
            if name not in names:
                problems.append(f"{here}: no array '{name}' (has {sorted(names)})")
                continue
            read = vtk_to_numpy(points.GetArray(name))
            # Exact: the readers copy the stored numbers; any difference is a wrong column or row order.
            if read.shape != values.shape or not np.array_equal(read, values):
                problems.append(f"{here}: array '{name}' differs from tessera.h5")
        fields = data.GetFieldData()
        named = {}
        for i in range(fields.GetNumberOfArrays()):
            name = fields.GetArrayName(i) or ""
            if name.startswith(paraview_open.TYPE_NAME_PREFIX):
                named[name[len(paraview_open.TYPE_NAME_PREFIX):]] = int(fields.GetArray(i).GetTuple1(0))
        if named != {t: code for code, t in enumerate(types)}:
            problems.append(f"{here}: type names in the field data {named}, expected {types}")
    simple.Delete(source)


def check_png(path, problems):
    """A rendered run is neither blank nor one colour: some pixels show the background (its colour is the
    top-left corner's) and some show cells, in more than a few colours."""
    if not os.path.isfile(path):
        problems.append(f"{path}: not written")
        return
    reader = vtkPNGReader()
    reader.SetFileName(path)
    reader.Update()
    image = reader.GetOutput()
    width, height, _ = image.GetDimensions()
    pixels = vtk_to_numpy(image.GetPointData().GetScalars())[:, :3].astype(int)
    background = pixels[(height - 1) * width]  # rows run bottom to top
    drawn = np.any(pixels != background, axis=1)
    colours = len({tuple(p) for p in pixels[drawn]})
    if not 0.02 <= drawn.mean() <= 0.98 or colours < 4:
        problems.append(f"{path}: looks blank or flooded ({100 * drawn.mean():.2f} % of pixels drawn, "
                        f"{colours} colours)")
    else:
        print(f"{path}: {100 * drawn.mean():.1f} % of pixels drawn in {colours} colours")


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--png-dir", help="render each run here (runs whose cells fill the view cannot be "
                                          "told from a blank image: leave it out for those)")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args(argv)
    if args.png_dir:
        os.makedirs(args.png_dir, exist_ok=True)
    problems = []
    for run in args.runs:
        genes, types, steps = expected_run(run)
        if not steps:
            problems.append(f"{run}: tessera.h5 holds no steps")
            continue
        for reader in paraview_open.READERS + ("OpenDataFile",):
            check_reader(run, reader, types, steps, problems)
        label = os.path.basename(os.path.normpath(run))
        for color in () if args.png_dir is None else ("type", "gene_" + genes[0] if genes[0] in BUILT_IN else genes[0]):
            png = os.path.join(args.png_dir, f"{label}-{color}.png")
            if os.path.exists(png):
                os.remove(png)
            code = paraview_open.main([run, "--color", color, "--png", png, "--size", "400", "300"])
            if code != 0:
                problems.append(f"{run}: paraview_open.py --color {color} exited {code}")
            check_png(png, problems)
            # The next render starts from nothing: main() makes a new view, and the old sources go.
            for source in list(simple.GetSources().values()):
                simple.Delete(source)
            simple.Delete(simple.GetActiveView())
        print(f"{run}: {len(steps)} steps, {len(genes)} genes read alike by {', '.join(paraview_open.READERS)} "
              "and OpenDataFile")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    # sys.exit only on failure: after a render it makes Debian's pvpython fail its X teardown (exit 1).
    if main(sys.argv[1:]) != 0:
        sys.exit(1)
