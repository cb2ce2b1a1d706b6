#!/usr/bin/env python3
"""Checks a collected sweep (DIR/sweep.csv, DIR/sweep.h5) against the members' own files, read here
independently of tessera's collector.

  check_sweep_table.py DIR [--members N] [--varies COLUMN ...] [--plots]

- sweep.csv: members.csv's columns, then status, then outcomes; N members, all `ok`; every `<column>@<time>`
  outcome equals the member's summary.csv field in the last row at or before <time> (`end`: the last row),
  character for character; every other outcome equals the member's metrics.json value at that dotted key.
- sweep.h5: /member, /status and every /outcomes/<name> equal sweep.csv's (as numbers; NaN where empty);
  /parameters/<key> holds members.csv's values (numbers without their unit, or the text).
- --varies C: column C takes more than one value over the members (an ensemble's seeds do change outcomes).
- --plots: tools/sweep_plots.py writes one PNG per varied key into DIR/plots.
"""
import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys

import h5py


def fail(msg):
    sys.exit("FAIL: " + msg)


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--members", type=int)
    ap.add_argument("--varies", action="append", default=[])
    ap.add_argument("--plots", action="store_true")
    a = ap.parse_args()
    members = rows_of(os.path.join(a.dir, "members.csv"))
    table = rows_of(os.path.join(a.dir, "sweep.csv"))
    header, rows = table[0], table[1:]
    n_params = len(members[0])
    if header[:n_params] != members[0] or header[n_params] != "status":
        fail("sweep.csv header %s does not start with members.csv's %s + status" % (header, members[0]))
    if [r[:n_params] for r in rows] != members[1:]:
        fail("sweep.csv parameters differ from members.csv")
    if a.members is not None and len(rows) != a.members:
        fail("%d members, expected %d" % (len(rows), a.members))
    outcomes = header[n_params + 1:]
    if not outcomes:
        fail("no outcome columns")
    checked = 0
    for r in rows:
        k = r[0]
        if r[n_params] != "ok":
            fail("member %s: status %r" % (k, r[n_params]))
        member = os.path.join(a.dir, "members", k)
        summary = rows_of(os.path.join(member, "summary.csv")) if any("@" in o for o in outcomes) else None
        metrics = None
        for name, value in zip(outcomes, r[n_params + 1:]):
            if "@" in name:
                column, at = name.rsplit("@", 1)
                j = summary[0].index(column)
                body = summary[1:]
                if at == "end":
                    want = body[-1][j]
                else:
                    t = float(re.match(r"^([0-9.e+-]+)min$", at).group(1))
                    want = [row for row in body if float(row[1]) <= t + 1e-9 * max(1, t)][-1][j]
            else:
                if metrics is None:
                    with open(os.path.join(member, "metrics.json")) as f:
                        metrics = json.load(f)
                want = metrics
                for part in name.split("."):
                    want = want[part]
                if float(value) != float(want):
                    fail("member %s: %s = %s, metrics.json has %r" % (k, name, value, want))
                checked += 1
                continue
            if value != want:
                fail("member %s: %s = %r, its summary.csv has %r" % (k, name, value, want))
            checked += 1
    for c in a.varies:
        j = header.index(c)
        if len({r[j] for r in rows}) < 2:
            fail("column %s is the same for every member" % c)

    with h5py.File(os.path.join(a.dir, "sweep.h5"), "r") as h:
        if h.attrs["format"] != "tessera-sweep":
            fail("sweep.h5 format %r" % h.attrs["format"])
        if [int(x) for x in h["member"][()]] != [int(r[0]) for r in rows]:
            fail("sweep.h5 /member differs")
        status = [s.decode() if isinstance(s, bytes) else s for s in h["status"][()]]
        if status != [r[n_params] for r in rows]:
            fail("sweep.h5 /status differs: %s" % status)
        for i, name in enumerate(outcomes):
            got = h["outcomes"][name][()]
            for v, r in zip(got, rows):
                want = r[n_params + 1 + i]
                if (want == "" and not math.isnan(v)) or (want != "" and v != float(want)):
                    fail("sweep.h5 /outcomes/%s: %r, sweep.csv %r" % (name, v, want))
        for j, key in enumerate(members[0][1:], start=1):
            got = h["parameters"][key][()]
            for v, r in zip(got, rows):
                text = r[j]
                if isinstance(v, bytes):
                    ok = v.decode() == text
                elif len(text.split()) == 1:
                    ok = float(v) == float(text)
                else:  # "10 um": in tessera's base units, which the deck key's unit decides
                    ok = math.isfinite(float(v))
                if not ok:
                    fail("sweep.h5 /parameters/%s: %r for %r" % (key, v, text))

    if a.plots:
        tool = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "sweep_plots.py")
        p = subprocess.run([sys.executable, tool, a.dir], capture_output=True, text=True)
        if p.returncode != 0:
            fail("sweep_plots.py: %s%s" % (p.stdout, p.stderr))
        axes = [c for c in members[0][1:] if c not in ("replicate", "random.seed")] or members[0][1:]
        for c in axes:  # <key>.png, or <key>_1.png, <key>_2.png, ... when the outcomes fill several pages
            stem = re.sub(r"[^A-Za-z0-9._@-]+", "_", c)
            pngs = [f for f in os.listdir(os.path.join(a.dir, "plots")) if re.match(re.escape(stem) + r"(_\d+)?\.png$", f)]
            if not pngs:
                fail("no plot of the outcomes against %s in %s/plots" % (c, a.dir))
            for png in pngs:
                with open(os.path.join(a.dir, "plots", png), "rb") as f:
                    if f.read(8) != b"\x89PNG\r\n\x1a\n":
                        fail("%s is not a PNG" % png)
    print("OK: %d members, %d outcome values checked against the members' files" % (len(rows), checked))


if __name__ == "__main__":
    main()
