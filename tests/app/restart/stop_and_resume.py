#!/usr/bin/env python3
"""A run stopped by a signal (issue 10 item 2, in `tessera run`; `tessera predict` with --command predict):
starts `tessera run DECK -o DIR` (with --launch, e.g. mpirun -n 2), waits until its log shows step --after,
sends --signal to the process (mpirun forwards SIGUSR1 to its ranks at once, SIGTERM its own way), and checks
that it ended with exit 75 (resumable; within 120 s, the promptness being the receipt line's step below),
that its log says "stopped at step N by <signal>; resume with tessera run DECK --restart DIR",
that it says "SIG<signal> received by rank R during step N" (the stop comes at the end of the step the signal
came in), that checkpoint.h5 is at step N and tessera.h5 ends at step N with complete = 0. Then it continues the run
with --restart to step N + 5 and runs the same deck uninterrupted to that step in DIR_reference: both must
agree bit for bit (compare_runs.py).

--console says what becomes of the run's stdout: `read` (a pipe read when the run has ended, as before),
`full` (a 4 KiB pipe nobody reads: the signal goes once the run is blocked on it, and must still stop it,
core/console.hpp) or `closed` (a pipe whose reader has gone: the run must go on, not die of SIGPIPE).
--env KEY=VALUE sets the run's environment; --expect-code is the exit code of the signalled process (75, but
mpirun that is sent SIGTERM exits 1 whatever its ranks return: README "Signals and mpirun"). A prediction's
tessera.h5 must also end with the root attributes predict_model and predict_perturbations of the
uninterrupted one."""
import argparse
import fcntl
import termios
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import h5py


def fail(msg):
    print("stop_and_resume: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tessera", required=True)
    p.add_argument("--deck", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--launch", default="", help="launcher prefix, e.g. 'mpirun -n 2 --oversubscribe'")
    p.add_argument("--signal", choices=["TERM", "USR1"], default="TERM")
    p.add_argument("--after", type=int, default=5, help="signal once the log shows this step")
    p.add_argument("--set", action="append", default=[], help="deck overrides, as -s")
    p.add_argument("--console", choices=["read", "full", "closed"], default="read")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the stopped run")
    p.add_argument("--expect-code", type=int, default=75)
    p.add_argument("--command", choices=["run", "predict"], default="run")
    a = p.parse_args()
    env = dict(os.environ, **dict(kv.split("=", 1) for kv in a.env))
    launch = shlex.split(a.launch)
    sets = [x for kv in a.set for x in ("-s", kv)]
    log_path = os.path.join(a.dir, "tessera.log")
    if os.path.exists(log_path):
        os.remove(log_path)
    # A time.end far beyond what runs before the signal: the run can only end by being stopped.
    cmd = launch + [a.tessera, a.command, a.deck, "-o", a.dir, "--overwrite", "-s", "time.end=100000",
                    "-s", "output.progress_every=1"] + sets
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if a.console == "full":
        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    elif a.console == "closed":
        proc.stdout.close()
    deadline = time.time() + 120
    pattern = re.compile(r"step (\d+)/")
    last_size, steady_since = -1, time.time()
    while time.time() < deadline:
        if proc.poll() is not None:
            fail(f"the run ended before the signal (exit {proc.returncode})" +
                 ("" if a.console == "closed" else f":\n{proc.stdout.read()}"))
        if os.path.exists(log_path):
            with open(log_path) as f:
                log = f.read()
            steps = [int(m.group(1)) for m in pattern.finditer(log)]
            if a.console == "full":
                # Blocked on its console: the pipe holds (nearly) 4 KiB and the log has not grown for 1 s.
                queued = int.from_bytes(fcntl.ioctl(proc.stdout.fileno(), termios.FIONREAD, b"\0" * 4), "little")
                if len(log) != last_size or queued < 4096 - 256:
                    last_size, steady_since = len(log), time.time()
                elif time.time() - steady_since > 1.0:
                    print(f"stop_and_resume: blocked on its console at step {max(steps or [0])} with "
                          f"{queued} bytes unread")
                    break
            elif steps and max(steps) >= a.after:
                break
        time.sleep(0.05)
    else:
        fail("the run did not reach step %d (or block on its console) in 120 s" % a.after)
    signalled_at = time.time()
    proc.send_signal(getattr(signal, "SIG" + a.signal))
    try:
        if a.console == "full":
            # Nobody reads the console until the run has ended: it must stop without writing the rest.
            proc.wait(timeout=120)
            out = proc.stdout.read()
        elif a.console == "closed":
            proc.wait(timeout=120)
            out = "(stdout closed)"
        else:
            out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("the run did not stop within 120 s of the signal")
    took = time.time() - signalled_at
    if proc.returncode != a.expect_code:
        fail(f"exit {proc.returncode}, expected {a.expect_code} (stopped, resumable):\n{out}")
    with open(log_path) as f:
        log = f.read()
    m = re.search(r"stopped at step (\d+) by SIG" + a.signal + r"; resume with tessera " + a.command +
                  r" (\S+) --restart (\S+)", log)
    if not m:
        fail(f"{log_path} does not say where and why the run stopped:\n{log}")
    n = int(m.group(1))
    if m.group(3) != a.dir:
        fail(f"the log names --restart {m.group(3)}, the run directory is {a.dir}")
    # The handler recorded the step the signal came in; the poll that ends that step stops the run.
    received = re.findall(r"tessera " + a.command + r": SIG" + a.signal +
                          r" received by rank \d+ during step (\d+)", log)
    if received != [str(n)]:
        fail(f"{log_path}: 'SIG{a.signal} received by rank R during step K' lines give K = {received}, expected "
             f"one, K = {n} (the step it stopped at)")
    with h5py.File(os.path.join(a.dir, "checkpoint.h5"), "r") as f:
        if int(f.attrs["step"]) != n:
            fail(f"checkpoint.h5 is at step {int(f.attrs['step'])}, the log says {n}")
    with h5py.File(os.path.join(a.dir, "tessera.h5"), "r") as f:
        if int(f.attrs["last_step"]) != n or int(f.attrs["complete"]) != 0:
            fail(f"tessera.h5: last_step {int(f.attrs['last_step'])}, complete {int(f.attrs['complete'])}; "
                 f"expected {n} and 0")
    last = [line for line in log.splitlines() if line.strip()][-1]
    if last != f"tessera {a.command}: stopped early by SIG{a.signal}, resumable (exit 75)":
        fail(f"{log_path} ends {last!r}, not with the resumable ending")
    print(f"stop_and_resume: stopped at step {n} by SIG{a.signal}, {took:.2f} s after the signal, "
          f"exit {proc.returncode}")

    end = ["-s", f"time.end={n + 5}"]
    r = subprocess.run(launch + [a.tessera, a.command, a.deck, "--restart", a.dir, "-q"] + end + sets,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        fail(f"--restart exited {r.returncode}:\n{r.stdout}")
    ref = a.dir + "_reference"
    r = subprocess.run(launch + [a.tessera, a.command, a.deck, "-o", ref, "--overwrite", "-q"] + end + sets,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        fail(f"the reference run exited {r.returncode}:\n{r.stdout}")
    compare = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare_runs.py")
    r = subprocess.run([sys.executable, compare, ref, a.dir])
    if r.returncode != 0:
        sys.exit(r.returncode)
    if a.command == "predict":
        attributes = []
        for d in (ref, a.dir):
            with h5py.File(os.path.join(d, "tessera.h5"), "r") as f:
                attributes.append({k: f.attrs.get(k) for k in ("predict_model", "predict_perturbations")})
        if None in attributes[1].values() or attributes[0] != attributes[1]:
            fail(f"tessera.h5 prediction attributes {attributes[1]} differ from the uninterrupted run's "
                 f"{attributes[0]}")


if __name__ == "__main__":
    main()
