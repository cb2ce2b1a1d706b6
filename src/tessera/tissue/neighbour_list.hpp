// Neighbour search (SPEC §4, issue "simulation" item 3): owned and ghost cells are binned into a uniform
// grid of cells at least `range` wide; each owned cell's neighbours within `range` form one CSR row.
#pragma once

#include "tessera/tissue/cells.hpp"

#include <Kokkos_Core.hpp>

#include <array>

namespace tessera {

// Pairs (i, j), i owned, j owned or ghost, j != i, |p_i - p_j| <= range (SPEC §2: a
// neighbour at exactly r_sig signals; mechanics forces vanish at their cutoff anyway). Each row is sorted by
// the neighbour's id (then position, for two periodic images of one cell), so any sum over a row is evaluated
// in the same order whatever the decomposition — forces and signals are then bitwise identical on any number
// of ranks.
struct NeighbourList {
  Kokkos::View<int*> offsets;    // n_owned + 1
  Kokkos::View<int*> neighbours; // rows into the cells' arrays
  std::size_t n_owned = 0;
  double range = 0;

  std::size_t n_pairs() const { return neighbours.extent(0); }
};

// Builds the list with a uniform grid over the bounding box of the owned and ghost cells, bins at least
// `range` wide and never more bins than about twice the cells (a sparse tissue in a large box stays O(N)
// in memory, whatever the box's size). O(N) work. `range` > 0.
class NeighbourSearch {
public:
  NeighbourList build(const Cells<>& cells, double range);

private:
  // Reused between steps so the search does not allocate every step.
  Kokkos::View<int*> bin_of_, bin_count_, bin_offset_, bin_cells_;
  // Positions copied in bin order: the candidate loop then reads contiguous memory instead of jumping
  // through the cells' arrays.
  Kokkos::View<double* [3], Kokkos::LayoutRight> bin_position_;
  Kokkos::View<int*> offsets_, neighbours_;
};

} // namespace tessera
