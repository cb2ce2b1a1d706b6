// Static load balance of the rank boxes (parallel.balance: cells): cut each axis where the cells split
// evenly over its boxes, a tensor product of per-axis quantiles, so the boxes stay a Cartesian grid and
// every halo and migration path works unchanged.
#pragma once

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/parallel/decomposition.hpp"

#include <mpi.h>

namespace tessera {

// Collective on comm. Per axis a the dims[a] - 1 cuts at which the cells' coordinates along a split into
// dims[a] groups of (nearly) equal count: each cut lies on the nearest edge of a histogram of equal bins over
// the domain (integer counts summed over the ranks, so the cuts are the same whatever the number of ranks
// holding the cells), then is pushed apart from its neighbours by whole bins so that every box is at least
// `min_width` wide. The bins are `bins` per axis, or with `grid` its voxels (the diffusible fields' grid:
// every cut then lies on a voxel face). An axis without cells, or too short for that width, keeps equal
// boxes (with `grid`, the voxel faces nearest them). `positions` holds this rank's cells (the first `n`
// rows).
BoxCuts balanced_box_cuts(MPI_Comm comm, const Domain& domain, const std::array<int, 3>& dims,
                          Kokkos::View<const double* [3], Kokkos::LayoutRight> positions, std::size_t n,
                          double min_width, const std::array<int, 3>* grid = nullptr, int bins = 4096);

} // namespace tessera
