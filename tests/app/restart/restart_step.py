#!/usr/bin/env python3
"""One step of a restart test: optionally copies a run directory afresh (--copy SRC DST), damages its
checkpoint (--damage), runs a command (after `--`) with extra environment (--env K=V), and checks its exit
code (--expect-code; `killed` for a process ended by a signal, as mpirun reports it: any code >= 128 or a
negative one) and output (--expect REGEX), and with --unchanged that no file of DST changed (byte for byte)
and none appeared or went."""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys

import h5py


def fail(msg):
    print("restart_step: " + msg, file=sys.stderr)
    sys.exit(1)


def digests(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def damage(path, how):
    if how == "truncate":
        # A partial file, as a copy cut short or a full disk leaves one.
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif how == "flip":
        # Bytes inside the data of /cells/genes: HDF5's Fletcher-32 checksum must catch them.
        with h5py.File(path, "r") as f:
            info = f["cells/genes"].id.get_chunk_info(0)
        with open(path, "r+b") as f:
            f.seek(info.byte_offset + info.size // 2)
            chunk = bytearray(f.read(8))
            f.seek(info.byte_offset + info.size // 2)
            f.write(bytes(b ^ 0x5A for b in chunk))
    elif how == "incomplete":
        # Written up to its last attribute only (complete = 0).
        with h5py.File(path, "r+") as f:
            f.attrs["complete"] = 0
    else:
        fail("unknown --damage " + how)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--copy", nargs=2, metavar=("SRC", "DST"))
    p.add_argument("--damage", choices=["truncate", "flip", "incomplete"])
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--expect-code", default="0")
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--unchanged", metavar="DIR")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if a.copy:
        src, dst = a.copy
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
        if a.damage:
            damage(os.path.join(dst, "checkpoint.h5"), a.damage)
    before = digests(a.unchanged) if a.unchanged else None
    env = dict(os.environ)
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    r = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
    out = r.stdout
    code = r.returncode
    if a.expect_code == "killed":
        if not (code >= 128 or code < 0):
            fail(f"expected the run to be killed, it exited {code}:\n{out}")
    elif code != int(a.expect_code):
        fail(f"exit code {code}, expected {a.expect_code}:\n{out}")
    for regex in a.expect:
        if not re.search(regex, out):
            fail(f"output does not match '{regex}':\n{out}")
    if before is not None:
        after = digests(a.unchanged)
        if after != before:
            changed = sorted(set(before) ^ set(after) | {k for k in before if after.get(k) != before[k]})
            fail(f"files of {a.unchanged} changed: {changed}")
    print(f"restart_step: exit {code} as expected" + (", nothing changed" if before is not None else ""))


if __name__ == "__main__":
    main()
