#!/usr/bin/env python3
"""`tessera info`'s MPI line says whether the MPI library takes GPU memory (issue 11, item 2: detected at run time,
never assumed), and the answer must agree with what the library says of itself: with Open MPI, `ompi_info`'s
opal_built_with_cuda_support. Built without CUDA support, the answer must be "no"; built with it, "yes" needs a
CUDA driver at run time, which only the library knows, so either answer passes if it is one of the two. Exit 77
(skipped) where ompi_info is not there (another MPI library)."""
import re
import shutil
import subprocess
import sys

tessera = sys.argv[1]
result = subprocess.run([tessera, "info"], capture_output=True, text=True)
if result.returncode != 0:
    sys.exit(f"check_info_gpu_aware: tessera info exited {result.returncode}: {result.stderr}")
line = re.search(r"^MPI: .*GPU-aware: (yes|no)\)$", result.stdout, re.M)
if not line:
    sys.exit("check_info_gpu_aware: no 'MPI: ... GPU-aware: yes|no)' line in:\n" + result.stdout)
answer = line.group(1)
ompi_info = shutil.which("ompi_info")
if not ompi_info:
    print(f"GPU-aware: {answer}; no ompi_info to compare with: skipped")
    sys.exit(77)
params = subprocess.run([ompi_info, "--parsable", "--all"], capture_output=True, text=True).stdout
built = re.search(r"opal_built_with_cuda_support:value:(true|false)", params)
if not built:
    print(f"GPU-aware: {answer}; ompi_info does not say whether it was built with CUDA: skipped")
    sys.exit(77)
print(f"GPU-aware: {answer}; ompi_info: built with CUDA support: {built.group(1)}")
if built.group(1) == "false" and answer != "no":
    sys.exit("check_info_gpu_aware: tessera says GPU-aware, but this Open MPI was built without CUDA support")
