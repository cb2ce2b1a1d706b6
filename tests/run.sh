#!/usr/bin/env bash
# Builds tessera (installing what is missing) and runs the whole ctest suite; non-zero exit on any failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/tools/build.sh"
source "$root/tools/mpi-env.sh"
cd build
ctest --output-on-failure -j "${TESSERA_TEST_JOBS:-2}" "$@"
