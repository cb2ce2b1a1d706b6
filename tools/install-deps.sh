#!/usr/bin/env bash
# Installs the Debian 12 packages tessera builds and tests with (SPEC §7), only those missing.
# As root (or with sudo) it runs apt-get; otherwise it prints the exact command and exits 2.
# --viz adds ParaView's pvpython and a virtual X server, for tools/paraview_open.py and the ctest label
# `paraview` (registered when CMake finds pvpython and Xvfb).
# slurm-wlm and munge are what the ctest label `slurm` runs a private one-node cluster with
# (tests/slurm/slurm-up.sh); jobs/slurm/ holds the job scripts those tests submit.
set -euo pipefail

viz=0
for arg in "$@"; do
  case "$arg" in
    --viz) viz=1 ;;
    *)
      echo "usage: $0 [--viz]" >&2
      exit 2
      ;;
  esac
done

packages=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin
  libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev
  libsundials-dev petsc-dev
  libhdf5-openmpi-dev hdf5-tools
  libyaml-cpp-dev librandom123-dev libcli11-dev
  libgtest-dev libbenchmark-dev libopenblas-dev
  python3 python3-numpy python3-h5py python3-anndata python3-matplotlib python3-torch
  slurm-wlm munge
)
[ "$viz" -eq 1 ] && packages+=(python3-paraview xvfb xauth x11-utils)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "tessera: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "tessera: cannot install packages without root. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
