#!/usr/bin/env python3
"""What Kokkos prints while it starts (app/main.cpp, KokkosSession) neither ends a command nor comes before
`tessera --version`. `--kokkos-ndevices=1` makes every Kokkos print a warning on stderr at initialisation
(3.x: deprecated, 4.x: not recognized), as the OpenMP backend does when threads x ranks exceed the cores or
OMP_PROC_BIND is unset:
- `tessera --version --kokkos-ndevices=1`, stdout and stderr together: the first line is the version (before,
  Kokkos' warning came first, and a script reading `tessera --version 2>&1` took it for the version);
- `tessera run DECK --kokkos-ndevices=1` whose stdout and stderr are a pipe whose reader has gone: the run
  goes on to the end, exit 0, its log ending "finished (exit 0)" (before, Kokkos' own write raised SIGPIPE
  and the run died before its first step, exit -13: restart_stopped_console_closed at 4 threads);
- the same run with stderr read: Kokkos' warning is still there (passed on, not swallowed).
Usage: check_kokkos_messages.py TESSERA DECK RUN_DIR"""
import os
import re
import subprocess
import sys

tessera, deck, run_dir = sys.argv[1:4]
kokkos_arg = "--kokkos-ndevices=1"
errors = []

version = subprocess.run([tessera, "--version", kokkos_arg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
first = version.stdout.splitlines()[0] if version.stdout else ""
if version.returncode != 0 or not re.match(r"tessera [0-9]", first):
    errors.append(f"tessera --version {kokkos_arg}: exit {version.returncode}, first line {first!r}")

run = [tessera, "run", deck, "-o", run_dir, "--overwrite", "-s", "time.end=2"]
proc = subprocess.Popen(run + [kokkos_arg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
proc.stdout.close()
code = proc.wait(timeout=240)
log_path = os.path.join(run_dir, "tessera.log")
last = ""
if os.path.exists(log_path):
    lines = [line for line in open(log_path).read().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
if code != 0 or last != "tessera run: finished (exit 0)":
    errors.append(f"run with its console closed: exit {code}, log ends {last!r}")

read = subprocess.run(run + ["-q", kokkos_arg], capture_output=True, text=True, timeout=240)
if read.returncode != 0 or kokkos_arg.split("=")[0] not in read.stderr:
    errors.append(f"run with stderr read: exit {read.returncode}, Kokkos' warning not on stderr: {read.stderr!r}")

if errors:
    sys.exit("check_kokkos_messages: " + "; ".join(errors))
print("check_kokkos_messages: version first, a closed console survived Kokkos' warning, the warning on stderr")
