"""Checks the diffusible fields of tessera runs as users read them: tessera.h5 with h5py (shape, the grid
attributes, the summary.csv columns against the stored voxels) and, with --paraview under pvpython, the
tessera.xmf in each of ParaView's XDMF readers (a block beside the cells whose points are the voxel centres
and whose arrays equal tessera.h5 value by value, at every output time).

Usage: python3 check_fields_output.py RUN_DIR...   |   pvpython check_fields_output.py --paraview RUN_DIR...
Exits 1 listing every problem.
"""

import csv
import os
import sys

import h5py
import numpy as np


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def stored_fields(run):
    """{step: (time, {name: array[z][y][x] or [y][x]})}, the grid's voxels, spacing and origin."""
    with h5py.File(os.path.join(run, "tessera.h5"), "r") as f:
        names = [text(n) for n in f["field_names"][()]]
        spacing = float(f.attrs["field_spacing"])
        origin = [float(v) for v in text(f.attrs["field_origin"]).split()]
        steps = {}
        for step in sorted(f["steps"], key=int):
            g = f["steps"][step]
            steps[int(step)] = (float(g.attrs["time"]), {n: g["fields"][n][()] for n in names})
    return names, spacing, origin, steps


def check_h5(run, problems):
    names, spacing, origin, steps = stored_fields(run)
    dim = len(origin)
    with open(os.path.join(run, "summary.csv")) as f:
        rows = {int(r["step"]): r for r in csv.DictReader(f)}
    for step, (time, fields) in steps.items():
        for name, values in fields.items():
            if values.ndim != dim:
                problems.append(f"{run}: step {step} field {name}: {values.ndim}-D, the domain is {dim}-D")
            expect = {"min": values.min(), "mean": values.mean(), "max": values.max(),
                      "total": values.sum() * spacing ** dim}
            for what, value in expect.items():
                got = float(rows[step][f"{what}_{name}"])
                # summary.csv prints 6 significant digits; the sums differ in rounding only.
                if not np.isclose(got, value, rtol=1e-5, atol=1e-12):
                    problems.append(f"{run}: step {step}: summary {what}_{name} = {got}, tessera.h5 gives {value}")
    return names, spacing, origin, steps


def check_paraview(run, names, spacing, origin, steps, problems):
    from paraview import servermanager
    from vtkmodules.util.numpy_support import vtk_to_numpy

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
    import paraview_open

    for reader in paraview_open.READERS:
        source = paraview_open.open_reader(run, reader)
        for step, (time, fields) in steps.items():
            source.UpdatePipeline(time)
            data = servermanager.Fetch(source)
            blocks = []
            if data.IsA("vtkMultiBlockDataSet") or data.IsA("vtkPartitionedDataSetCollection"):
                iterator = data.NewIterator()
                iterator.InitTraversal()
                while not iterator.IsDoneWithTraversal():
                    blocks.append(iterator.GetCurrentDataObject())
                    iterator.GoToNextItem()
            else:
                blocks.append(data)
            grid = [b for b in blocks if b.GetPointData().GetArray(names[0]) is not None]
            where = f"{run} [{reader}] step {step}"
            if len(grid) != 1:
                problems.append(f"{where}: {len(grid)} blocks hold the field '{names[0]}' ({len(blocks)} blocks)")
                continue
            grid = grid[0]
            shape = next(iter(fields.values())).shape
            if grid.GetNumberOfPoints() != int(np.prod(shape)):
                problems.append(f"{where}: {grid.GetNumberOfPoints()} points, {int(np.prod(shape))} voxels")
                continue
            bounds = grid.GetBounds()
            for a in range(len(origin)):
                n = shape[len(origin) - 1 - a]
                want = (origin[a] + spacing / 2, origin[a] + (n - 0.5) * spacing)
                if not np.allclose(bounds[2 * a:2 * a + 2], want):
                    problems.append(f"{where}: axis {a} spans {bounds[2 * a:2 * a + 2]}, voxel centres {want}")
            for name, values in fields.items():
                array = grid.GetPointData().GetArray(name)
                if array is None:
                    problems.append(f"{where}: no array '{name}'")
                elif not np.array_equal(vtk_to_numpy(array), values.ravel()):
                    problems.append(f"{where}: '{name}' differs from tessera.h5")


def main(argv):
    paraview = "--paraview" in argv
    runs = [a for a in argv if a != "--paraview"]
    problems = []
    for run in runs:
        names, spacing, origin, steps = check_h5(run, problems)
        if paraview:
            check_paraview(run, names, spacing, origin, steps, problems)
    for p in problems:
        print(p)
    print(f"{len(runs)} run(s): {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
