// Keeping cells that are close in space close in memory: owned cells are permuted into the row-major order
// of a grid of `bin_size` bins, so neighbour searches, forces and signal sums stream through cache instead
// of jumping across the arrays. Results do not change: every sum over neighbours runs in id order.
#pragma once

#include "tessera/tissue/cells.hpp"

namespace tessera {

// Not collective. Permutes the owned rows of every field; ghost rows are dropped.
void sort_cells_spatially(Cells<>& cells, double bin_size);

} // namespace tessera
