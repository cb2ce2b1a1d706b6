#!/usr/bin/env bash
# Packs what the device check (tools/device-check.sh --bundle) needs into one compressed file, so that a
# machine with a GPU but none of tessera's dependencies (no MPI, PETSc, SUNDIALS, HDF5, yaml-cpp, OpenBLAS,
# Kokkos) runs the tests and benchmarks of a build made elsewhere (docs/gpu.md, "Running the device check in a
# 15-minute lease").
#   tools/device-bundle.sh BUILD_DIR [BUNDLE_DIR]      (BUNDLE_DIR defaults to device-bundle/, git-ignored)
#   tools/device-bundle.sh --targets BUILD_DIR         (the CMake targets to build first, on one line)
# BUNDLE_DIR receives tessera-bundle.tar.xz, manifest.txt (what went in, with sizes) and xz/ (xz and its liblzma,
# 0.3 MB, for a machine without xz-utils). The archive holds
#   build/     the executables at their build-tree paths: bin/tessera, bin/tessera_bench_{tissue,grn,train},
#              and the test executables of every ctest test labelled `unit` or `mpi` that runs a GoogleTest
#              executable of the build (directly or under mpiexec); tests run by Python or CMake scripts are
#              left out (they need Python's h5py/numpy or ctest)
#   tests.tsv  one line per selected test: name, ranks, timeout, working directory, environment and command
#              (from `ctest --show-only=json-v1`; @BUILD@ stands for the build tree, `mpirun` for Open MPI's)
#   lib/       every shared library these executables and Open MPI load, found with ldd, except glibc's
#              (libc, libm, libdl, libpthread, librt, ld-linux, ...) and the GPU driver's (libcuda, libnvidia-*)
#   mpi/       Open MPI's launcher (orterun as mpirun/mpiexec, orted for singletons), its MCA plugins (less the
#              ones that need InfiniBand, libfabric, UCX or PSM libraries), help texts and parameter files;
#              pmix/ the PMIx plugins and help texts; env.sh points OPAL_*, PMIX_*, PATH and
#              LD_LIBRARY_PATH at them wherever the archive is unpacked
#   build-info.txt  the build's source and binary directories (tests open files under both: device-check.sh
#              links those paths to the checkout and to the unpacked build tree) and `tessera info`
# Environment: TESTS_REGEX (keep only the tests whose names match, extended regex), TESTS_EXCLUDE (drop those
# that match), STRIP (default 1: strip symbol tables, which the check does not need), XZ_OPT (default -9e -T2).
# Exit status 2 for a wrong argument, 1 when something the bundle needs is missing or when the bundle and the
# checkout's tracked files exceed 64 MiB, what a leased machine's run sends (manifest.txt's third line).
set -euo pipefail

usage() {
  echo "usage: tools/device-bundle.sh BUILD_DIR [BUNDLE_DIR] | --targets BUILD_DIR" >&2
  exit 2
}
mode=bundle
if [ "${1:-}" = --targets ]; then
  mode=targets
  shift
  [ $# = 1 ] || usage
fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
root=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$1" ] || {
  echo "device-bundle: BUILD_DIR '$1' is not a directory" >&2
  exit 2
}
build=$(cd "$1" && pwd)
[ -f "$build/CTestTestfile.cmake" ] || {
  echo "device-bundle: BUILD_DIR '$build' has no CTestTestfile.cmake (configure it first)" >&2
  exit 2
}

# The tests worth carrying: every ctest test labelled `unit` or `mpi` whose command is a GoogleTest executable
# of this build, run directly or as mpiexec's program (tests driven by Python or CMake scripts need more than
# the bundle holds). Prints tests.tsv's lines, or with `targets` the CMake targets of their executables (ctest
# names no command for a unit test not yet built: its target has the test's name, tests/CMakeLists.txt).
select_tests() {
  (cd "$build" && ctest --show-only=json-v1) |
    /usr/bin/python3 -c "$select_tests_py" "$1" "$build" "${TESTS_REGEX:-}" "${TESTS_EXCLUDE:-}"
}
select_tests_py='
import json, os, re, sys
mode, build, keep, drop = sys.argv[1:5]
def rel(path):
    return "@BUILD@" + path[len(build):] if path == build or path.startswith(build + "/") else None
targets = set()
for t in json.load(sys.stdin)["tests"]:
    name, props = t["name"], {p["name"]: p["value"] for p in t.get("properties", [])}
    labels = props.get("LABELS", [])
    cmd = t.get("command")
    if not ({"unit", "mpi"} & set(labels)):
        continue
    if keep and not re.search(keep, name) or drop and re.search(drop, name):
        continue
    if not cmd:
        if "unit" in labels and mode == "targets":
            targets.add(name)
        elif "unit" in labels:
            sys.exit(f"device-bundle: test {name}: its executable is not built (tools/device-bundle.sh --targets)")
        continue
    exe_at = next((i for i, w in enumerate(cmd) if (rel(w) or "").startswith("@BUILD@/tests/")), None)
    if exe_at is None:
        continue
    if exe_at == 0:
        ranks, launcher = 1, list(cmd)
    elif os.path.basename(cmd[0]) in ("mpiexec", "mpirun", "orterun") and cmd[1] in ("-n", "-np") and \
            all(w.startswith("-") for w in cmd[3:exe_at]):
        ranks, launcher = int(cmd[2]), ["mpirun"] + cmd[1:]
    else:
        continue
    targets.add(os.path.basename(cmd[exe_at]))
    if mode == "targets":
        continue
    if not os.access(cmd[exe_at], os.X_OK):
        sys.exit(f"device-bundle: test {name}: {cmd[exe_at]} is not built (tools/device-bundle.sh --targets)")
    launcher[exe_at] = rel(launcher[exe_at])
    if any(re.search(r"\s", w) for w in launcher):
        sys.exit(f"device-bundle: test {name}: an argument holds white space: {launcher}")
    workdir = rel(props.get("WORKING_DIRECTORY", build)) or "@BUILD@"
    env = props.get("ENVIRONMENT", [])
    print("\t".join([t["name"], str(ranks), str(int(props.get("TIMEOUT", 300))), workdir,
                     " ".join(env) or "-", " ".join(launcher)]))
if mode == "targets":
    print(" ".join(["tessera", "tessera_bench_tissue", "tessera_bench_grn", "tessera_bench_train"] +
                   sorted(targets)))
'
if [ "$mode" = targets ]; then
  select_tests targets
  exit 0
fi
[ -x "$build/bin/tessera" ] || {
  echo "device-bundle: BUILD_DIR '$build' has no bin/tessera or CTestTestfile.cmake (build tessera, the" \
    "benchmarks and the tests first)" >&2
  exit 2
}
bundle=${2:-$root/device-bundle}
mkdir -p "$bundle"
bundle=$(cd "$bundle" && pwd)
source_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")

stage=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
b=$stage/tessera-bundle
mkdir -p "$b/build/bin" "$b/lib" "$b/mpi/bin" "$b/mpi/lib/openmpi3" "$b/mpi/share" "$b/mpi/etc" "$b/pmix"

select_tests tsv > "$b/tests.tsv"
n_tests=$(wc -l < "$b/tests.tsv")
[ "$n_tests" -gt 0 ] || {
  echo "device-bundle: no unit or mpi test with a built GoogleTest executable in $build" >&2
  exit 1
}

# The executables, at their build-tree paths.
exes=(bin/tessera)
for bench in tissue grn train; do
  if [ -x "$build/bin/tessera_bench_$bench" ]; then
    exes+=("bin/tessera_bench_$bench")
  else
    echo "device-bundle: $build/bin/tessera_bench_$bench is not built (TESSERA_ENABLE_BENCH)" >&2
    exit 1
  fi
done
mapfile -t test_exes < <(cut -f6 "$b/tests.tsv" | tr ' ' '\n' | sed -n 's|^@BUILD@/||p' | sort -u)
exes+=("${test_exes[@]}")
for exe in "${exes[@]}"; do
  [ -x "$build/$exe" ] || {
    echo "device-bundle: $build/$exe is not built" >&2
    exit 1
  }
  mkdir -p "$b/build/$(dirname "$exe")"
  cp "$build/$exe" "$b/build/$exe"
done
# Each test's working directory exists, as ctest expects.
cut -f4 "$b/tests.tsv" | sed 's|^@BUILD@|build|' | sort -u | while read -r dir; do mkdir -p "$b/$dir"; done

# Open MPI, in Debian's layout (/usr/lib/<triplet>/openmpi/lib/openmpi3, /usr/share/openmpi, /etc/openmpi),
# found from the ompi_info beside the mpiexec that ctest uses.
mpiexec=$(sed -n 's/^MPIEXEC_EXECUTABLE:FILEPATH=//p' "$build/CMakeCache.txt")
mpibin=$(dirname "$(readlink -f "$mpiexec")")
ompi_path() { "$mpibin/ompi_info" --path "$1" --parsable | sed -n "s/^path:$1://p"; }
pkglibdir=$(ompi_path pkglibdir)
pkgdatadir=$(ompi_path pkgdatadir)
sysconfdir=$(ompi_path sysconfdir)
[ -d "$pkglibdir" ] && [ -d "$pkgdatadir" ] || {
  echo "device-bundle: Open MPI's plugin or data directory not found (ompi_info beside $mpiexec)" >&2
  exit 1
}
cp "$mpibin/orterun" "$mpibin/orted" "$b/mpi/bin/"
ln -s orterun "$b/mpi/bin/mpirun"
ln -s orterun "$b/mpi/bin/mpiexec"
# Plugins for networks a single node does not have would each drag in their libraries (libfabric, UCX, verbs,
# PSM: about 10 MB) and warn when they fail to load; Debian's openmpi-mca-params.conf disables most anyway.
for plugin in "$pkglibdir"/*.so; do
  case $(basename "$plugin") in
    *ucx* | *ofi* | *psm* | *openib* | *verbs* | *usnic*) ;;
    *) cp "$plugin" "$b/mpi/lib/openmpi3/" ;;
  esac
done
cp -r "$pkgdatadir" "$b/mpi/share/openmpi"
cp "$sysconfdir"/* "$b/mpi/etc/"
# PMIx (Open MPI 4's launcher talks to its ranks through it) loads a few plugins from its own prefix.
pmix_lib=$(ldd "$pkglibdir"/mca_pmix_ext*.so 2> /dev/null | awk '/libpmix\.so/ {print $3}' | head -1)
if [ -n "$pmix_lib" ]; then
  pmix_prefix=$(dirname "$(dirname "$(readlink -f "$pmix_lib")")")
  if [ -d "$pmix_prefix/lib/pmix" ]; then
    mkdir -p "$b/pmix/lib"
    cp -r "$pmix_prefix/lib/pmix" "$b/pmix/lib/"
  fi
  if [ -d "$pmix_prefix/share" ]; then cp -r "$pmix_prefix/share" "$b/pmix/"; fi
fi

# The shared libraries: the ldd closure of every executable and plugin, less glibc and the GPU driver.
is_system_library() {
  case $1 in
    linux-vdso.so* | ld-linux*.so* | libc.so* | libm.so* | libmvec.so* | libdl.so* | libpthread.so* | \
      librt.so* | libutil.so* | libresolv.so* | libanl.so* | libnsl.so* | libBrokenLocale.so* | \
      libthread_db.so* | libnss_*.so* | libcuda.so* | libnvidia-*.so*) return 0 ;;
  esac
  return 1
}
is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }
elf_files() {
  # An `if`, so that a last file that is not ELF does not fail the pipeline (set -e, pipefail).
  find "$@" -type f \( -perm -u+x -o -name '*.so*' \) | while read -r f; do
    if is_elf "$f"; then echo "$f"; fi
  done
}
missing=""
while read -r elf; do
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    is_system_library "$name" && continue
    if [ "$path" = "not" ]; then
      missing="$missing $name (needed by ${elf#"$stage"/})"
      continue
    fi
    [ -e "$b/lib/$name" ] || cp -L "$path" "$b/lib/$name"
  done < <(ldd "$elf" 2> /dev/null)
done < <(elf_files "$b/build" "$b/mpi" "$b/pmix")
if [ -n "$missing" ]; then
  echo "device-bundle: ldd found no file for:$missing" >&2
  exit 1
fi

if [ "${STRIP:-1}" = 1 ]; then
  elf_files "$b" | while read -r f; do strip --strip-unneeded "$f"; done
fi

cat > "$b/env.sh" << 'EOF'
# Sourced by tools/device-check.sh --bundle: the bundle's Open MPI, PMIx and libraries, wherever it lies.
bundle_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=$bundle_root/mpi/bin:$PATH
export LD_LIBRARY_PATH=$bundle_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OPAL_PREFIX=$bundle_root/mpi OPAL_EXEC_PREFIX=$bundle_root/mpi OPAL_BINDIR=$bundle_root/mpi/bin
export OPAL_LIBDIR=$bundle_root/lib OPAL_PKGLIBDIR=$bundle_root/mpi/lib/openmpi3
export OPAL_DATAROOTDIR=$bundle_root/mpi/share OPAL_DATADIR=$bundle_root/mpi/share
export OPAL_PKGDATADIR=$bundle_root/mpi/share/openmpi OPAL_SYSCONFDIR=$bundle_root/mpi/etc
export PMIX_PREFIX=$bundle_root/pmix PMIX_EXEC_PREFIX=$bundle_root/pmix PMIX_LIBDIR=$bundle_root/pmix/lib
export PMIX_PKGLIBDIR=$bundle_root/pmix/lib/pmix PMIX_DATAROOTDIR=$bundle_root/pmix/share
export PMIX_DATADIR=$bundle_root/pmix/share PMIX_PKGDATADIR=$bundle_root/pmix/share/pmix
export PMIX_SYSCONFDIR=$bundle_root/pmix/share
# Debian's pmix-mca-params.conf names its plugin folder by absolute path; the environment takes precedence.
export PMIX_MCA_mca_base_component_path=$bundle_root/pmix/lib/pmix
# One node: mpirun starts the ranks itself (plm isolated) instead of looking for ssh, which images lack.
export OMPI_MCA_plm=isolated
EOF

{
  echo "source_dir=$source_dir"
  echo "binary_dir=$build"
  echo "git=$(git -C "$root" describe --always --dirty --abbrev=12 2> /dev/null || echo unknown)"
  echo "bundled=$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname -s)"
  echo "== tessera info (on the bundling machine)"
  (cd "$build" && bin/tessera info 2>&1) || true
} > "$b/build-info.txt"

# xz beside the archive, with its liblzma, for machines without xz-utils (a minimal image).
mkdir -p "$bundle/xz"
cp "$(command -v xz)" "$bundle/xz/xz"
ldd "$bundle/xz/xz" | while read -r name arrow path _; do
  if [ "$arrow" = "=>" ] && ! is_system_library "$name"; then cp -L "$path" "$bundle/xz/$name"; fi
done
tar -C "$stage" -cf - tessera-bundle | XZ_OPT=${XZ_OPT:--9e -T2} xz -c > "$bundle/tessera-bundle.tar.xz.part"
mv "$bundle/tessera-bundle.tar.xz.part" "$bundle/tessera-bundle.tar.xz"
{
  echo "tessera-bundle.tar.xz: $(stat -c %s "$bundle/tessera-bundle.tar.xz") bytes," \
    "$(du -sb "$b" | cut -f1) bytes unpacked; from $build"
  # A lease's run sends the checkout's files and the carried paths, 64 MiB at most (docs/gpu.md).
  tracked=$(git -C "$root" ls-files -z | (cd "$root" && xargs -0 du -cb 2> /dev/null) | tail -1 | cut -f1)
  travels=$(($(du -sb "$bundle" | cut -f1) + ${tracked:-0}))
  echo "with the checkout's tracked files ($tracked bytes): $travels bytes travel, $((travels * 100 / 67108864))" \
    "% of 64 MiB$([ "$travels" -le 67108864 ] || echo ': TOO LARGE, leave tests out with TESTS_EXCLUDE')"
  echo "tests ($n_tests): $(cut -f1 "$b/tests.tsv" | tr '\n' ' ')"
  echo "files:"
  (cd "$b" && find . -type f -printf '%s %p\n' | sort -k2)
} > "$bundle/manifest.txt"
head -3 "$bundle/manifest.txt"
[ "$travels" -le 67108864 ] || {
  echo "device-bundle: the bundle and the checkout's tracked files exceed the 64 MiB a lease's run sends" >&2
  exit 1
}
