#!/usr/bin/env bash
# The GPU check of issue 11 (docs/gpu.md), in two ways.
#
# With a bundle (a machine with a GPU but none of tessera's dependencies, such as a leased one):
#   tools/device-check.sh --bundle BUNDLE [OUT_DIR]
# BUNDLE is the folder that tools/device-bundle.sh wrote (holding tessera-bundle.tar.xz), the .tar.xz itself
# or an unpacked tessera-bundle/ folder. The archive is unpacked under $TMPDIR (default /tmp); its Open MPI,
# PMIx and libraries are put on PATH, LD_LIBRARY_PATH and OPAL_*; the build's source and binary directories,
# which the tests have compiled in, are linked to this checkout and to the unpacked build tree where they do
# not exist; then `tessera info`, the bundle's tests (tests.tsv: unit and MPI tests, several at a time, at most
# RANK_SLOTS ranks together, default nproc) and the three benchmarks run. OUT_DIR (default
# device-check-<host>-<time>/) receives seven files: summary.txt (everything below in short, with the GPU),
# info.txt (nvidia-smi, the bundle's build-info.txt, `tessera info`), tests.txt (each test: pass/FAIL, exit
# status, seconds), tests-output.log (every test's output), bench_tissue.txt, bench_grn.txt, bench_train.txt.
# Environment: RANK_SLOTS, TEST_TIMEOUT (seconds per test, default 180; a test's own ctest TIMEOUT when
# lower), TESTS_BUDGET (seconds for all tests, default 220: no test starts or runs past it), BENCH_TIMEOUT
# (seconds per benchmark, default 70), BENCH_CELLS (as below). Sized for the 15-minute lease: the timeouts
# bound it to about 8 minutes (docs/gpu.md gives the estimate). The exit status is 0 only when every test
# passed and every benchmark finished.
#
# Building here (a site with modules, a CUDA Kokkos and an hour to compile):
#   Kokkos_ROOT=/opt/kokkos-cuda tools/device-check.sh [OUT_DIR]
# configures and builds the `cuda` preset against the Kokkos at $Kokkos_ROOT (installed with
# Kokkos_ENABLE_CUDA=ON), runs the unit and MPI tests (the rank-invariance tests among them) and the three
# benchmarks on the GPU, and writes every figure into one directory.
# OUT_DIR (default device-check-<host>-<time>/) receives gpu.txt, info.txt, build.log, ctest-unit.txt,
# ctest-mpi.txt, bench_tissue.txt, bench_grn.txt, bench_train.txt and summary.txt (the figures, with the
# GPU's name). The exit status is 0 only when the build and every test passed.
# Environment: CUDA_ARCH_FLAG (default -arch=sm_XY from nvidia-smi's compute capability: CUDA 13's nvcc no
# longer compiles nvcc_wrapper's default sm_70, and CMake's first test compile has no Kokkos flags yet),
# JOBS (build jobs, default nproc), BENCH_CELLS (default 10000,100000,1000000).
set -uo pipefail

# The three benchmarks on one rank (one GPU), one after the other, each into OUT/<name>.txt and then appended
# to OUT/summary.txt. BIN: the folder of the tessera_bench_* executables; LIMIT: seconds per benchmark, empty
# for none. Returns 1 when one of them did not finish. `note` is the caller's.
run_benchmarks() {
  local bin=$1 out=$2 limit=$3 cells=${BENCH_CELLS:-10000,100000,1000000} failed=0 bench prefix=()
  if [ -n "$limit" ]; then
    prefix=(timeout -k 10 "$limit")
    # Line-buffered (stdbuf's settings reach the rank through the environment), so that a benchmark stopped by
    # its timeout keeps the tables it had printed.
    command -v stdbuf > /dev/null && prefix+=(stdbuf -oL -eL)
  fi
  one() {
    local name=$1 t=$SECONDS
    shift
    # stdin closed: mpirun would otherwise read what the caller pipes in.
    if "${prefix[@]}" mpirun -np 1 "$bin/tessera_$name" "$@" < /dev/null > "$out/$name.txt" 2>&1; then
      note "$name $*: ok in $((SECONDS - t)) s"
    else
      note "$name $*: FAILED (exit $?) after $((SECONDS - t)) s"
      failed=1
    fi
  }
  one bench_tissue --cells-per-rank "$cells" --genes 8,32 --steps 5
  one bench_grn --cells "$cells" --genes 8,32 --steps 3 --integrators rk4
  one bench_train --cells 100,10000 --genes 100,20 --iterations 3 --repeat 3
  for bench in bench_tissue bench_grn bench_train; do
    { echo "== $bench"; cat "$out/$bench.txt"; } >> "$out/summary.txt"
  done
  return $failed
}

# The on-device half of a bundle (tools/device-bundle.sh): unpack, point the environment at it, run.
bundle_check() {
  local src=$1 out=$2 root work archive b
  root=$(cd "$(dirname "$0")/.." && pwd)
  out=${out:-$root/device-check-$(hostname -s 2> /dev/null || echo device)-$(date +%Y%m%dT%H%M%S)}
  mkdir -p "$out" && out=$(cd "$out" && pwd) || return 2
  : > "$out/summary.txt"
  note() { echo "$*" | tee -a "$out/summary.txt"; }
  local start=$SECONDS status=0

  work=${TMPDIR:-/tmp}
  if [ -f "$src/tessera-bundle/env.sh" ]; then
    b=$(cd "$src/tessera-bundle" && pwd)
  elif [ -f "$src/env.sh" ]; then
    b=$(cd "$src" && pwd)
  else
    if [ -d "$src" ]; then archive=$src/tessera-bundle.tar.xz; else archive=$src; fi
    [ -f "$archive" ] || {
      echo "device-check: no bundle at '$src' (expected tools/device-bundle.sh's folder, its" \
        "tessera-bundle.tar.xz or an unpacked tessera-bundle/)" >&2
      return 2
    }
    rm -rf "$work/tessera-bundle"
    # xz-utils, else the xz that device-bundle.sh put beside the archive, else Python's lzma.
    local unxz=() beside
    beside=$(dirname "$archive")/xz
    if command -v xz > /dev/null; then
      unxz=(xz -dc)
    elif [ -x "$beside/xz" ]; then
      unxz=(env "LD_LIBRARY_PATH=$beside" "$beside/xz" -dc)
    fi
    if [ ${#unxz[@]} -gt 0 ]; then
      "${unxz[@]}" "$archive" | tar -C "$work" -xf - || return 1
    else
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$archive" "$work" ||
        return 1
    fi
    b=$work/tessera-bundle
  fi
  note "bundle: $b (unpacked in $((SECONDS - start)) s)"

  {
    echo "== nvidia-smi"
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>&1 ||
      echo "nvidia-smi failed: no GPU visible"
  } > "$out/info.txt"
  note "GPU: $(sed -n 3p "$out/info.txt")"
  note "host: $(nproc) CPUs, $(uname -r)"
  # shellcheck source=/dev/null
  source "$b/env.sh"
  # shellcheck source=tools/mpi-env.sh
  source "$root/tools/mpi-env.sh"
  # Several tests run at once: Open MPI's default binding would put each one's rank 0 on the same core, each
  # mpirun that does not see itself oversubscribed would let its ranks spin in MPI waits (on a loaded machine
  # tests ran 5-10 times slower), and each rank's OpenBLAS would start a thread per CPU.
  export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1

  # The tests open files under the source and build directories compiled into them: where those paths do not
  # exist here, link them to this checkout and to the unpacked build tree.
  local source_dir binary_dir
  source_dir=$(sed -n 's/^source_dir=//p' "$b/build-info.txt")
  binary_dir=$(sed -n 's/^binary_dir=//p' "$b/build-info.txt")
  link_compiled_path() {
    local path=$1 target=$2
    if [ -L "$path" ] && { [ ! -e "$path" ] || [[ $(readlink "$path") == */tessera-bundle/build ]]; }; then
      ln -sfn "$target" "$path"
    elif [ -e "$path" ]; then
      [ "$path" -ef "$target" ] ||
        note "warning: $path (compiled into the tests) exists here and is not $target: the tests use it"
    else
      mkdir -p "$(dirname "$path")" && ln -s "$target" "$path" ||
        note "warning: could not link $path to $target: tests that read or write there will fail"
    fi
  }
  link_compiled_path "$source_dir" "$root"
  link_compiled_path "$binary_dir" "$b/build"

  { echo "== build-info.txt"; cat "$b/build-info.txt"; echo "== tessera info (here)"; } >> "$out/info.txt"
  if "$b/build/bin/tessera" info >> "$out/info.txt" 2>&1; then
    note "tessera info: $(grep -E '^(Kokkos|Device|MPI)' "$out/info.txt" | tail -3 | tr '\n' ' ')"
  else
    note "tessera info: FAILED (see info.txt)"
    status=1
  fi

  # Tests, several at once (largest rank counts first), never more than RANK_SLOTS ranks together; none
  # starts after TESTS_BUDGET seconds, and none runs past them.
  local slots=${RANK_SLOTS:-$(nproc)} max_time=${TEST_TIMEOUT:-180} logs=$work/tessera-bundle-logs
  local deadline=$((SECONDS + ${TESTS_BUDGET:-220})) left
  rm -rf "$logs" && mkdir -p "$logs/running"
  running_ranks() { cat "$logs"/running/* 2> /dev/null | awk '{s += $1} END {print s + 0}'; }
  local t0=$SECONDS name ranks timeout workdir env cmd
  # The list comes on descriptor 3 and every test's stdin is /dev/null: mpirun forwards its stdin to rank 0,
  # which would swallow the rest of the list.
  while IFS=$'\t' read -r -u 3 name ranks timeout workdir env cmd; do
    while [ $(($(running_ranks) + ranks)) -gt "$slots" ] && [ "$(running_ranks)" -gt 0 ]; do sleep 0.2; done
    left=$((deadline - SECONDS))
    if [ "$left" -lt 10 ]; then
      echo "not-run 0" > "$logs/$name.rc"
      echo "not run: TESTS_BUDGET spent" > "$logs/$name.log"
      continue
    fi
    echo "$ranks" > "$logs/running/$name"
    [ "$timeout" -lt "$max_time" ] || timeout=$max_time
    [ "$timeout" -lt "$left" ] || timeout=$left
    [ "$env" = - ] && env=""
    (
      begin=$EPOCHREALTIME
      if cd "${workdir/@BUILD@/$b/build}"; then
        # env and cmd are word lists (device-bundle.sh refuses white space in them).
        # shellcheck disable=SC2086
        env $env timeout -k 10 "$timeout" ${cmd//@BUILD@/$b/build} > "$logs/$name.log" 2>&1
      else
        false
      fi
      echo "$? $(awk -v a="$begin" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')" > "$logs/$name.rc"
      rm -f "$logs/running/$name"
    ) < /dev/null &
  done 3< <(sort -t$'\t' -k2,2nr -k1,1 "$b/tests.tsv")
  wait
  local passed=0 failed=0 not_run=0 rc seconds cases skipped
  : > "$out/tests-output.log"
  while IFS=$'\t' read -r name _; do
    rc=missing seconds='?'
    [ -f "$logs/$name.rc" ] && read -r rc seconds < "$logs/$name.rc"
    # GoogleTest cases skipped (every rank prints them), e.g. for want of /usr/bin/python3.
    skipped=$(sed -n 's/^\[  SKIPPED \] \([A-Za-z0-9_/]*\.[A-Za-z0-9_/]*\).*/\1/p' "$logs/$name.log" | sort -u)
    if [ "$rc" = 0 ]; then
      passed=$((passed + 1))
      printf '%-48s pass  %7s s%s\n' "$name" "$seconds" "${skipped:+  skipped: $(echo "$skipped" | tr '\n' ' ')}"
    elif [ "$rc" = not-run ]; then
      not_run=$((not_run + 1))
      printf '%-48s NOT RUN (TESTS_BUDGET)\n' "$name"
    else
      failed=$((failed + 1))
      printf '%-48s FAIL  %7s s  exit %s%s\n' "$name" "$seconds" "$rc" "$([ "$rc" = 124 ] && echo ' (timeout)')"
      # Which GoogleTest cases failed (every rank prints them), and whether the refusal of `cvode` on a GPU
      # build (docs/gpu.md) is in the output.
      cases=$(sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_/]*\.[A-Za-z0-9_/]*\).*/\1/p' "$logs/$name.log" | sort -u)
      [ -z "$cases" ] || echo "    failed cases: $(echo "$cases" | tr '\n' ' ')"
      if grep -q 'needs gene memory the host can address' "$logs/$name.log"; then
        echo "    (its output holds the refusal of cvode on device memory)"
      fi
    fi
    { echo "==== $name: exit $rc, $seconds s"; cat "$logs/$name.log"; } >> "$out/tests-output.log"
  done < <(sort "$b/tests.tsv") > "$out/tests.txt"
  [ "$failed" = 0 ] && [ "$not_run" = 0 ] || status=1
  note "tests: $passed passed, $failed failed, $not_run not run of $((passed + failed + not_run)) in" \
    "$((SECONDS - t0)) s (at most $slots ranks at once; tests.txt, tests-output.log)"
  grep -E '^\S+ +(FAIL|NOT RUN)|^    ' "$out/tests.txt" | sed 's/^/  /' | tee -a "$out/summary.txt"

  run_benchmarks "$b/build/bin" "$out" "${BENCH_TIMEOUT:-70}" || status=1
  note "device check: $((SECONDS - start)) s in all, exit $status; figures in $out"
  return $status
}

if [ "${1:-}" = --bundle ]; then
  [ $# -ge 2 ] && [ $# -le 3 ] || {
    echo "usage: tools/device-check.sh --bundle BUNDLE [OUT_DIR]" >&2
    exit 2
  }
  bundle_check "$2" "${3:-}"
  exit $?
fi

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

run_benchmarks build-cuda/bin "$out" "" || status=1
note "figures in $out"
exit $status
