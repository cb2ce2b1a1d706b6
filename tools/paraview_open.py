"""Opens a tessera run in ParaView: every cell a sphere of its own radius (Point Gaussian), coloured by a gene
or by cell type, with the type names as the colour legend's categories.

From a shell (pvpython comes with ParaView; Debian: `tools/install-deps.sh --viz`):
    pvpython tools/paraview_open.py runs/quickstart --color Hes1 --png hes1.png
    xvfb-run -a pvpython tools/paraview_open.py runs/quickstart --color type --png types.png   (no display)
In the ParaView GUI: View > Python Shell, then
    exec(open("tools/paraview_open.py").read()); open_run("runs/quickstart", color="type")

RUN is a run directory or its tessera.xmf. --reader picks one of ParaView's three XDMF readers (all read
tessera.xmf fully); --time picks the output time shown (default: the last); --png saves a screenshot.
"""

import argparse
import os
import sys

from paraview import simple

READERS = ("Xdmf3ReaderS", "Xdmf3ReaderT", "XDMFReader")
TYPE_NAME_PREFIX = "type_name:"  # field data written by tessera: "type_name:<name>" holds <name>'s code
# Distinct colours for up to ten cell types (Tableau 10); more types reuse them.
TYPE_COLOURS = [
    (0.122, 0.467, 0.706), (1.000, 0.498, 0.055), (0.173, 0.627, 0.173), (0.839, 0.153, 0.157),
    (0.580, 0.404, 0.741), (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.498, 0.498, 0.498),
    (0.737, 0.741, 0.133), (0.090, 0.745, 0.812),
]


def xmf_path(run):
    """The absolute path of a run's tessera.xmf (the Xdmf3 readers resolve tessera.h5 wrongly from a bare
    relative file name)."""
    path = os.path.join(run, "tessera.xmf") if os.path.isdir(run) else run
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file (expected a run directory or its tessera.xmf)")
    return os.path.abspath(path)


def open_reader(run, reader="Xdmf3ReaderS"):
    """A reader proxy of the given kind on a run's tessera.xmf, its time steps known."""
    if reader not in READERS:
        raise ValueError(f"unknown reader '{reader}'; choose one of {', '.join(READERS)}")
    path = xmf_path(run)
    if reader == "XDMFReader":
        source = simple.XDMFReader(registrationName=os.path.basename(os.path.dirname(path)), FileNames=[path])
    else:
        source = getattr(simple, reader)(registrationName=os.path.basename(os.path.dirname(path)),
                                         FileName=[path])
    source.UpdatePipelineInformation()
    return source


def time_steps(source):
    values = source.TimestepValues
    if values is None:
        return []
    try:
        return list(values)
    except TypeError:  # a single step comes back as a number
        return [values]


def type_names(source):
    """{code: name} from the field data tessera writes beside each step."""
    names = {}
    for name in source.FieldData.keys():
        if name.startswith(TYPE_NAME_PREFIX):
            names[int(source.FieldData[name].GetRange(0)[0])] = name[len(TYPE_NAME_PREFIX):]
    return names


def open_run(run, color="type", reader="Xdmf3ReaderS", time=None, view=None):
    """Shows a run in `view` (the active render view by default) and returns (source, display, view)."""
    source = open_reader(run, reader)
    times = time_steps(source)
    shown = times[-1] if time is None and times else time
    if shown is not None:
        scene = simple.GetAnimationScene()
        scene.UpdateAnimationUsingDataTimeSteps()
        scene.AnimationTime = shown
    source.UpdatePipeline(shown if shown is not None else 0.0)
    view = view or simple.GetActiveViewOrCreate("RenderView")
    if shown is not None:
        view.ViewTime = shown
    display = simple.Show(source, view)
    display.SetRepresentationType("Point Gaussian")
    display.ShaderPreset = "Sphere"
    # Radius in µm straight from the `radius` array: scale by it, with no scale function and factor 1.
    display.ScaleByArray = 1
    display.SetScaleArray = ["POINTS", "radius"]
    display.UseScaleFunction = 0
    display.GaussianRadius = 1.0

    arrays = source.PointData.keys()
    if color not in arrays:
        raise ValueError(f"no array '{color}' in {xmf_path(run)}; arrays: {', '.join(arrays)}")
    simple.ColorBy(display, ("POINTS", color))
    lut = simple.GetColorTransferFunction(color)
    if color == "type":
        names = type_names(source)
        lut.InterpretValuesAsCategories = 1
        lut.Annotations = [v for code in sorted(names) for v in (str(code), names[code])]
        lut.IndexedColors = [c for code in sorted(names) for c in TYPE_COLOURS[code % len(TYPE_COLOURS)]]
    else:
        display.RescaleTransferFunctionToDataRange(False, True)
    display.SetScalarBarVisibility(view, True)

    bounds = source.GetDataInformation().GetBounds()
    if bounds[4] == bounds[5]:  # a 2-D run: look straight down, pan and zoom in the plane
        view.InteractionMode = "2D"
    view.ResetCamera()
    simple.SetActiveSource(source)
    return source, display, view


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run directory or its tessera.xmf")
    parser.add_argument("--color", default="type", help="a gene name or 'type' (default)")
    parser.add_argument("--reader", default="Xdmf3ReaderS", choices=READERS)
    parser.add_argument("--time", type=float, help="output time to show, minutes (default: the last)")
    parser.add_argument("--png", help="save a screenshot here")
    parser.add_argument("--size", type=int, nargs=2, default=(1200, 900), metavar=("W", "H"))
    args = parser.parse_args(argv)
    try:
        view = simple.CreateView("RenderView")
        simple.SetActiveView(view)
        open_run(args.run, color=args.color, reader=args.reader, time=args.time, view=view)
    except (FileNotFoundError, ValueError) as error:
        print(f"paraview_open.py: {error}", file=sys.stderr)
        return 2
    if args.png:
        simple.SaveScreenshot(args.png, view, ImageResolution=list(args.size))
        print(f"paraview_open.py: wrote {args.png}")
    return 0


if __name__ == "__main__" and len(sys.argv) > 1:
    status = main(sys.argv[1:])
    # Only on failure: sys.exit after a render makes Debian's pvpython fail its X teardown (GLXBadContext,
    # exit 1), while ending the script normally exits 0.
    if status != 0:
        sys.exit(status)
