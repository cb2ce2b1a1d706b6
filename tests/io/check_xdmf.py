#!/usr/bin/env python3
"""Checks tessera.xmf files against the HDF5 files they point into, the way a viewer would read them.

Usage: check_xdmf.py RUN/tessera.xmf [MORE.xmf ...]

For every HDF DataItem: the file and dataset exist and the dataset's shape equals the item's Dimensions. For
every HyperSlab DataItem (its 1st child the start/stride/count selection, its 2nd the dataset): the selection
fits in the dataset and selects the item's Dimensions, and the dataset is 1-D (ParaView's Xdmf3 readers skip a
HyperSlab of a 2-D dataset). For every Grid: its Topology, Geometry and node Attributes agree on the number of
cells, and a Polyvertex Topology with cells has explicit connectivity that lists vertices 0..N-1 (the Xdmf3
readers build no cells without it). Exits 1 listing every problem, 77 (skipped) when h5py is not installed.
"""

import os
import sys

import numpy as np
import xml.etree.ElementTree as ET

try:
    import h5py
except ImportError:
    print("check_xdmf.py: h5py is not installed; skipping", file=sys.stderr)
    sys.exit(77)


def dimensions(item):
    text = item.get("Dimensions")
    if text is None:
        raise ValueError("DataItem without Dimensions")
    return tuple(int(v) for v in text.split())


class Checker:
    def __init__(self, xmf_path):
        self.xmf_path = xmf_path
        self.folder = os.path.dirname(os.path.abspath(xmf_path))
        self.problems = []
        self.files = {}
        self.items = 0

    def problem(self, where, message):
        self.problems.append(f"{self.xmf_path}: {where}: {message}")

    def dataset(self, where, reference):
        """The h5py dataset an HDF DataItem names, or None after reporting why not."""
        if ":" not in reference:
            self.problem(where, f"'{reference}' is not FILE:/PATH")
            return None
        name, path = reference.split(":", 1)
        if os.path.isabs(name):
            self.problem(where, f"'{name}' is absolute; the run directory could not be moved")
        file_path = os.path.join(self.folder, name)
        if file_path not in self.files:
            try:
                self.files[file_path] = h5py.File(file_path, "r")
            except OSError as error:
                self.problem(where, f"cannot open '{file_path}': {error}")
                self.files[file_path] = None
        h5 = self.files[file_path]
        if h5 is None:
            return None
        if path not in h5:
            self.problem(where, f"'{path}' does not exist in '{file_path}'")
            return None
        node = h5[path]
        if not isinstance(node, h5py.Dataset):
            self.problem(where, f"'{path}' in '{file_path}' is not a dataset")
            return None
        return node

    def hdf_item(self, where, item):
        """Checks one HDF DataItem; returns the dataset's shape or None."""
        self.items += 1
        reference = (item.text or "").strip()
        where = f"{where} {reference}"
        data = self.dataset(where, reference)
        if data is None:
            return None
        declared = dimensions(item)
        if tuple(data.shape) != declared:
            self.problem(where, f"Dimensions {declared} but the dataset's shape is {tuple(data.shape)}")
        return tuple(data.shape)

    def hyperslab_item(self, where, item):
        """Checks a HyperSlab DataItem; returns the selected shape or None."""
        children = item.findall("DataItem")
        if len(children) != 2:
            self.problem(where, f"HyperSlab DataItem has {len(children)} DataItem children, expected 2")
            return None
        selection, source = children
        if (source.get("Format") or "XML").upper() != "HDF":
            self.problem(where, "HyperSlab source (2nd child) is not an HDF DataItem")
            return None
        shape = self.hdf_item(where, source)
        if shape is None:
            return None
        if len(shape) != 1:
            self.problem(where, f"HyperSlab of a {len(shape)}-D dataset: ParaView's Xdmf3 readers skip it")
        values = [int(v) for v in (selection.text or "").split()]
        rank = len(shape)
        if dimensions(selection) != (3, rank) or len(values) != 3 * rank:
            self.problem(where, f"HyperSlab selection is not 3 x {rank} values: {values}")
            return None
        start, stride, count = values[:rank], values[rank:2 * rank], values[2 * rank:]
        for axis in range(rank):
            if count[axis] > 0 and start[axis] + stride[axis] * (count[axis] - 1) >= shape[axis]:
                self.problem(where, f"HyperSlab axis {axis} (start {start[axis]}, stride {stride[axis]}, "
                                    f"count {count[axis]}) overruns the dataset's {shape[axis]}")
        declared = dimensions(item)
        if tuple(count) != declared:
            self.problem(where, f"HyperSlab Dimensions {declared} but it selects {tuple(count)}")
        return tuple(count)

    def item_values(self, item):
        """The values an HDF or HyperSlab DataItem selects (after item_shape found it valid)."""
        if (item.get("ItemType") or item.get("Type") or "").lower() == "hyperslab":
            selection, source = item.findall("DataItem")
            data = self.dataset("", (source.text or "").strip())[()]
            values = [int(v) for v in (selection.text or "").split()]
            rank = data.ndim
            start, stride, count = values[:rank], values[rank:2 * rank], values[2 * rank:]
            return data[tuple(slice(b, b + s * c, s) for b, s, c in zip(start, stride, count))]
        return self.dataset("", (item.text or "").strip())[()]

    def item_shape(self, where, item):
        if (item.get("ItemType") or item.get("Type") or "").lower() == "hyperslab":
            return self.hyperslab_item(where, item)
        if (item.get("Format") or "XML").upper() == "HDF":
            return self.hdf_item(where, item)
        return dimensions(item)

    def grid(self, grid):
        where = f"Grid '{grid.get('Name')}'"
        time = grid.find("Time")
        if time is None or time.get("Value") is None:
            self.problem(where, "no <Time Value=...>")
        topology = grid.find("Topology")
        if topology is None:
            self.problem(where, "no Topology")
            return
        cells = int(topology.get("NumberOfElements", "-1"))
        connectivity = topology.findall("DataItem")
        if topology.get("TopologyType") == "Polyvertex" and cells > 0 and not connectivity:
            self.problem(where, "Polyvertex Topology without connectivity: ParaView's Xdmf3 readers build no cells")
        for item in connectivity:
            shape = self.item_shape(where + " Topology", item)
            if shape is None:
                continue
            if shape != (cells,):
                self.problem(where, f"Topology connectivity shape {shape}, expected ({cells},)")
            elif not np.array_equal(self.item_values(item), np.arange(cells)):
                self.problem(where, f"Topology connectivity is not 0..{cells - 1}")
        geometry = grid.find("Geometry")
        if geometry is None:
            self.problem(where, "no Geometry")
        else:
            width = {"XY": 2, "XYZ": 3}.get(geometry.get("GeometryType"))
            if width is None:
                self.problem(where, f"unexpected GeometryType {geometry.get('GeometryType')}")
            for item in geometry.findall("DataItem"):
                shape = self.item_shape(where + " Geometry", item)
                if shape is not None and shape != (cells, width):
                    self.problem(where, f"Geometry shape {shape}, expected ({cells}, {width})")
        names = set()
        for attribute in grid.findall("Attribute"):
            name = attribute.get("Name")
            if name in names:
                self.problem(where, f"two Attributes named '{name}'")
            names.add(name)
            for item in attribute.findall("DataItem"):
                shape = self.item_shape(f"{where} Attribute '{name}'", item)
                if attribute.get("Center") == "Grid":
                    continue  # field data: any length
                if shape is not None and shape[0] != cells:
                    self.problem(where, f"Attribute '{name}' has {shape[0]} values for {cells} cells")

    def run(self):
        try:
            root = ET.parse(self.xmf_path).getroot()
        except (OSError, ET.ParseError) as error:
            self.problem("parse", str(error))
            return
        if root.tag != "Xdmf":
            self.problem("root", f"root element is <{root.tag}>, expected <Xdmf>")
        collections = [g for g in root.iter("Grid") if g.get("GridType") == "Collection"]
        if len(collections) != 1 or collections[0].get("CollectionType") != "Temporal":
            self.problem("Domain", "expected one temporal Collection grid")
            return
        steps = collections[0].findall("Grid")
        if not steps:
            self.problem("Collection", "holds no steps")
        for step in steps:
            self.grid(step)
        # DataItems not reached through a Grid would be silently ignored above; count every HDF one.
        expected = sum(1 for item in root.iter("DataItem") if (item.get("Format") or "").upper() == "HDF")
        if expected != self.items:
            self.problem("Domain", f"{expected} HDF DataItems but {self.items} checked")
        for h5 in self.files.values():
            if h5 is not None:
                h5.close()


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    for path in paths:
        checker = Checker(path)
        checker.run()
        problems += checker.problems
        if not checker.problems:
            print(f"{path}: OK ({checker.items} HDF DataItems checked)")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
