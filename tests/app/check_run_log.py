#!/usr/bin/env python3
"""Runs a tessera command and checks its log (issue 10 item 5): the first line names the command line, the
host and, inside a Slurm job, the job id and array task; the last line says how the command ended.

    check_run_log.py RUN_DIR EXPECTED_EXIT LAST_LINE_REGEX -- COMMAND...

The command runs with SLURM_JOB_ID=4242 and SLURM_ARRAY_TASK_ID=7 in its environment, as under sbatch.
"""
import os
import re
import socket
import subprocess
import sys


def main():
    sep = sys.argv.index("--")
    run_dir, expected_exit, last_regex = sys.argv[1:sep]
    command = sys.argv[sep + 1:]
    env = dict(os.environ, SLURM_JOB_ID="4242", SLURM_ARRAY_TASK_ID="7")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    print(done.stdout, done.stderr, sep="\n")
    failures = []
    if done.returncode != int(expected_exit):
        failures.append(f"exit code {done.returncode}, expected {expected_exit}")
    with open(os.path.join(run_dir, "tessera.log")) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    first, last = lines[0], lines[-1]
    # The command line as given (each argument), the host, the job and its array task.
    deck = next(a for a in command if a.endswith(".yaml"))
    for word in ["command: ", deck, "host " + socket.gethostname(), "SLURM job 4242 array task 7"]:
        if word not in first:
            failures.append(f"first log line lacks {word!r}: {first!r}")
    if not re.fullmatch(last_regex, last):
        failures.append(f"last log line {last!r} does not match {last_regex!r}")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
