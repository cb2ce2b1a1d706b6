#!/usr/bin/env bash
# The GPU check of issue 11 (docs/gpu.md): configures and builds the `cuda` preset against the Kokkos at
# $Kokkos_ROOT (installed with Kokkos_ENABLE_CUDA=ON), runs the unit and MPI tests (the rank-invariance tests
# among them) and the three benchmarks on the GPU, and writes every figure into one directory.
#   Kokkos_ROOT=/opt/kokkos-cuda tools/device-check.sh [OUT_DIR]
# OUT_DIR (default device-check-<host>-<time>/) receives gpu.txt, info.txt, build.log, ctest-unit.txt,
# ctest-mpi.txt, bench_tissue.txt, bench_grn.txt, bench_train.txt and summary.txt (the figures, with the
# GPU's name). The exit status is 0 only when the build and every test passed.
# Environment: CUDA_ARCH_FLAG (default -arch=sm_XY from nvidia-smi's compute capability: CUDA 13's nvcc no
# longer compiles nvcc_wrapper's default sm_70, and CMake's first test compile has no Kokkos flags yet),
# JOBS (build jobs, default nproc), BENCH_CELLS (default 10000,100000,1000000).
set -uo pipefail

: "${Kokkos_ROOT:?set Kokkos_ROOT to a Kokkos installed with Kokkos_ENABLE_CUDA=ON}"
export Kokkos_ROOT
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/device-check-$(hostname -s)-$(date +%Y%m%dT%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# shellcheck source=tools/mpi-env.sh
source "$root/tools/mpi-env.sh"
command -v nvcc > /dev/null || export PATH=/usr/local/cuda/bin:$PATH

status=0
note() { echo "$*" | tee -a "$out/summary.txt"; }

nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv > "$out/gpu.txt" 2>&1 ||
  echo "nvidia-smi failed: no GPU visible" >> "$out/gpu.txt"
note "GPU: $(sed -n 2p "$out/gpu.txt")"
note "nvcc: $(nvcc --version | tail -1)"
note "Kokkos: $Kokkos_ROOT"
if [ -z "${CUDA_ARCH_FLAG:-}" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -1 | tr -d ' .')
  CUDA_ARCH_FLAG=${cap:+-arch=sm_$cap}
fi

cd "$root" || exit 1
if ! { cmake --preset cuda ${CUDA_ARCH_FLAG:+-DCMAKE_CXX_FLAGS=$CUDA_ARCH_FLAG} &&
  cmake --build build-cuda -j "${JOBS:-$(nproc)}"; } > "$out/build.log" 2>&1; then
  note "build: FAILED (see build.log)"
  exit 1
fi
note "build: ok ($(grep -c 'warning' "$out/build.log") warning lines in build.log)"
build-cuda/bin/tessera info > "$out/info.txt" 2>&1
note "tessera info: $(tr '\n' ' ' < "$out/info.txt")"

# Tests: every unit test, then every MPI test (1, 2 and 4 ranks; the invariance tests compare them).
for label in unit mpi; do
  (cd build-cuda && ctest -L "^$label\$" --output-on-failure --timeout 600) > "$out/ctest-$label.txt" 2>&1 ||
    status=1
  note "ctest -L $label: $(grep -E 'tests passed|tests failed' "$out/ctest-$label.txt" | tail -1)"
  grep -E '^\s+[0-9]+ - ' "$out/ctest-$label.txt" | sed 's/^/  failed: /' | tee -a "$out/summary.txt"
done

# Benchmarks on one rank (one GPU); each prints its own table.
cells=${BENCH_CELLS:-10000,100000,1000000}
run_bench() {
  local name=$1
  shift
  if mpirun -np 1 "build-cuda/bin/tessera_$name" "$@" > "$out/$name.txt" 2>&1; then
    note "$name $*: ok"
  else
    note "$name $*: FAILED (exit $?)"
    status=1
  fi
}
run_bench bench_tissue --cells-per-rank "$cells" --genes 8,32 --steps 5
run_bench bench_grn --cells "$cells" --genes 8,32 --steps 3 --integrators rk4
run_bench bench_train --cells 100,10000 --genes 100,20 --iterations 3 --repeat 3
for f in bench_tissue bench_grn bench_train; do
  { echo "== $f"; cat "$out/$f.txt"; } >> "$out/summary.txt"
done
note "figures in $out"
exit $status
