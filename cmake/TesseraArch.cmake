# The instruction set tessera's own code is compiled for (TESSERA_ARCH), as GROMACS' GMX_SIMD does: by default
# the build host's (`native`), so the kernels the compiler vectorises use the widest vectors the machine has,
# where without -march x86-64 compilers emit SSE2 only (two doubles per instruction) whatever the machine.
# Dependencies keep their own builds (OpenBLAS already picks its kernels at run time).
#   TESSERA_ARCH=native   the configuring host's ISA (-march=native): right when the build runs where the jobs do
#   TESSERA_ARCH=none     no -march: the compiler's baseline (x86-64: SSE2), runs on any x86-64 node
#   TESSERA_ARCH=<value>  -march=<value>, e.g. x86-64-v3 or skylake-avx512: the oldest ISA of a cluster's
#                         partitions when one binary must run on all of them (a build for `native` on an
#                         AVX-512 login node dies with SIGILL on an AVX2-only compute node)
# Results do not depend on the choice: -ffp-contract=off stops the compiler from fusing a*b+c into one FMA
# (GCC does so by default as soon as the ISA has FMA, and a fused product rounds once instead of twice), and
# nothing enables -ffast-math, so every build performs the same IEEE operations in the same order
# (docs/performance.md, "Build": a training run's losses and model.h5 compared between two builds bit for bit;
# tests/core/test_fp_contract.cpp fails if contraction is on).
include_guard(GLOBAL)
include(CheckCXXCompilerFlag)

set(TESSERA_ARCH "native" CACHE STRING "Instruction set of tessera's own code: native, none or a -march value")

if(TESSERA_ARCH STREQUAL "none")
  set(TESSERA_ARCH_FLAGS "")
elseif(TESSERA_ARCH MATCHES "^[A-Za-z0-9_.+-]+$")
  set(TESSERA_ARCH_FLAGS "-march=${TESSERA_ARCH}")
else()
  message(FATAL_ERROR "TESSERA_ARCH='${TESSERA_ARCH}': expected native, none or a -march value such as "
                      "x86-64-v3")
endif()

if(TESSERA_ARCH_FLAGS)
  # The flag is checked once per value (the result variable's name carries it).
  string(MAKE_C_IDENTIFIER "TESSERA_ARCH_SUPPORTED_${TESSERA_ARCH}" _tessera_arch_check)
  check_cxx_compiler_flag("${TESSERA_ARCH_FLAGS}" ${_tessera_arch_check})
  if(NOT ${_tessera_arch_check})
    message(FATAL_ERROR "TESSERA_ARCH='${TESSERA_ARCH}': ${CMAKE_CXX_COMPILER} rejects ${TESSERA_ARCH_FLAGS}; "
                        "use none or a -march value this compiler knows")
  endif()
endif()
message(STATUS "tessera: TESSERA_ARCH=${TESSERA_ARCH} (${TESSERA_ARCH_FLAGS} -ffp-contract=off)")

# tessera_arch_options(TARGET): the ISA flags and the no-contraction rule on one of tessera's own targets.
# PUBLIC within the build tree so the tests and benchmarks that instantiate the library's header-only kernels
# compile them as the library does; an installed tessera leaves its users' flags alone.
function(tessera_arch_options target)
  foreach(_flag IN LISTS TESSERA_ARCH_FLAGS ITEMS -ffp-contract=off)
    target_compile_options(${target} PUBLIC $<BUILD_INTERFACE:${_flag}>)
  endforeach()
endfunction()
