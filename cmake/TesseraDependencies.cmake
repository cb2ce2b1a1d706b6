# Finds every dependency of tessera (SPEC §7) and exposes each as an imported target.
# Debian 12's Kokkos (Trilinos 13.2, Serial only) ships a TriBITS-style package without the `Kokkos::kokkos`
# target and without include directories on its imported libraries; `tessera_kokkos` papers over that so the
# rest of the build links one target whether Kokkos came from Debian or from a standard (OpenMP/CUDA/HIP)
# install.
include_guard(GLOBAL)

find_package(MPI 3.0 REQUIRED COMPONENTS C CXX)

find_package(Kokkos REQUIRED)
if(NOT TARGET tessera_kokkos)
  add_library(tessera_kokkos INTERFACE)
  if(TARGET Kokkos::kokkos)
    # Kokkos::kokkos carries the backend's flags (OpenMP, nvcc_wrapper/CUDA, HIP): always link it.
    target_link_libraries(tessera_kokkos INTERFACE Kokkos::kokkos)
  else()
    # Older TriBITS installs export only the per-package libraries.
    target_link_libraries(tessera_kokkos INTERFACE ${Kokkos_LIBRARIES} ${CMAKE_DL_LIBS})
  endif()
  # Debian's Trilinos 13.2 package sets Kokkos::kokkos's include directory to <prefix>/include, computed one
  # level too high (/usr/lib/include), while the headers live in /usr/include/trilinos. Check that the
  # advertised directories really hold Kokkos_Core.hpp and add the right one when they do not.
  set(_tessera_kokkos_dirs "")
  if(TARGET Kokkos::kokkos)
    get_target_property(_tessera_kokkos_dirs Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  endif()
  set(_tessera_kokkos_ok FALSE)
  foreach(_dir IN LISTS _tessera_kokkos_dirs)
    if(EXISTS "${_dir}/Kokkos_Core.hpp")
      set(_tessera_kokkos_ok TRUE)
    endif()
  endforeach()
  if(NOT _tessera_kokkos_ok)
    find_path(TESSERA_KOKKOS_INCLUDE_DIR Kokkos_Core.hpp
              HINTS ${Kokkos_INCLUDE_DIRS} ${Kokkos_INSTALL_DIR}/include/trilinos /usr/include/trilinos
              PATH_SUFFIXES trilinos REQUIRED NO_CACHE)
    target_include_directories(tessera_kokkos SYSTEM INTERFACE ${TESSERA_KOKKOS_INCLUDE_DIR})
    message(STATUS "Kokkos: its package names no include directory holding Kokkos_Core.hpp; using "
                   "${TESSERA_KOKKOS_INCLUDE_DIR}")
  endif()
endif()

find_package(SUNDIALS 6.0 REQUIRED)
# SUNDIALS exports both shared and static variants; prefer shared, accept either.
foreach(_comp cvode cvodes nvecparallel)
  if(NOT TARGET tessera_sundials_${_comp})
    add_library(tessera_sundials_${_comp} INTERFACE)
    if(TARGET SUNDIALS::${_comp}_shared)
      target_link_libraries(tessera_sundials_${_comp} INTERFACE SUNDIALS::${_comp}_shared)
    elseif(TARGET SUNDIALS::${_comp}_static)
      target_link_libraries(tessera_sundials_${_comp} INTERFACE SUNDIALS::${_comp}_static)
    elseif(TARGET SUNDIALS::${_comp})
      target_link_libraries(tessera_sundials_${_comp} INTERFACE SUNDIALS::${_comp})
    else()
      message(FATAL_ERROR "SUNDIALS component '${_comp}' not found (need CVODE, CVODES and the MPI N_Vector)")
    endif()
  endif()
endforeach()

# Parallel HDF5 (C API). Collective writes from every rank need the MPI-IO driver; a serial HDF5 cannot do
# them, so it is rejected here rather than failing at the first run.
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "tessera needs a parallel (MPI) HDF5, but the HDF5 found (${HDF5_C_INCLUDE_DIRS}) is "
                      "serial. On Debian: apt-get install libhdf5-openmpi-dev")
endif()
if(NOT TARGET tessera_hdf5)
  add_library(tessera_hdf5 INTERFACE)
  target_include_directories(tessera_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(tessera_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(tessera_hdf5 INTERFACE ${HDF5_C_DEFINITIONS} H5_USE_110_API)
endif()

find_package(PkgConfig REQUIRED)
pkg_check_modules(PETSC REQUIRED IMPORTED_TARGET PETSc>=3.15)

find_package(yaml-cpp REQUIRED)
if(NOT TARGET tessera_yaml)
  add_library(tessera_yaml INTERFACE)
  if(TARGET yaml-cpp::yaml-cpp)
    target_link_libraries(tessera_yaml INTERFACE yaml-cpp::yaml-cpp)
  else()
    target_link_libraries(tessera_yaml INTERFACE yaml-cpp)
  endif()
endif()

find_path(RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)

find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
endif()

# Debian's default libblas is the reference implementation; name OpenBLAS explicitly.
find_library(OPENBLAS_LIBRARY NAMES openblas REQUIRED)
find_path(OPENBLAS_INCLUDE_DIR NAMES cblas.h cblas-openblas.h PATH_SUFFIXES openblas openblas-pthread REQUIRED)
