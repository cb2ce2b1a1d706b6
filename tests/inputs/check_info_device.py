#!/usr/bin/env python3
"""`tessera info` names the processor the kernels run on: on a host backend (Serial, OpenMP, Threads) its
"Device:" line must be the CPU model of /proc/cpuinfo and the node's memory of /proc/meminfo (MemTotal, to
0.1 GiB: the line prints one decimal); on a GPU backend, a name and a memory size. Exit 77 (skipped) where
/proc/cpuinfo names no model (some ARM kernels), which the line then says instead."""
import re
import subprocess
import sys

tessera = sys.argv[1]
result = subprocess.run([tessera, "info"], capture_output=True, text=True)
if result.returncode != 0:
    sys.exit(f"check_info_device: tessera info exited {result.returncode}: {result.stderr}")
kokkos = re.search(r"^Kokkos: .*default execution space (\w+),", result.stdout, re.M)
device = re.search(r"^Device: (.+), ([0-9]+\.[0-9]) GiB memory$", result.stdout, re.M)
if not kokkos or not device:
    sys.exit("check_info_device: no 'Kokkos: ... default execution space' or 'Device: <name>, <x.y> GiB "
             "memory' line in:\n" + result.stdout)
space, name, gib = kokkos.group(1), device.group(1), float(device.group(2))
print(f"space {space}; device '{name}', {gib} GiB")
if space not in ("Serial", "OpenMP", "Threads"):
    sys.exit(0 if name and gib > 0 else "check_info_device: empty GPU name or memory")

models = re.findall(r"^model name\s*:\s*(.+)$", open("/proc/cpuinfo").read(), re.M)
if not models:
    print("/proc/cpuinfo names no CPU model: skipped")
    sys.exit(77)
mem_kib = int(re.search(r"^MemTotal:\s*(\d+) kB", open("/proc/meminfo").read(), re.M).group(1))
expected_gib = mem_kib / (1024.0 * 1024.0)
errors = []
if name != models[0].strip():
    errors.append(f"device name '{name}', /proc/cpuinfo says '{models[0].strip()}'")
if abs(gib - expected_gib) > 0.051:
    errors.append(f"memory {gib} GiB, /proc/meminfo MemTotal {expected_gib:.3f} GiB")
sys.exit("check_info_device: " + "; ".join(errors) if errors else 0)
