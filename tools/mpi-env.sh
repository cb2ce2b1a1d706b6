# Sourced by the scripts in jobs/ and tests/: lets Open MPI run as root (containers, CI) and place more
# ranks than cores (2-core machines), which it refuses by default.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
# Containers often lack the kernel support for CMA single-copy; shared memory still works without it.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
