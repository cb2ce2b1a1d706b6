#!/usr/bin/env python3
"""End-to-end checks of `tessera sweep` (issue 10 item 3) on a small quickstart sweep.

  sweep_cli.py --tessera BIN --mpiexec "mpiexec -n {np} FLAGS" --work DIR SCENARIO

Scenarios:
  groups    plan -> run with 1 group and with 2 groups on 2 ranks -> collect: byte-identical sweep.csv, every
            member's summary.csv equal to running the member's deck alone with `tessera run`; planning again
            changes nothing; a folder planned from other members is refused (exit 2).
  resume    a sweep interrupted (one member's status removed and its outputs truncated, one never run):
            `sweep run DIR` redoes exactly those two; the finished members' files keep their bytes and mtimes.
  failure   one member's deck removed after planning: `sweep run` on 2 ranks in 2 groups finishes the other
            members, records the failure in members/<k>/status (exit 2 of load_deck) and exits 1, no hang.
  stop      SIGUSR1 while member 0 runs (one rank): the sweep stops at a member boundary with exit 75
            (resumable), the members after it have no status, and `sweep run DIR` again finishes them.
  member    --member K runs member K alone (a job array task), out of range -> exit 2, done -> skipped.
  restart   member 1 interrupted after writing a checkpoint (its deck run to 10 of its 20 min, no status):
            `sweep run DIR` continues it from checkpoint.h5 (its log says so) and its summary.csv equals a
            `tessera run` of its deck from the start; member 3's checkpoint says it already finished (its
            status lost): the restart is refused and the member runs again from the start, same result.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys

SWEEP = """\
# A 2 x 2 sweep of the quickstart physics at 300 cells for 20 min.
base: {base}
set:
  cells.init.count: 300
  domain.hi: [171 um, 171 um]
  time.end: 20 min
axes:
  - key: signaling.range
    values: [10 um, 15 um]
replicates: 2
collect:
  times: [10 min, end]
  counts: true
  genes: [mean, sd]
"""


def run(cmd, expect=0, timeout=240):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        sys.exit("FAIL: %s\nexit %d (expected %d)\n--- stdout\n%s--- stderr\n%s" %
                 (" ".join(cmd), p.returncode, expect, p.stdout, p.stderr))
    return p


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def members(d):
    return sorted(int(k) for k in os.listdir(os.path.join(d, "members")))


def status(d, k):
    path = os.path.join(d, "members", str(k), "status")
    return read(path, "r") if os.path.exists(path) else ""


def check(cond, message):
    if not cond:
        sys.exit("FAIL: " + message)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--mpiexec", required=True, help="launcher with {np} for the rank count")
    ap.add_argument("--work", required=True)
    ap.add_argument("--base", required=True, help="inputs/quickstart.yaml")
    ap.add_argument("scenario", choices=["groups", "resume", "failure", "member", "stop", "restart"])
    a = ap.parse_args()
    work = os.path.join(a.work, a.scenario)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    sweep = os.path.join(work, "sweep.yaml")
    with open(sweep, "w") as f:
        f.write(SWEEP.format(base=os.path.abspath(a.base)))
    tessera = [a.tessera]

    def mpi(np):
        return a.mpiexec.format(np=np).split() + tessera

    if a.scenario == "groups":
        one, two = os.path.join(work, "one"), os.path.join(work, "two")
        run(tessera + ["sweep", "plan", sweep, "-o", one])
        csv = read(os.path.join(one, "members.csv"), "r")
        check(csv.splitlines() == ["member,signaling.range,replicate,random.seed", "0,10 um,0,42", "1,10 um,1,43",
                                   "2,15 um,0,42", "3,15 um,1,43"], "members.csv:\n" + csv)
        shutil.copytree(one, two)
        run(mpi(2) + ["sweep", "run", one])
        run(mpi(2) + ["sweep", "run", two, "--groups", "2"])
        alone = os.path.join(work, "alone")
        for k in members(one):
            check(status(one, k) == "ok\n" and status(two, k) == "ok\n", "member %d not ok" % k)
            a_csv = read(os.path.join(one, "members", str(k), "summary.csv"))
            check(a_csv == read(os.path.join(two, "members", str(k), "summary.csv")),
                  "member %d: summary.csv differs between 1 and 2 groups" % k)
            # The member deck is a deck like any other: `tessera run` on it gives the same outputs.
            run(tessera + ["run", os.path.join(one, "members", str(k), "deck.yaml"), "-o", alone, "--overwrite"])
            check(a_csv == read(os.path.join(alone, "summary.csv")),
                  "member %d: summary.csv differs from tessera run of its deck" % k)
        for d in (one, two):
            run(tessera + ["sweep", "collect", d])
        table = read(os.path.join(one, "sweep.csv"))
        check(table == read(os.path.join(two, "sweep.csv")), "sweep.csv differs between 1 and 2 groups")
        header = table.decode().splitlines()[0].split(",")
        check(header[:5] == ["member", "signaling.range", "replicate", "random.seed", "status"] and
              "cells_epithelial@10min" in header and "sd_immune_Hes1@end" in header, "sweep.csv header: %s" % header)
        before = {k: os.stat(os.path.join(one, "members", str(k), "deck.yaml")).st_mtime_ns for k in members(one)}
        p = run(tessera + ["sweep", "plan", sweep, "-o", one])
        check("already planned" in p.stdout, p.stdout)
        check(before == {k: os.stat(os.path.join(one, "members", str(k), "deck.yaml")).st_mtime_ns
                         for k in members(one)}, "planning again rewrote member decks")
        other = os.path.join(work, "other.yaml")
        with open(other, "w") as f:
            f.write(SWEEP.format(base=os.path.abspath(a.base)).replace("[10 um, 15 um]", "[10 um, 20 um]"))
        p = run(tessera + ["sweep", "plan", other, "-o", one], expect=2)
        check("lists other members" in p.stderr, p.stderr)

    elif a.scenario == "resume":
        d = os.path.join(work, "sweep")
        run(mpi(2) + ["sweep", "run", sweep, "-o", d, "--groups", "2"])
        reference = {k: read(os.path.join(d, "members", str(k), "summary.csv")) for k in members(d)}
        files = {}
        for k in (0, 3):
            m = os.path.join(d, "members", str(k))
            files[k] = {n: (os.stat(os.path.join(m, n)).st_mtime_ns, read(os.path.join(m, n))) for n in os.listdir(m)}
        # Member 1 interrupted mid-run: no status, a partial summary.csv. Member 2 never started.
        m1 = os.path.join(d, "members", "1")
        os.remove(os.path.join(m1, "status"))
        with open(os.path.join(m1, "summary.csv"), "r+b") as f:
            f.truncate(100)
        m2 = os.path.join(d, "members", "2")
        for n in os.listdir(m2):
            if n != "deck.yaml":
                os.remove(os.path.join(m2, n))
        p = run(mpi(2) + ["sweep", "run", d, "--groups", "2"])
        for k in (0, 3):
            check("member %d (group %d): finished before; skipped" % (k, k % 2) in p.stdout, p.stdout)
            m = os.path.join(d, "members", str(k))
            now = {n: (os.stat(os.path.join(m, n)).st_mtime_ns, read(os.path.join(m, n))) for n in os.listdir(m)}
            check(now == files[k], "finished member %d was touched by the resumed sweep" % k)
        for k in (1, 2):
            check("member %d (group %d): done" % (k, k % 2) in p.stdout, p.stdout)
            check(status(d, k) == "ok\n", "member %d: %r" % (k, status(d, k)))
            check(read(os.path.join(d, "members", str(k), "summary.csv")) == reference[k],
                  "member %d redone differs from its first run" % k)

    elif a.scenario == "failure":
        d = os.path.join(work, "sweep")
        run(tessera + ["sweep", "plan", sweep, "-o", d])
        os.remove(os.path.join(d, "members", "1", "deck.yaml"))
        p = run(mpi(2) + ["sweep", "run", d, "--groups", "2"], expect=1)
        check("1 of 4 sweep members failed (1)" in p.stderr, p.stderr)
        check("member 1 (group 1): failed (exit 2)" in p.stderr, p.stderr)
        for k in (0, 2, 3):
            check(status(d, k) == "ok\n", "member %d: %r" % (k, status(d, k)))
        s = status(d, 1)
        check(s.startswith("failed 2\n") and "deck.yaml" in s, "member 1 status: %r" % s)

    elif a.scenario == "member":
        d = os.path.join(work, "sweep")
        run(tessera + ["sweep", "plan", sweep, "-o", d])
        p = run(tessera + ["sweep", "run", d, "--member", "4"], expect=2)
        check("--member 4: the sweep in %s has 4 members (0 to 3)" % d in p.stderr, p.stderr)
        run(tessera + ["sweep", "run", d, "--member", "-1"], expect=2)
        run(mpi(2) + ["sweep", "run", d, "--member", "2"])
        check([status(d, k) for k in range(4)] == ["", "", "ok\n", ""], "only member 2 ran")
        p = run(tessera + ["sweep", "run", d, "--member", "2"])
        check("member 2 finished before; skipped" in p.stdout, p.stdout)
        p = run(mpi(2) + ["sweep", "run", d, "--member", "1", "--groups", "2"], expect=2)
        check("drop --groups" in p.stderr, p.stderr)
    elif a.scenario == "stop":
        d = os.path.join(work, "sweep")
        run(tessera + ["sweep", "plan", sweep, "-o", d])
        p = subprocess.Popen(tessera + ["sweep", "run", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        first = p.stdout.readline()  # "... 4 members of ..." before member 0 starts
        check("4 members" in first, first)
        p.send_signal(signal.SIGUSR1)
        out, err = p.communicate(timeout=240)
        check(p.returncode == 75, "exit %d, expected 75\n%s%s" % (p.returncode, out, err))
        check("stopped early" in out, out)
        done = [status(d, k) for k in range(4)]
        check("" in done and done[-1] == "", "statuses after the stop: %r" % done)
        p = run(tessera + ["sweep", "run", d])
        check([status(d, k) for k in range(4)] == ["ok\n"] * 4, "resumed sweep did not finish every member")
    elif a.scenario == "restart":
        d = os.path.join(work, "sweep")
        run(tessera + ["sweep", "plan", sweep, "-o", d])
        m1, m3 = (os.path.join(d, "members", str(k)) for k in (1, 3))
        # Stand-ins for interrupted attempts: a checkpoint at 10 min (restart may extend time.end) and one at
        # the end, neither with a status file.
        run(tessera + ["run", os.path.join(m1, "deck.yaml"), "-o", m1, "-s", "time.end=10 min"])
        run(tessera + ["run", os.path.join(m3, "deck.yaml"), "-o", m3])
        check(status(d, 1) == "" and status(d, 3) == "", "an attempt outside the sweep wrote a status")
        p = run(tessera + ["sweep", "run", d])
        check([status(d, k) for k in range(4)] == ["ok\n"] * 4, "the sweep did not finish every member")
        check("member 1 (group 0): done in" in p.stdout and "(continued from its checkpoint)" in p.stdout and
              "cannot be continued (" in p.stdout and "running it from the start" in p.stdout, p.stdout)
        log1 = read(os.path.join(m1, "tessera.log"), "r")
        check("restarting from" in log1, "member 1 did not continue from its checkpoint:\n" + log1)
        alone = os.path.join(work, "alone")
        for m in (m1, m3):
            run(tessera + ["run", os.path.join(m, "deck.yaml"), "-o", alone, "--overwrite"])
            check(read(os.path.join(m, "summary.csv")) == read(os.path.join(alone, "summary.csv")),
                  "%s: summary.csv differs from an uninterrupted tessera run of its deck" % m)
    print("OK", a.scenario)


if __name__ == "__main__":
    main()
