#!/usr/bin/env python3
"""Checks the attributes that name the command an output came from (issue 8, item 8): `command` is the full
command line, quoted so that a shell splits it back into exactly the arguments given; `host` is set; the SLURM
job and array task ids are those of the environment the test gave the run (or absent outside SLURM); and
tessera.log says the same."""
import argparse
import shlex
import socket
import sys

import h5py


def fail(msg):
    print("check_provenance: " + msg, file=sys.stderr)
    sys.exit(1)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


ap = argparse.ArgumentParser()
ap.add_argument("file", help="HDF5 file")
ap.add_argument("--group", default="/", help="group holding the attributes (model.h5: /provenance)")
ap.add_argument("--args", required=True, help="the arguments after the executable, as one shell-quoted string")
ap.add_argument("--slurm-job", default="", help="expected slurm_job_id ('' = the attribute is absent)")
ap.add_argument("--slurm-task", default="", help="expected slurm_array_task_id ('' = absent)")
ap.add_argument("--log", help="tessera.log that must record the same command line")
args = ap.parse_args()

with h5py.File(args.file, "r") as f:
    attrs = f[args.group].attrs
    if "command" not in attrs:
        fail(f"{args.file}:{args.group}: no 'command' attribute")
    command = text(attrs["command"])
    words = shlex.split(command)
    expected = shlex.split(args.args)
    if words[1:] != expected:
        fail(f"{args.file}: command {command!r} splits into {words[1:]}, expected {expected}")
    if not words[0].endswith("tessera"):
        fail(f"{args.file}: command {command!r} does not start with the tessera executable")
    if text(attrs.get("host", "")) != socket.gethostname():
        fail(f"{args.file}: host {attrs.get('host')!r}, expected {socket.gethostname()!r}")
    for name, value in (("slurm_job_id", args.slurm_job), ("slurm_array_task_id", args.slurm_task)):
        if value == "" and name in attrs:
            fail(f"{args.file}: '{name}' = {attrs[name]!r} outside SLURM")
        if value != "" and text(attrs.get(name, "")) != value:
            fail(f"{args.file}: '{name}' = {attrs.get(name)!r}, expected {value!r}")

if args.log:
    with open(args.log) as fh:
        log = fh.read()
    line = "command: " + command
    if line not in log:
        fail(f"{args.log}: no line '{line}'")
    if args.slurm_job and f"SLURM job {args.slurm_job}" not in log:
        fail(f"{args.log}: does not name SLURM job {args.slurm_job}")
print(f"check_provenance: {args.file}: command, host and SLURM ids OK")
